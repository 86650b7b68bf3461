// Handlers of the audit trail and reconciliation. They parse and validate on the I/O thread,
// then hand the read to the audit reader threads (audit_read_pool.h), which read on their own
// read-only connections (SQLite in WAL mode, or a READ ONLY REPEATABLE READ transaction on
// PostgreSQL: a consistent snapshot beside the writer, which they never block) and post the
// answer back to the connection's executor.
#include "audit/audit_reader.h"
#include "base/check.h"
#include "core/rules.h"
#include "http/admin_parsing.h"
#include "http/audit_read_pool.h"
#include "http/handlers.h"
#include "http/replies.h"
#include "http/store_reads.h"

namespace fs::http::handlers {

void Reconciliation(const ApiServices& services, Call& call) {
  std::string sku_id(call.match.params[0]);
  if (!core::IsValidSkuId(sku_id)) return call.exchange.respond(SkuNotFound());
  SubmitStoreRead(
      services, call.exchange,
      [sku_id = std::move(sku_id)](audit::AuditSource& source) -> base::Result<Response> {
        auto report = source.Reconcile(sku_id);
        if (!report && report.error().code() == base::StatusCode::kNotFound) {
          return SkuNotFound();
        }
        if (!report) return report.error();
        FS_CHECK(report->skus.size() == 1);
        return JsonResponse(200,
                            audit::RenderSkuReconciliation(report->skus.front(), report->audit));
      });
}

void AuditQuery(const ApiServices& services, Call& call) {
  auto query = ParseAuditQuery(call.request.target);
  if (!query) return call.exchange.respond(InvalidRequest(query.error()));
  SubmitStoreRead(
      services, call.exchange,
      [query = std::move(*query)](audit::AuditSource& source) -> base::Result<Response> {
        auto page = source.Query(query);
        if (!page) return page.error();
        return JsonResponse(200, audit::RenderAuditPage(*page));
      });
}

void AuditVerify(const ApiServices& services, Call& call) {
  SubmitStoreRead(services, call.exchange,
                  [&chain_valid = services.metrics.audit_chain_valid](
                      audit::AuditSource& source) -> base::Result<Response> {
                    auto report = source.Verify();
                    if (!report) return report.error();
                    // flashsale_audit_chain_valid: FlashsaleAuditChainBroken pages on 0.
                    chain_valid.Set(report->valid ? 1 : 0);
                    // A broken chain is still a successful verification: 200 with "valid": false.
                    return JsonResponse(200, audit::RenderVerifyReport(*report));
                  });
}

}  // namespace fs::http::handlers
