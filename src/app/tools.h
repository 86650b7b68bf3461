// The offline tools of the flashsale binary, run against a data directory on a read-only
// connection (safe while a server runs on it: WAL readers never block the writer):
//   flashsale audit verify --data-dir DIR   -> {"valid":true,"events":N,...}, exit 0; or the
//                                              first broken event, exit kExitCheckFailed
//   flashsale audit export --data-dir DIR [--output FILE]  -> JSON lines, one event each
//   flashsale reconcile --data-dir DIR [--sku SKU]         -> a table; exit kExitCheckFailed
//                                                             when anything does not add up
// Thread-safety: call from main only.
#pragma once

#include "app/config.h"

namespace fs::app {

// A check ran and found a problem (broken chain, mismatched books).
inline constexpr int kExitCheckFailed = 3;

int RunAuditVerify(const ToolConfig& config);
int RunAuditExport(const ToolConfig& config);
int RunReconcile(const ToolConfig& config);

}  // namespace fs::app
