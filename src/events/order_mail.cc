#include "events/order_mail.h"

#include <openssl/evp.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <ctime>
#include <vector>

#include "base/email_address.h"
#include "base/escape.h"
#include "base/utf8.h"

namespace fs::events {
namespace {

constexpr char kCrlf[] = "\r\n";

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// The body as base64 in lines of 76 characters (RFC 2045).
std::string Base64Lines(std::string_view text) {
  const std::string encoded = Base64(text);
  constexpr std::size_t kLineChars = 76;
  std::string out;
  for (std::size_t at = 0; at < encoded.size(); at += kLineChars) {
    out += encoded.substr(at, kLineChars);
    out += kCrlf;
  }
  return out;
}

bool IsPrintableAscii(std::string_view text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// A Subject value: as it is when printable ASCII, else RFC 2047 encoded words of whole UTF-8
// characters (at most 45 bytes each, so a word stays under 75 characters), folded. Never a
// raw CR or LF: nothing in a sale name can add a header.
std::string SubjectValue(std::string_view text) {
  if (IsPrintableAscii(text)) return std::string(text);
  std::string out;
  constexpr std::size_t kWordBytesMax = 45;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + kWordBytesMax);
    // Back off to a character boundary (never split a UTF-8 sequence across words).
    while (end < text.size() && end > start + 1 &&
           (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(text.substr(start, end - start)) + "?=";
    start = end;
  }
  return out;
}

// RFC 5322 date-time in UTC: "Mon, 07 Dec 2026 15:18:55 +0000".
std::string MailDate(core::Time when) {
  const std::time_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  const std::size_t length =
      std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  return std::string(buffer, length);
}

std::string Amount(std::int64_t cents, std::string_view currency) {
  std::string fraction = std::to_string(cents % 100);
  if (fraction.size() < 2) fraction.insert(0, "0");
  return std::to_string(cents / 100) + "." + fraction + " " + std::string(currency);
}

std::string StringField(const rapidjson::Value& payload, const char* name) {
  auto member = payload.FindMember(name);
  if (member == payload.MemberEnd() || !member->value.IsString()) return {};
  return {member->value.GetString(), member->value.GetStringLength()};
}

std::int64_t IntField(const rapidjson::Value& payload, const char* name) {
  auto member = payload.FindMember(name);
  if (member == payload.MemberEnd() || !member->value.IsInt64()) return 0;
  return member->value.GetInt64();
}

// Text from the payload is UTF-8 already (the engine validated it); anything else is dropped
// rather than mailed as mojibake.
std::string Printable(std::string text) {
  if (!base::IsValidUtf8(text)) return "(unreadable)";
  for (char& c : text) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  }
  return text;
}

// The event id with every byte but letters, digits, '-', '_' and '.' as "=XX": safe in a
// Message-ID and in a header value.
std::string EscapedEventId(std::string_view event_id) { return base::EscapeBytes(event_id, '='); }

}  // namespace

std::string MessageIdOf(std::string_view event_id, std::string_view from) {
  std::string out = "<" + EscapedEventId(event_id);
  const std::size_t at = from.rfind('@');
  out += '@';
  out += at == std::string_view::npos ? std::string_view("flashsale.invalid") : from.substr(at + 1);
  out += '>';
  return out;
}

std::optional<OrderMail> RenderOrderMail(const core::OutboxEvent& event, std::string_view from) {
  const bool confirmed = event.type == core::event_type::kOrderConfirmed;
  if (!confirmed && event.type != core::event_type::kOrderFailed) return std::nullopt;
  rapidjson::Document payload;
  payload.Parse(event.payload_json.data(), event.payload_json.size());
  if (payload.HasParseError() || !payload.IsObject()) return std::nullopt;
  OrderMail mail;
  mail.recipient = StringField(payload, "buyer_email");
  if (!base::IsValidEmailAddress(mail.recipient)) return std::nullopt;

  const std::string sale = Printable(StringField(payload, "sale_name"));
  const std::string order_id = Printable(StringField(payload, "order_id"));
  const std::int64_t units = IntField(payload, "quantity");
  const std::string amount =
      Amount(IntField(payload, "amount_cents"), Printable(StringField(payload, "currency")));
  std::string subject;
  std::string text = "Hello,\r\n\r\n";
  if (confirmed) {
    subject = "Your order for " + sale + " is confirmed";
    text += "your order is confirmed and paid.\r\n\r\n";
  } else {
    std::string reason = Printable(StringField(payload, "failure_reason"));
    if (reason.empty()) reason = "the payment was declined";
    subject = "Your order for " + sale + " could not be paid";
    text += "your order could not be paid (" + reason + "). Nothing was charged, and the " +
            std::to_string(units) + (units == 1 ? " unit" : " units") +
            " you reserved went back to stock.\r\n\r\n";
  }
  text += "  Sale:     " + sale + "\r\n";
  text += "  Units:    " + std::to_string(units) + "\r\n";
  text += "  Amount:   " + amount + "\r\n";
  text += "  Order id: " + order_id + "\r\n";
  text += confirmed ? "\r\nThank you for your purchase.\r\n" : "";

  std::string& m = mail.message;
  m += "From: <" + std::string(from) + ">" + kCrlf;
  m += "To: <" + mail.recipient + ">" + kCrlf;
  m += "Subject: " + SubjectValue(subject) + kCrlf;
  m += "Date: " + MailDate(event.occurred_at) + kCrlf;
  m += "Message-ID: " + MessageIdOf(event.event_id, from) + kCrlf;
  m += "X-Flashsale-Event-Id: " + EscapedEventId(event.event_id) + kCrlf;
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n";
  m += "Content-Transfer-Encoding: base64\r\n";
  m += kCrlf;
  m += Base64Lines(text);
  return mail;
}

}  // namespace fs::events
