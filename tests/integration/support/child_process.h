// SpawnChild: the one way the test servers (SMTP, Prometheus) start their process: fork and
// exec `args` with stdout and stderr appended to `log_path`, in `working_dir` when given, and
// SIGKILL for the child if the test process dies. The caller waits for readiness and reaps.
// Thread-safety: call from the test's main thread.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace fs::itest {

// The child's pid in `pid`; a failure when fork() failed (exec failures exit the child 127).
::testing::AssertionResult SpawnChild(std::vector<std::string> args,
                                      const std::filesystem::path& log_path,
                                      const std::filesystem::path& working_dir, pid_t& pid);

}  // namespace fs::itest
