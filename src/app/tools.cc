#include "app/tools.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "audit/audit_reader.h"

namespace fs::app {
namespace {

std::string DatabasePath(const ToolConfig& config) {
  return (std::filesystem::path(config.data_dir) / "flashsale.db").string();
}

base::Result<std::unique_ptr<audit::AuditReader>> OpenReader(const ToolConfig& config) {
  auto reader = audit::AuditReader::Open(DatabasePath(config));
  if (!reader) std::cerr << "flashsale: " << reader.error().ToString() << "\n";
  return reader;
}

}  // namespace

int RunAuditVerify(const ToolConfig& config) {
  auto reader = OpenReader(config);
  if (!reader) return kExitRuntimeError;
  auto report = (*reader)->Verify();
  if (!report) {
    std::cerr << "flashsale: audit verify: " << report.error().ToString() << "\n";
    return kExitRuntimeError;
  }
  std::cout << audit::RenderVerifyReport(*report) << std::endl;
  return report->valid ? 0 : kExitCheckFailed;
}

int RunAuditExport(const ToolConfig& config) {
  auto reader = OpenReader(config);
  if (!reader) return kExitRuntimeError;
  std::ofstream file;
  if (!config.output.empty()) {
    file.open(config.output, std::ios::out | std::ios::trunc);
    if (!file) {
      std::cerr << "flashsale: cannot write " << config.output << "\n";
      return kExitRuntimeError;
    }
  }
  std::ostream& out = config.output.empty() ? std::cout : file;
  std::int64_t count = 0;
  const base::Status status = (*reader)->ForEachEvent([&](const core::AuditEvent& event) {
    out << audit::RenderAuditEvent(event) << '\n';
    ++count;
    return out ? base::Status::Ok() : base::Internal("write failed");
  });
  out.flush();
  if (!status.ok() || !out) {
    std::cerr << "flashsale: audit export: "
              << (status.ok() ? std::string("write failed") : status.ToString()) << "\n";
    return kExitRuntimeError;
  }
  if (!config.output.empty()) {
    std::cerr << "flashsale: exported " << count << " audit events to " << config.output << "\n";
  }
  return 0;
}

int RunReconcile(const ToolConfig& config) {
  auto reader = OpenReader(config);
  if (!reader) return kExitRuntimeError;
  std::optional<std::string> sku;
  if (!config.sku_id.empty()) sku = config.sku_id;
  auto report = (*reader)->Reconcile(sku);
  if (!report) {
    std::cerr << "flashsale: reconcile: " << report.error().ToString() << "\n";
    return kExitRuntimeError;
  }
  std::cout << audit::RenderReconciliationTable(*report) << std::flush;
  return report->consistent() ? 0 : kExitCheckFailed;
}

}  // namespace fs::app
