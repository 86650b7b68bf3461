// FreePort: a TCP port on 127.0.0.1 that nothing listened on a moment ago (the kernel's pick
// for an ephemeral bind), for test servers that need their port before they start
// (PostgreSQL, HAProxy). Another process may take it before the server binds: callers retry.
// Thread-safety: safe from any thread.
#pragma once

#include <cstdint>

namespace fs::itest {

// 0 when no port could be had.
std::uint16_t FreePort();

}  // namespace fs::itest
