// flashsale: the server binary. All logic lives in fs_app_lib (config.h, app.h).
#include <iostream>

#include "app/admin_cli.h"
#include "app/app.h"
#include "app/config.h"
#include "app/tools.h"

int main(int argc, char** argv) {
  fs::app::CommandLine command_line = fs::app::ParseCommandLine(argc, argv);
  if (command_line.action == fs::app::CommandLine::Action::kExit) {
    std::cout << command_line.out;
    std::cerr << command_line.err;
    return command_line.exit_code;
  }
  using Action = fs::app::CommandLine::Action;
  switch (command_line.action) {
    case Action::kAuditVerify:
      return fs::app::RunAuditVerify(command_line.tool);
    case Action::kAuditExport:
      return fs::app::RunAuditExport(command_line.tool);
    case Action::kReconcile:
      return fs::app::RunReconcile(command_line.tool);
    case Action::kReport:
      return fs::app::RunReport(command_line.tool);
    case Action::kAdmin:
      return fs::app::RunAdmin(command_line.admin);
    case Action::kServe:
    case Action::kExit:
      break;
  }
  return fs::app::RunServer(std::move(command_line.config));
}
