// Parsing of the audit and lifecycle admin requests: the stock adjustment body and the query
// string of GET /admin/v1/audit. Failures are InvalidArgument with a message safe to show the
// client (400 INVALID_REQUEST). Unknown query parameters are ignored, like unknown JSON fields.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "audit/audit_reader.h"
#include "base/status.h"

namespace fs::http {

// {"delta": N}: a required integer, positive or negative, not 0.
base::Result<std::int64_t> ParseStockBody(std::string_view body);

// The query string of `target` (after '?') as name -> value, percent-decoded ('+' is a
// space). A repeated name or a malformed escape is refused.
base::Result<std::map<std::string, std::string>> ParseQueryString(std::string_view target);

// user_id, sku_id, from, to (RFC 3339), after_id (>= 0), limit (1..kAuditPageMax).
base::Result<audit::AuditQuery> ParseAuditQuery(std::string_view target);

// The device fingerprint of the audit trail: SHA-256 hex of
// "User-Agent|Accept-Language|client IP|X-Device-Id" (absent headers as empty strings).
std::string DeviceFingerprint(std::string_view user_agent, std::string_view accept_language,
                              std::string_view client_ip, std::string_view device_id);

}  // namespace fs::http
