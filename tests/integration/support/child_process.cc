#include "support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fs::itest {

::testing::AssertionResult SpawnChild(std::vector<std::string> args,
                                      const std::filesystem::path& log_path,
                                      const std::filesystem::path& working_dir, pid_t& pid) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string log = log_path.string();
  const std::string dir = working_dir.string();
  const pid_t parent_pid = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent_pid) ::_exit(126);
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log_fd >= 0) {
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
    }
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(125);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid = child;
  return ::testing::AssertionSuccess();
}

}  // namespace fs::itest
