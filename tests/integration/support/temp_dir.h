// MakeTempDir: a fresh directory for one test process (a server's data, a redis-server's
// files) under $TMPDIR (default /tmp), named <prefix>-XXXXXX. Aborts when none can be made.
// Thread-safety: safe from any thread (mkdtemp).
#pragma once

#include <filesystem>
#include <string_view>

namespace fs::itest {

std::filesystem::path MakeTempDir(std::string_view prefix);

}  // namespace fs::itest
