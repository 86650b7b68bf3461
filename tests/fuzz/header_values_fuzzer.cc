// Goal: the single-valued request headers the API reads itself never crash their checks,
// and each check accepts exactly what its contract says. Idempotency-Key (and the body's
// idempotency_key): 1..kIdempotencyKeyBytesMax bytes of 0x21-0x7E, header and body agreeing.
// X-Request-Id: 1..kRequestIdBytesMax bytes of 0x21-0x7E, kept when valid and replaced by a
// valid one otherwise. Authorization: the bearer token, trimmed, never empty. The path's
// reservation id: plausible only when short and printable.
//
// Input: one header value; its two halves also serve as a header key and a body key.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/check.h"
#include "base/request_id.h"
#include "base/status.h"
#include "core/rules.h"
#include "http/request_parsing.h"

namespace fs::http {
namespace {

// The contract both ids share, written out independently of the code under test.
bool VisibleAscii(std::string_view text, std::size_t bytes_max) {
  if (text.empty() || text.size() > bytes_max) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x21 && byte <= 0x7E;
  });
}

void IdempotencyKey(std::string_view value) {
  const bool valid = VisibleAscii(value, core::kIdempotencyKeyBytesMax);
  const base::Status status = ValidateIdempotencyKey(value, "Idempotency-Key");
  FS_CHECK(status.ok() == valid);
  if (!status.ok()) FS_CHECK(status.code() == base::StatusCode::kInvalidArgument);
  // Header and body: either alone, or both when equal.
  const std::string_view header = value.substr(0, value.size() / 2);
  const std::optional<std::string> body(std::in_place, value.substr(value.size() / 2));
  const auto resolved = ResolveIdempotencyKey(header, body);
  const bool both_valid = VisibleAscii(header, core::kIdempotencyKeyBytesMax) &&
                          VisibleAscii(*body, core::kIdempotencyKeyBytesMax);
  FS_CHECK(resolved.has_value() == (both_valid && header == *body));
  if (resolved) FS_CHECK(*resolved == header);
  const auto header_only = ResolveIdempotencyKey(value, std::nullopt);
  FS_CHECK(header_only.has_value() == valid);
  if (header_only) FS_CHECK(*header_only == value);
  const auto neither = ResolveIdempotencyKey(std::nullopt, std::nullopt);
  FS_CHECK(neither.has_value() && neither->empty());
}

void RequestId(std::string_view value) {
  const bool valid = VisibleAscii(value, base::kRequestIdBytesMax);
  FS_CHECK(base::IsValidRequestId(value) == valid);
  const std::string id = base::RequestIdOf(value);
  if (valid) {
    FS_CHECK(id == value);
  } else {
    FS_CHECK(base::IsValidRequestId(id));
  }
}

void Authorization(std::string_view value) {
  const std::optional<std::string_view> token = BearerToken(value);
  if (!token) return;
  FS_CHECK(!token->empty());
  FS_CHECK(token->front() != ' ');
  FS_CHECK(token->back() != ' ');
  // A view into the header's bytes after the scheme.
  FS_CHECK(token->data() >= value.data() + 7);
  FS_CHECK(token->data() + token->size() <= value.data() + value.size());
}

void ReservationId(std::string_view value) {
  if (!IsPlausibleReservationId(value)) return;
  FS_CHECK(VisibleAscii(value, kReservationIdBytesMax));
}

}  // namespace
}  // namespace fs::http

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::http;
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  IdempotencyKey(value);
  RequestId(value);
  Authorization(value);
  ReservationId(value);
  return 0;
}
