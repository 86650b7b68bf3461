// RunFlashsale: runs the real flashsale binary (FLASHSALE_BINARY) once as a command-line tool,
// with exact arguments (no shell: words with spaces stay one argument) and a controlled
// environment, and returns its exit code, stdout and stderr. The FLASHSALE_* variables of the
// test process are not passed on; the child gets only those in `env`.
// Thread-safety: call from the test's main thread.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace fs::itest {

struct CliRun {
  int exit_code = -1;  // -1: did not exit normally (a crash, or killed at the deadline)
  std::string out;
  std::string err;
};

using CliEnv = std::vector<std::pair<std::string, std::string>>;

// The non-empty lines of a tool's output.
std::vector<std::string> OutputLines(const std::string& text);

// Runs `flashsale args...`; a run still going after `timeout` is killed (exit_code -1).
CliRun RunFlashsale(const std::vector<std::string>& args, const CliEnv& env = {},
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(60'000));

}  // namespace fs::itest
