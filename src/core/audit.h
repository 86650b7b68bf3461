// Audit events: the record of every decision (reserve attempts and their outcome, releases,
// expiries, admin actions), chained by hash so that a change to any stored event, a removed,
// inserted or reordered event is detectable. This file holds the event type, its canonical
// byte encoding (the input of the hash; docs/storage.md is its contract), and the pure chain
// walk used by verification. The hash function is injected (core links no crypto library):
// the engine and the audit tools pass crypto::Sha256Hex.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace fs::core {

// Stored as their numbers (the enumerator's value) in audit_events.event_type since schema 5;
// hashed as their names (CanonicalEncoding). Append-only: never renumber.
enum class AuditEventType : std::uint8_t {
  kReserveAttempt,
  kRelease,
  kExpiry,
  kCheckout,
  kPayment,
  kSaleCreated,
  kSaleOpened,
  kSaleClosed,
  kStockAdjusted,
  kBotDetected,  // the fairness layer moved an identity to the bot tier (not the writer)
  kSaleUpdated,  // an operator changed what buyers read about a sale (name, details)
};

// Stored as numbers in audit_events.outcome, hashed as names. kThrottled is for refusals by the
// fairness layer (rate limits) before the writer decides. Append-only.
enum class AuditOutcome : std::uint8_t { kSuccess, kFailed, kThrottled };

// 64 hex zeros: the previous hash of the first event.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";
// Bytes of a SHA-256 digest in lower-case hex.
inline constexpr std::size_t kHashHexBytes = 64;

struct AuditEvent {
  std::int64_t event_id = 0;  // 1, 2, 3, ... without gaps, in commit order
  AuditEventType type = AuditEventType::kReserveAttempt;
  std::optional<std::string> user_id;
  std::optional<std::string> sku_id;
  AuditOutcome outcome = AuditOutcome::kSuccess;
  std::optional<std::string> failure_reason;  // the error code of a refusal, e.g. "SOLD_OUT"
  base::Time occurred_at{};
  std::optional<std::string> client_ip;
  std::optional<std::string> device_fingerprint;
  std::string metadata = "{}";  // a JSON object, hashed byte for byte as stored
  std::string prev_hash;        // event_hash of event_id - 1, kGenesisHash for the first
  std::string event_hash;       // hash of CanonicalEncoding(*this)
};

// The last event of the chain: what the next append links to. id 0 = empty chain.
struct AuditHead {
  std::int64_t event_id = 0;
  std::string event_hash = std::string(kGenesisHash);
};

// Maps bytes to a lower-case hex digest of kHashHexBytes characters.
using AuditHasher = std::function<std::string(std::string_view)>;

std::string_view AuditEventTypeName(AuditEventType type);
std::optional<AuditEventType> AuditEventTypeFromName(std::string_view name);
std::string_view AuditOutcomeName(AuditOutcome outcome);
std::optional<AuditOutcome> AuditOutcomeFromName(std::string_view name);
// The stored numbers (schema 5): the enumerator's value; nullopt for a number no enumerator has.
inline std::int64_t AuditEventTypeCode(AuditEventType type) {
  return static_cast<std::int64_t>(type);
}
inline std::int64_t AuditOutcomeCode(AuditOutcome outcome) {
  return static_cast<std::int64_t>(outcome);
}
std::optional<AuditEventType> AuditEventTypeFromCode(std::int64_t code);
std::optional<AuditOutcome> AuditOutcomeFromCode(std::int64_t code);

// Bytes of a SHA-256 digest: how SQLite stores a hash since schema 5 (a 32-byte BLOB).
inline constexpr std::size_t kHashBytes = 32;
// The kHashBytes bytes a kHashHexBytes-character lower-case hex hash stands for, appended to
// `out`; false (and `out` unchanged) when `hex` is not such a hash.
bool AppendHashBytes(std::string_view hex, std::string& out);
// Lower-case hex of `bytes`, whatever their length: a stored hash that is not 32 bytes still
// shows as what it is (and then fails verification).
std::string HexOfBytes(std::string_view bytes);

// The bytes hashed for `event`: every field but event_hash, prev_hash last, in a fixed order,
// each as <decimal byte length>:<bytes>; and an absent optional as "~;". Length prefixes make
// it unambiguous (no field can be confused with its neighbour whatever bytes it holds).
// Documented in docs/storage.md ("Canonical encoding").
std::string CanonicalEncoding(const AuditEvent& event);
// The same bytes, appended to `out` (lets a caller reuse one buffer).
void AppendCanonicalEncoding(std::string& out, const AuditEvent& event);

// Builds the metadata JSON object of an event: keys in the order added, strings escaped.
class AuditMetadata {
 public:
  AuditMetadata& Add(std::string_view key, std::int64_t value);
  AuditMetadata& Add(std::string_view key, std::string_view value);
  std::string Build() const;

 private:
  // Bytes reserved at the first key: a reserve event's metadata (quantity and a reservation
  // id) is ~70 bytes.
  static constexpr std::size_t kReservedBytes = 96;
  void Key(std::string_view key);
  std::string text_;
};

// `text` as a JSON string literal (quotes, backslash and control characters escaped).
std::string JsonQuote(std::string_view text);
// The same, appended to `out`.
void AppendJsonQuoted(std::string& out, std::string_view text);

// Fills event_id, prev_hash and event_hash to append `event` after `head`; returns the new head.
AuditHead ChainAfter(const AuditHead& head, AuditEvent& event, const AuditHasher& hasher);

// Incremental verification of events in id order. Feed every stored event with Next(); the
// first problem is kept and later events are ignored.
class AuditChainVerifier {
 public:
  explicit AuditChainVerifier(AuditHasher hasher) : hasher_(std::move(hasher)) {}

  // False once the chain is broken (the first broken event is then recorded).
  bool Next(const AuditEvent& event);

  bool valid() const { return !broken_event_id_.has_value(); }
  std::int64_t events() const { return events_; }
  const AuditHead& head() const { return head_; }
  // The id of the first event that does not fit (as stored), and why.
  std::optional<std::int64_t> broken_event_id() const { return broken_event_id_; }
  const std::string& reason() const { return reason_; }

 private:
  AuditHasher hasher_;
  AuditHead head_;
  std::int64_t events_ = 0;
  std::optional<std::int64_t> broken_event_id_;
  std::string reason_;
};

}  // namespace fs::core
