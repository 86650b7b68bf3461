// Parsing of the audit and lifecycle admin requests: the stock adjustment body and the query
// string of GET /admin/v1/audit. Failures are InvalidArgument with a message safe to show the
// client (400 INVALID_REQUEST). Unknown query parameters are ignored, like unknown JSON fields.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/audit_reader.h"
#include "base/status.h"

namespace fs::http {

// {"delta": N}: a required integer, positive or negative, not 0.
base::Result<std::int64_t> ParseStockBody(std::string_view body);

// The query string of `target` (after '?') as name -> value, percent-decoded ('+' is a
// space). A repeated name or a malformed escape is refused.
base::Result<std::map<std::string, std::string>> ParseQueryString(std::string_view target);
// The same, every (name, value) pair in order, a name possibly repeated.
base::Result<std::vector<std::pair<std::string, std::string>>> ParseQueryPairs(
    std::string_view target);

// user_id, sku_id, from, to (RFC 3339), after_id (>= 0), limit (1..kAuditPageMax).
base::Result<audit::AuditQuery> ParseAuditQuery(std::string_view target);

}  // namespace fs::http
