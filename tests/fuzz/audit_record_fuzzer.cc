// Goal: the decoding of stored audit records never crashes and never lets a changed record
// pass. A record as the readers get it from SQLite or PostgreSQL: the event type and outcome
// (as numbers, or as names in older schemas), the hashes (32-byte BLOBs or 64 hex digits),
// the optional text columns and the metadata JSON. Properties: a known name or number decodes
// to the value that encodes back to it, and an unknown one is reported (never guessed); a hash
// converts between hex and bytes both ways unchanged; a chain made of decoded records verifies
// (core's verifier and the readers' ChainWalk agree), and the same chain with one byte of one
// record changed does not.
//
// Input: the record's text columns, one per line (type name, outcome name, user_id, sku_id,
// failure_reason, client_ip, device_fingerprint, metadata, hash hex; an empty or missing line
// is NULL); its first 8 bytes are also a stored number and an occurred_at.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_source.h"
#include "base/check.h"
#include "core/audit.h"
#include "crypto/sha256.h"

namespace fs::audit {
namespace {

constexpr std::size_t kColumns = 9;

std::vector<std::string> Columns(std::string_view bytes) {
  std::vector<std::string> columns;
  while (columns.size() < kColumns) {
    const std::size_t newline = bytes.find('\n');
    columns.emplace_back(bytes.substr(0, newline));
    bytes = newline == std::string_view::npos ? std::string_view() : bytes.substr(newline + 1);
  }
  return columns;
}

std::optional<std::string> Nullable(const std::string& column) {
  if (column.empty()) return std::nullopt;
  return column;
}

void Names(const std::string& type, const std::string& outcome) {
  core::AuditEvent event;
  const std::string unknown = DecodeEventNames(type, outcome, event);
  const auto known_type = core::AuditEventTypeFromName(type);
  const auto known_outcome = core::AuditOutcomeFromName(outcome);
  FS_CHECK(unknown.empty() == (known_type.has_value() && known_outcome.has_value()));
  if (known_type) {
    FS_CHECK(event.type == *known_type);
    FS_CHECK(core::AuditEventTypeName(event.type) == type);
  }
  if (known_outcome) {
    FS_CHECK(event.outcome == *known_outcome);
    FS_CHECK(core::AuditOutcomeName(event.outcome) == outcome);
  }
}

void Codes(std::int64_t code) {
  if (const auto type = core::AuditEventTypeFromCode(code)) {
    FS_CHECK(core::AuditEventTypeCode(*type) == code);
    FS_CHECK(core::AuditEventTypeFromName(core::AuditEventTypeName(*type)) == *type);
  }
  if (const auto outcome = core::AuditOutcomeFromCode(code)) {
    FS_CHECK(core::AuditOutcomeCode(*outcome) == code);
    FS_CHECK(core::AuditOutcomeFromName(core::AuditOutcomeName(*outcome)) == *outcome);
  }
}

void Hashes(const std::string& hex, std::string_view raw) {
  std::string bytes;
  if (core::AppendHashBytes(hex, bytes)) {
    FS_CHECK(bytes.size() == core::kHashBytes);
    FS_CHECK(core::HexOfBytes(bytes) == hex);
  } else {
    FS_CHECK(bytes.empty());
  }
  std::string digest(raw.substr(0, core::kHashBytes));
  digest.resize(core::kHashBytes, '\0');
  std::string back;
  FS_CHECK(core::AppendHashBytes(core::HexOfBytes(digest), back));
  FS_CHECK(back == digest);
}

// Two records from the columns, chained; both verifiers accept them, and reject a copy of the
// second with its metadata changed by one byte.
void Chain(const std::vector<std::string>& columns, std::int64_t occurred_at_ms) {
  core::AuditEvent event;
  const std::string unknown = DecodeEventNames(columns[0], columns[1], event);
  event.user_id = Nullable(columns[2]);
  event.sku_id = Nullable(columns[3]);
  event.failure_reason = Nullable(columns[4]);
  event.client_ip = Nullable(columns[5]);
  event.device_fingerprint = Nullable(columns[6]);
  event.metadata = columns[7];
  event.occurred_at = base::TimeFromMillis(occurred_at_ms);
  core::AuditEvent second = event;
  std::swap(second.user_id, second.sku_id);
  core::AuditHead head;
  head = core::ChainAfter(head, event, &crypto::Sha256Hex);
  head = core::ChainAfter(head, second, &crypto::Sha256Hex);
  // Length prefixes: the same record with two fields' contents swapped hashes other bytes.
  if (event.user_id != event.sku_id) {
    core::AuditEvent swapped = event;
    std::swap(swapped.user_id, swapped.sku_id);
    FS_CHECK(core::CanonicalEncoding(swapped) != core::CanonicalEncoding(event));
  }
  core::AuditChainVerifier verifier(&crypto::Sha256Hex);
  FS_CHECK(verifier.Next(event));
  FS_CHECK(verifier.Next(second));
  ChainWalk walk;
  FS_CHECK(walk.Next(event, unknown) == unknown.empty());
  if (unknown.empty()) {
    FS_CHECK(walk.Next(second, unknown));
    FS_CHECK(walk.Report().valid);
    FS_CHECK(walk.Report().events == 2);
  } else {
    FS_CHECK(!walk.Report().valid);
  }
  core::AuditEvent tampered = second;
  tampered.metadata += ' ';
  core::AuditChainVerifier tampered_verifier(&crypto::Sha256Hex);
  FS_CHECK(tampered_verifier.Next(event));
  FS_CHECK(!tampered_verifier.Next(tampered));
  FS_CHECK(tampered_verifier.broken_event_id() == 2);
}

}  // namespace
}  // namespace fs::audit

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::audit;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> columns = Columns(bytes);
  std::int64_t number = 0;
  std::memcpy(&number, bytes.data(), std::min(bytes.size(), sizeof number));
  Names(columns[0], columns[1]);
  Codes(number);
  Hashes(columns[8], bytes);
  Chain(columns, number);
  return 0;
}
