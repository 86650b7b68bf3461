#include "app/tools.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "audit/audit_reader.h"
#include "audit/audit_source.h"
#include "store/postgres/pg_store.h"

namespace fs::app {
namespace {

std::string DatabasePath(const ToolConfig& config) {
  return (std::filesystem::path(config.data_dir) / "flashsale.db").string();
}

// The cluster's PostgreSQL database when --store names one, else the SQLite file; the same
// AuditSource the admin endpoints read. Errors go to stderr (URL without its password).
base::Result<std::unique_ptr<audit::AuditSource>> OpenSource(const ToolConfig& config) {
  auto source = audit::OpenAuditSource(DatabasePath(config), config.store_url);
  if (!source) {
    const std::string where =
        config.store_url.empty() ? DatabasePath(config) : store::RedactedUrl(config.store_url);
    std::cerr << "flashsale: cannot read " << where << ": " << source.error().ToString() << "\n";
  }
  return source;
}

}  // namespace

int RunAuditVerify(const ToolConfig& config) {
  auto source = OpenSource(config);
  if (!source) return kExitRuntimeError;
  auto report = (*source)->Verify();
  if (!report) {
    std::cerr << "flashsale: audit verify: " << report.error().ToString() << "\n";
    return kExitRuntimeError;
  }
  std::cout << audit::RenderVerifyReport(*report) << std::endl;
  return report->valid ? 0 : kExitCheckFailed;
}

int RunAuditExport(const ToolConfig& config) {
  auto source = OpenSource(config);
  if (!source) return kExitRuntimeError;
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
  const base::Status status = (*source)->ForEachEvent([&](const core::AuditEvent& event) {
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
  auto source = OpenSource(config);
  if (!source) return kExitRuntimeError;
  std::optional<std::string> sku;
  if (!config.sku_id.empty()) sku = config.sku_id;
  auto report = (*source)->Reconcile(sku);
  if (!report) {
    std::cerr << "flashsale: reconcile: " << report.error().ToString() << "\n";
    return kExitRuntimeError;
  }
  std::cout << audit::RenderReconciliationTable(*report) << std::flush;
  return report->consistent() ? 0 : kExitCheckFailed;
}

}  // namespace fs::app
