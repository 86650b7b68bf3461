#include "auth/jwt.h"

#include <openssl/crypto.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>

#include "base/check.h"
#include "base/email_address.h"
#include "base/utf8.h"
#include "core/rules.h"
#include "json/small_document.h"

namespace fs::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// base64url character -> 6-bit value, or -1.
// Each byte's 6-bit value, or kNotBase64Url.
constexpr std::uint8_t kNotBase64Url = 0xFF;
constexpr std::array<std::uint8_t, 256> kDecodeTable = [] {
  std::array<std::uint8_t, 256> table{};
  table.fill(kNotBase64Url);
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  return table;
}();

// A token part: base64url of a JSON object. Parsed into `into`; false when malformed.
using PartDocument = json::SmallDocument<>;
bool ParseObject(std::string_view part, PartDocument& into) {
  auto json = Base64UrlDecode(part);
  if (!json) return false;
  const auto& document = into.Parse(*json);
  return !document.HasParseError() && document.IsObject();
}

// The subject becomes the user id of every row and audit event the user causes: it must be
// text a database column, a JSON string and a log line take as it is.
bool ValidSubject(const std::string& subject) {
  if (subject.empty() || subject.size() > core::kUserIdBytesMax) return false;
  return base::IsPrintableUtf8(subject);
}

// `exp` (required), `nbf` and `iat` (optional): integers of seconds in the int64 range, so a
// huge or fractional value is refused rather than cast. The leeway applies to nbf and iat.
JwtError CheckTimes(const rapidjson::Value& payload, base::Time now, const VerifyOptions& options) {
  const std::int64_t now_seconds = base::ToMillis(now) / 1000;
  const auto exp = payload.FindMember("exp");
  if (exp == payload.MemberEnd() || !exp->value.IsInt64()) return JwtError::kMissingExpiry;
  if (exp->value.GetInt64() <= now_seconds) return JwtError::kExpired;
  const std::int64_t latest = now_seconds + options.leeway.count();
  for (const char* name : {"nbf", "iat"}) {
    const auto claim = payload.FindMember(name);
    if (claim == payload.MemberEnd()) continue;
    if (!claim->value.IsInt64()) return JwtError::kMalformed;
    if (claim->value.GetInt64() > latest) return JwtError::kNotYetValid;
  }
  return JwtError::kOk;
}

JwtError CheckIssuerAndAudience(const rapidjson::Value& payload, const VerifyOptions& options) {
  const auto text_equals = [](const rapidjson::Value& value, const std::string& expected) {
    return value.IsString() &&
           std::string_view(value.GetString(), value.GetStringLength()) == expected;
  };
  if (!options.issuer.empty()) {
    const auto iss = payload.FindMember("iss");
    if (iss == payload.MemberEnd() || !text_equals(iss->value, options.issuer)) {
      return JwtError::kWrongIssuer;
    }
  }
  if (!options.audience.empty()) {
    const auto aud = payload.FindMember("aud");
    if (aud == payload.MemberEnd()) return JwtError::kWrongAudience;
    bool named = text_equals(aud->value, options.audience);
    if (aud->value.IsArray()) {
      for (const auto& entry : aud->value.GetArray()) {
        named = named || text_equals(entry, options.audience);
      }
    }
    if (!named) return JwtError::kWrongAudience;
  }
  return JwtError::kOk;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  // Every request decodes its JWT's three parts: one sized string, no per-byte append.
  std::string out(text.size() * 3 / 4, '\0');
  std::size_t length = 0;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const std::uint8_t v = kDecodeTable[static_cast<unsigned char>(c)];
    if (v == kNotBase64Url) return std::nullopt;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[length++] = static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  // Canonical only: the bits left over after the last whole byte must be zero, so every
  // byte string has exactly one encoding (a signature cannot be varied without a new MAC).
  if ((buffer & ((1U << bits) - 1U)) != 0) return std::nullopt;
  out.resize(length);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  const auto mac = crypto::HmacSha256Key(key).Sign(data);
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

VerifyResult JwtVerifier::Verify(std::string_view token, base::Time now) const {
  VerifyResult result;
  if (token.empty() || token.size() > kTokenBytesMax) return result;
  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return result;
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return result;
  PartDocument header_json;
  if (!ParseObject(token.substr(0, dot1), header_json)) return result;
  const auto& header = header_json.document();
  auto alg = header.FindMember("alg");
  if (alg == header.MemberEnd() || !alg->value.IsString() ||
      std::string_view(alg->value.GetString(), alg->value.GetStringLength()) != "HS256") {
    result.error = JwtError::kUnsupportedAlgorithm;
    return result;
  }
  const auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!signature) return result;
  const auto mac = key_.Sign(token.substr(0, dot2));
  const std::string_view expected(reinterpret_cast<const char*>(mac.data()), mac.size());
  if (!ConstantTimeEquals(*signature, expected)) {
    result.error = JwtError::kBadSignature;
    return result;
  }
  PartDocument payload_json;
  if (!ParseObject(token.substr(dot1 + 1, dot2 - dot1 - 1), payload_json)) return result;
  const auto* payload = &payload_json.document();
  result.error = CheckTimes(*payload, now, options_);
  if (result.error != JwtError::kOk) return result;
  result.error = CheckIssuerAndAudience(*payload, options_);
  if (result.error != JwtError::kOk) return result;
  auto sub = payload->FindMember("sub");
  if (sub == payload->MemberEnd() || !sub->value.IsString()) {
    result.error = JwtError::kInvalidSubject;
    return result;
  }
  result.claims.subject.assign(sub->value.GetString(), sub->value.GetStringLength());
  if (!ValidSubject(result.claims.subject)) {
    result.error = JwtError::kInvalidSubject;
    return result;
  }
  result.claims.expires_at_seconds = payload->FindMember("exp")->value.GetInt64();
  auto tier = payload->FindMember("tier");
  if (tier != payload->MemberEnd() && tier->value.IsString())
    result.claims.tier.assign(tier->value.GetString(), tier->value.GetStringLength());
  auto email = payload->FindMember("email");
  if (email != payload->MemberEnd() && email->value.IsString()) {
    const std::string_view address(email->value.GetString(), email->value.GetStringLength());
    if (base::IsValidEmailAddress(address)) result.claims.email.assign(address);
  }
  result.error = JwtError::kOk;
  return result;
}

VerifyResult VerifyHs256(std::string_view token, std::string_view secret, base::Time now) {
  return JwtVerifier(secret).Verify(token, now);
}

std::string JwtSigner::Sign(const Claims& claims) const {
  // The header never changes: encode it once.
  static const std::string kEncodedHeader = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("sub");
  writer.String(claims.subject.data(), static_cast<rapidjson::SizeType>(claims.subject.size()));
  writer.Key("exp");
  writer.Int64(claims.expires_at_seconds);
  if (!claims.tier.empty()) {
    writer.Key("tier");
    writer.String(claims.tier.data(), static_cast<rapidjson::SizeType>(claims.tier.size()));
  }
  if (!claims.email.empty()) {
    writer.Key("email");
    writer.String(claims.email.data(), static_cast<rapidjson::SizeType>(claims.email.size()));
  }
  writer.EndObject();
  const std::string payload =
      Base64UrlEncode(std::string_view(buffer.GetString(), buffer.GetSize()));
  constexpr std::size_t kEncodedMacBytes = 43;  // 32 bytes in unpadded base64url
  std::string token;
  token.reserve(kEncodedHeader.size() + 1 + payload.size() + 1 + kEncodedMacBytes);
  token += kEncodedHeader;
  token += '.';
  token += payload;
  const auto mac = key_.Sign(token);
  token += '.';
  token += Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

std::string SignHs256(const Claims& claims, std::string_view secret) {
  return JwtSigner(secret).Sign(claims);
}

std::string_view JwtErrorMessage(JwtError error) {
  switch (error) {
    case JwtError::kOk:
      return "ok";
    case JwtError::kMalformed:
      return "malformed token";
    case JwtError::kUnsupportedAlgorithm:
      return "token algorithm must be HS256";
    case JwtError::kBadSignature:
      return "invalid token signature";
    case JwtError::kExpired:
      return "token expired";
    case JwtError::kMissingExpiry:
      return "token has no exp claim of integer seconds";
    case JwtError::kInvalidSubject:
      return "token has no valid sub claim";
    case JwtError::kNotYetValid:
      return "token not valid yet (nbf or iat in the future)";
    case JwtError::kWrongIssuer:
      return "token issuer not accepted";
    case JwtError::kWrongAudience:
      return "token audience not accepted";
  }
  return "invalid token";
}

}  // namespace fs::auth
