// Request ids (X-Request-Id): which values a client may give. A request id follows one request
// into the logs, the error body, the audit metadata and outbox events of its decisions, and the
// calls it causes (payment gateway, webhooks), so it must be safe in every one of those places:
// 1 to 128 visible ASCII characters (0x21-0x7E), never a space, a control character or a byte
// outside ASCII (which could split a header or a log line). Others are replaced by a generated
// id at the HTTP edge (http/server.cc).
// Thread-safety: IsValidRequestId is pure; RequestIdOf may be called from any thread (each has
// its own generator).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fs::base {

inline constexpr std::size_t kRequestIdBytesMax = 128;

// 1..kRequestIdBytesMax bytes, each in 0x21-0x7E.
bool IsValidRequestId(std::string_view text);

// The id of a request that sent `given` (its X-Request-Id, if any): `given` when valid, else a
// new random UUID (122 random bits: two requests of a log's lifetime never share one). Ids are
// for correlation, not secrets: a per-thread generator seeded from the OS is enough.
std::string RequestIdOf(std::optional<std::string_view> given);

}  // namespace fs::base
