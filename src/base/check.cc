#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace fs::base {

void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "FS_CHECK failed: %s at %s:%d\n", condition, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace fs::base
