#include "app/tools.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "audit/audit_reader.h"
#include "audit/audit_source.h"
#include "audit/sale_report.h"
#include "crypto/sha256.h"
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

// --sku: one sale, or nullopt for every sale.
std::optional<std::string> SkuFilter(const ToolConfig& config) {
  if (config.sku_id.empty()) return std::nullopt;
  return config.sku_id;
}

// Bytes read per step when hashing an exported file.
constexpr std::size_t kHashChunkBytes = 64 * 1024;

// The SHA-256 of the file as it is on disk (read back, so the manifest vouches for what was
// written, not for what was meant to be).
base::Result<std::string> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::Unavailable("cannot read " + path);
  crypto::Sha256 hash;
  std::string chunk(kHashChunkBytes, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash.Update(std::string_view(chunk.data(), static_cast<std::size_t>(in.gcount())));
  }
  if (in.bad()) return base::Unavailable("cannot read " + path);
  return crypto::ToHex(hash.Finish());
}

// {"file":..,"events":N,"sha256":..,"chain_head":{"id":..,"hash":..}}
std::string ExportManifest(const std::string& file, std::int64_t events, const std::string& sha256,
                           const core::AuditHead& head) {
  return "{\"file\":" + core::JsonQuote(file) + ",\"events\":" + std::to_string(events) +
         ",\"sha256\":" + core::JsonQuote(sha256) +
         ",\"chain_head\":{\"id\":" + std::to_string(head.event_id) +
         ",\"hash\":" + core::JsonQuote(head.event_hash) + "}}";
}

// The archive step of an export to a file: its manifest on stdout (--json) and/or in
// --manifest FILE.
int WriteExportManifest(const ToolConfig& config, std::int64_t events,
                        const core::AuditHead& head) {
  auto sha256 = FileSha256(config.output);
  if (!sha256) {
    std::cerr << "flashsale: audit export: " << sha256.error().message() << "\n";
    return kExitRuntimeError;
  }
  const std::string manifest = ExportManifest(config.output, events, *sha256, head);
  if (config.format == OutputFormat::kJson) std::cout << manifest << std::endl;
  if (config.manifest.empty()) return 0;
  std::ofstream file(config.manifest, std::ios::out | std::ios::trunc);
  file << manifest << '\n';
  file.flush();
  if (!file) {
    std::cerr << "flashsale: cannot write " << config.manifest << "\n";
    return kExitRuntimeError;
  }
  return 0;
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
  core::AuditHead head;  // of the events written
  const base::Status status = (*source)->ForEachEvent([&](const core::AuditEvent& event) {
    out << audit::RenderAuditEvent(event) << '\n';
    ++count;
    head = {event.event_id, event.event_hash};
    return out ? base::Status::Ok() : base::Internal("write failed");
  });
  out.flush();
  if (!status.ok() || !out) {
    std::cerr << "flashsale: audit export: "
              << (status.ok() ? std::string("write failed") : status.ToString()) << "\n";
    return kExitRuntimeError;
  }
  if (!config.output.empty()) {
    file.close();
    std::cerr << "flashsale: exported " << count << " audit events to " << config.output << "\n";
    if (config.format == OutputFormat::kJson || !config.manifest.empty()) {
      return WriteExportManifest(config, count, head);
    }
  }
  return 0;
}

int RunReconcile(const ToolConfig& config) {
  auto source = OpenSource(config);
  if (!source) return kExitRuntimeError;
  const std::optional<std::string> sku = SkuFilter(config);
  auto report = (*source)->Reconcile(sku);
  if (!report) {
    std::cerr << "flashsale: reconcile: " << report.error().ToString() << "\n";
    return kExitRuntimeError;
  }
  if (config.format == OutputFormat::kJson) {
    std::cout << audit::RenderReconciliationJson(*report) << std::endl;
  } else {
    std::cout << audit::RenderReconciliationTable(*report) << std::flush;
  }
  return report->consistent() ? 0 : kExitCheckFailed;
}

int RunReport(const ToolConfig& config) {
  auto source = OpenSource(config);
  if (!source) return kExitRuntimeError;
  const std::optional<std::string> sku = SkuFilter(config);
  // Three reads, each its own snapshot: a report is made after the sale, when nothing moves.
  auto books = (*source)->Reconcile(sku);
  if (!books) {
    std::cerr << "flashsale: report: " << books.error().ToString() << "\n";
    return kExitRuntimeError;
  }
  auto orders = (*source)->ReadOrderTotals(sku);
  if (!orders) {
    std::cerr << "flashsale: report: " << orders.error().ToString() << "\n";
    return kExitRuntimeError;
  }
  audit::SaleReportTally tally(sku);
  const base::Status status = (*source)->ForEachEvent([&tally](const core::AuditEvent& event) {
    tally.Add(event);
    return base::Status::Ok();
  });
  if (!status.ok()) {
    std::cerr << "flashsale: report: " << status.ToString() << "\n";
    return kExitRuntimeError;
  }
  audit::SaleReport report;
  audit::AddBooks(*books, *orders, report);
  tally.Finish(report);
  if (config.format == OutputFormat::kJson) {
    std::cout << audit::RenderSaleReportJson(report) << std::endl;
  } else {
    std::cout << audit::RenderSaleReportText(report) << std::flush;
  }
  return report.audit.valid ? 0 : kExitCheckFailed;
}

}  // namespace fs::app
