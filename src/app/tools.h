// The offline tools of the flashsale binary, run on a read-only connection to the system of
// record: the SQLite file of a data directory (safe while a server runs on it: WAL readers
// never block the writer) or, with --store postgres://..., a cluster's PostgreSQL database
// (one READ ONLY REPEATABLE READ snapshot per run, no lock a node waits on):
//   flashsale audit verify --data-dir DIR   -> {"valid":true,"events":N,...}, exit 0; or the
//                                              first broken event, exit kExitCheckFailed
//   flashsale audit export --data-dir DIR [--output FILE]  -> JSON lines, one event each;
//     with --output, --json prints and --manifest FILE writes the manifest
//     {"file":..,"events":N,"sha256":..,"chain_head":{"id":..,"hash":..}} (sha256 of the file)
//   flashsale reconcile --data-dir DIR [--sku SKU] [--json] -> a table (or JSON); exit
//                                                             kExitCheckFailed when anything
//                                                             does not add up
//   flashsale report --data-dir DIR [--sku SKU] [--json]    -> the post-event report
//                                                             (audit/sale_report.h); exit
//                                                             kExitCheckFailed when the audit
//                                                             chain is broken
// Each also takes --store URL instead of --data-dir. A source that cannot be read: a message on
// stderr, exit kExitRuntimeError.
// Thread-safety: call from main only.
#pragma once

#include "app/config.h"

namespace fs::app {

// A check ran and found a problem (broken chain, mismatched books).
inline constexpr int kExitCheckFailed = 3;

int RunAuditVerify(const ToolConfig& config);
int RunAuditExport(const ToolConfig& config);
int RunReconcile(const ToolConfig& config);
int RunReport(const ToolConfig& config);

}  // namespace fs::app
