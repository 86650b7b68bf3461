// flashsale: the server binary. All logic lives in fs_app_lib (config.h, app.h).
#include <iostream>

#include "app/app.h"
#include "app/config.h"

int main(int argc, char** argv) {
  fs::app::CommandLine command_line = fs::app::ParseCommandLine(argc, argv);
  if (command_line.action == fs::app::CommandLine::Action::kExit) {
    std::cout << command_line.out;
    std::cerr << command_line.err;
    return command_line.exit_code;
  }
  return fs::app::RunServer(std::move(command_line.config));
}
