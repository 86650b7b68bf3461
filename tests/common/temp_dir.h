// MakeTempDir: a fresh directory for one test or test server (a database, a server's data,
// a redis-server's files) under $TMPDIR (default /tmp), named <prefix>-XXXXXX. Shared by the
// unit tests (through TempDatabaseTest, common/temp_database_test.h) and the integration
// support. The caller removes the directory.
// Thread-safety: safe from any thread (mkdtemp).
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace fs::test_common {

// The directory made, or kInternal naming why none could be made.
inline base::Result<std::filesystem::path> MakeTempDir(std::string_view prefix) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/" +
                        std::string(prefix) + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return base::Internal("mkdtemp " + pattern + " failed: " + std::strerror(errno));
  }
  return std::filesystem::path(buffer.data());
}

// For constructors, which cannot return the error: aborts with it instead.
inline std::filesystem::path MakeTempDirOrAbort(std::string_view prefix) {
  base::Result<std::filesystem::path> made = MakeTempDir(prefix);
  if (!made) {
    std::cerr << made.error().ToString() << "\n";
    std::abort();
  }
  return std::move(made).value();
}

}  // namespace fs::test_common
