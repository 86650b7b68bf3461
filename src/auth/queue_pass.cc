#include "auth/queue_pass.h"

#include <charconv>
#include <vector>

#include "auth/jwt.h"

namespace fs::auth {
namespace {

constexpr std::string_view kPrefix = "qp1.";
constexpr std::string_view kKeyLabel = "flashsale queue pass key v1";

std::string Payload(const core::QueueTicket& ticket) {
  std::string payload = ticket.sku_id;
  payload += '\n';
  payload += ticket.ticket_id;
  payload += '\n';
  payload += ticket.user_id;
  payload += '\n';
  payload += std::to_string(base::ToMillis(ticket.pass_expires_at.value_or(base::Time{})));
  return payload;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace

std::string QueuePassKey(std::string_view jwt_secret) { return HmacSha256(jwt_secret, kKeyLabel); }

std::string SignQueuePass(const core::QueueTicket& ticket, std::string_view key) {
  std::string signed_part(kPrefix);
  signed_part += Base64UrlEncode(Payload(ticket));
  const std::string mac = HmacSha256(key, signed_part);
  return signed_part + "." + Base64UrlEncode(mac);
}

core::PresentedPass VerifyQueuePass(std::string_view pass, std::string_view key) {
  core::PresentedPass out;
  out.kind = core::PresentedPass::Kind::kUnverifiable;
  if (pass.size() > kQueuePassBytesMax || pass.substr(0, kPrefix.size()) != kPrefix) return out;
  const std::size_t dot = pass.rfind('.');
  if (dot < kPrefix.size()) return out;
  const std::string_view signed_part = pass.substr(0, dot);
  // Compared as canonical text: a second spelling of the same bytes is not the pass.
  const std::string expected_mac = Base64UrlEncode(HmacSha256(key, signed_part));
  if (!ConstantTimeEquals(pass.substr(dot + 1), expected_mac)) return out;
  const std::string_view payload_text = signed_part.substr(kPrefix.size());
  const std::optional<std::string> payload = Base64UrlDecode(payload_text);
  if (!payload || Base64UrlEncode(*payload) != payload_text) return out;
  const std::vector<std::string_view> fields = Split(*payload, '\n');
  if (fields.size() != 4) return out;
  std::int64_t expires_ms = 0;
  const std::string_view ms = fields[3];
  const auto [end, error] = std::from_chars(ms.data(), ms.data() + ms.size(), expires_ms);
  if (error != std::errc() || end != ms.data() + ms.size()) return out;
  out.kind = core::PresentedPass::Kind::kSigned;
  out.sku_id = std::string(fields[0]);
  out.ticket_id = std::string(fields[1]);
  out.user_id = std::string(fields[2]);
  out.expires_at = base::TimeFromMillis(expires_ms);
  return out;
}

}  // namespace fs::auth
