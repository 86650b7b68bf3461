// FS_CHECK: invariants that must hold in every build (oversell, wrong thread, sequence gaps).
// A failed check prints the condition and aborts: continuing could sell a unit twice.
// FS_DCHECK is for expensive checks and is compiled out of release builds.
// Thread-safety: usable from any thread.
#pragma once

namespace fs::base {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace fs::base

#define FS_CHECK(condition)                                    \
  do {                                                         \
    if (!(condition)) [[unlikely]] {                           \
      ::fs::base::CheckFailed(#condition, __FILE__, __LINE__); \
    }                                                          \
  } while (false)

#ifdef NDEBUG
#define FS_DCHECK(condition) \
  do {                       \
  } while (false && (condition))
#else
#define FS_DCHECK(condition) FS_CHECK(condition)
#endif
