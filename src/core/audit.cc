#include "core/audit.h"

#include <array>
#include <charconv>
#include <utility>

namespace fs::core {
namespace {

constexpr std::array<std::pair<AuditEventType, std::string_view>, 11> kTypeNames = {{
    {AuditEventType::kReserveAttempt, "RESERVE_ATTEMPT"},
    {AuditEventType::kRelease, "RELEASE"},
    {AuditEventType::kExpiry, "EXPIRY"},
    {AuditEventType::kCheckout, "CHECKOUT"},
    {AuditEventType::kPayment, "PAYMENT"},
    {AuditEventType::kSaleCreated, "SALE_CREATED"},
    {AuditEventType::kSaleOpened, "SALE_OPENED"},
    {AuditEventType::kSaleClosed, "SALE_CLOSED"},
    {AuditEventType::kStockAdjusted, "STOCK_ADJUSTED"},
    {AuditEventType::kBotDetected, "BOT_DETECTED"},
    {AuditEventType::kSaleUpdated, "SALE_UPDATED"},
}};

constexpr std::array<std::pair<AuditOutcome, std::string_view>, 3> kOutcomeNames = {{
    {AuditOutcome::kSuccess, "SUCCESS"},
    {AuditOutcome::kFailed, "FAILED"},
    {AuditOutcome::kThrottled, "THROTTLED"},
}};

void AppendField(std::string& out, std::string_view value) {
  std::array<char, 24> digits{};
  const auto length = std::to_chars(digits.data(), digits.data() + digits.size(), value.size());
  out.append(digits.data(), length.ptr);
  out += ':';
  out += value;
  out += ';';
}

void AppendOptional(std::string& out, const std::optional<std::string>& value) {
  if (value) {
    AppendField(out, *value);
  } else {
    out += "~;";
  }
}

}  // namespace

std::string_view AuditEventTypeName(AuditEventType type) {
  for (const auto& [value, name] : kTypeNames) {
    if (value == type) return name;
  }
  return "UNKNOWN";
}

std::optional<AuditEventType> AuditEventTypeFromName(std::string_view name) {
  for (const auto& [value, known] : kTypeNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

std::string_view AuditOutcomeName(AuditOutcome outcome) {
  for (const auto& [value, name] : kOutcomeNames) {
    if (value == outcome) return name;
  }
  return "UNKNOWN";
}

std::optional<AuditOutcome> AuditOutcomeFromName(std::string_view name) {
  for (const auto& [value, known] : kOutcomeNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

std::optional<AuditEventType> AuditEventTypeFromCode(std::int64_t code) {
  for (const auto& [value, name] : kTypeNames) {
    if (AuditEventTypeCode(value) == code) return value;
  }
  return std::nullopt;
}

std::optional<AuditOutcome> AuditOutcomeFromCode(std::int64_t code) {
  for (const auto& [value, name] : kOutcomeNames) {
    if (AuditOutcomeCode(value) == code) return value;
  }
  return std::nullopt;
}

namespace {

// -1 for every byte but a lower-case hex digit (the writer converts two hashes per event).
constexpr std::array<std::int8_t, 256> kHexDigitValues = [] {
  std::array<std::int8_t, 256> values{};
  for (auto& value : values) value = -1;
  for (int c = '0'; c <= '9'; ++c) {
    values[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - '0');
  }
  for (int c = 'a'; c <= 'f'; ++c) {
    values[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'a' + 10);
  }
  return values;
}();

int HexDigitValue(char c) { return kHexDigitValues[static_cast<unsigned char>(c)]; }

}  // namespace

bool AppendHashBytes(std::string_view hex, std::string& out) {
  if (hex.size() != kHashHexBytes) return false;
  std::array<char, kHashBytes> bytes{};
  for (std::size_t i = 0; i < kHashBytes; ++i) {
    const int high = HexDigitValue(hex[2 * i]);
    const int low = HexDigitValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    bytes[i] = static_cast<char>((high << 4) | low);
  }
  out.append(bytes.data(), bytes.size());
  return true;
}

std::string HexOfBytes(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    hex[2 * i] = kDigits[byte >> 4];
    hex[2 * i + 1] = kDigits[byte & 0x0f];
  }
  return hex;
}

std::string JsonQuote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendJsonQuoted(out, text);
  return out;
}

void AppendJsonQuoted(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  // Runs of characters that need no escape (ids, codes: nearly everything) go in one append.
  std::size_t run_begin = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c != '"' && c != '\\' && byte >= 0x20) continue;
    out.append(text.data() + run_begin, i - run_begin);
    run_begin = i + 1;
    if (byte >= 0x20) {
      out += '\\';
      out += c;
    } else {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  out.append(text.data() + run_begin, text.size() - run_begin);
  out += '"';
}

void AuditMetadata::Key(std::string_view key) {
  // Most events' metadata fits: one allocation per event instead of one per growth.
  if (text_.empty()) text_.reserve(kReservedBytes);
  if (!text_.empty()) text_ += ',';
  AppendJsonQuoted(text_, key);
  text_ += ':';
}

std::string AuditMetadata::Build() const {
  std::string out;
  out.reserve(text_.size() + 2);
  out += '{';
  out += text_;
  out += '}';
  return out;
}

AuditMetadata& AuditMetadata::Add(std::string_view key, std::int64_t value) {
  Key(key);
  text_ += std::to_string(value);
  return *this;
}

AuditMetadata& AuditMetadata::Add(std::string_view key, std::string_view value) {
  Key(key);
  AppendJsonQuoted(text_, value);
  return *this;
}

std::string CanonicalEncoding(const AuditEvent& event) {
  std::string out;
  AppendCanonicalEncoding(out, event);
  return out;
}

void AppendCanonicalEncoding(std::string& out, const AuditEvent& event) {
  out.reserve(out.size() + 256 + event.metadata.size());
  out += "flashsale-audit-v1;";
  AppendField(out, std::to_string(event.event_id));
  AppendField(out, AuditEventTypeName(event.type));
  AppendOptional(out, event.user_id);
  AppendOptional(out, event.sku_id);
  AppendField(out, AuditOutcomeName(event.outcome));
  AppendOptional(out, event.failure_reason);
  AppendField(out, std::to_string(base::ToMillis(event.occurred_at)));
  AppendOptional(out, event.client_ip);
  AppendOptional(out, event.device_fingerprint);
  AppendField(out, event.metadata);
  AppendField(out, event.prev_hash);
}

namespace {

// The hash of `event`'s encoding, built in a buffer each thread reuses: the writer hashes
// every event, and a fresh ~300-byte string per event is an allocation it need not make.
std::string HashOf(const AuditEvent& event, const AuditHasher& hasher) {
  thread_local std::string encoding;
  encoding.clear();
  AppendCanonicalEncoding(encoding, event);
  return hasher(encoding);
}

}  // namespace

AuditHead ChainAfter(const AuditHead& head, AuditEvent& event, const AuditHasher& hasher) {
  event.event_id = head.event_id + 1;
  event.prev_hash = head.event_hash;
  event.event_hash = HashOf(event, hasher);
  return AuditHead{event.event_id, event.event_hash};
}

bool AuditChainVerifier::Next(const AuditEvent& event) {
  if (broken_event_id_) return false;
  auto fail = [&](std::string reason) {
    broken_event_id_ = event.event_id;
    reason_ = std::move(reason);
    return false;
  };
  // A deleted event leaves a gap, an inserted one a duplicate or a skipped id, swapped rows
  // (contents exchanged) break the previous-hash links: each shows up as one of these.
  if (event.event_id != head_.event_id + 1) {
    return fail("expected event id " + std::to_string(head_.event_id + 1) + ", found " +
                std::to_string(event.event_id));
  }
  if (event.prev_hash != head_.event_hash) {
    return fail("prev_hash does not match the hash of event " + std::to_string(head_.event_id));
  }
  if (event.event_hash != HashOf(event, hasher_)) {
    return fail("event_hash does not match the event's contents");
  }
  head_ = AuditHead{event.event_id, event.event_hash};
  ++events_;
  return true;
}

}  // namespace fs::core
