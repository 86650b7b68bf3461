#include "http/request_parsing.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "base/time_format.h"
#include "base/utf8.h"
#include "core/rules.h"
#include "json/duplicate_keys.h"
#include "json/small_document.h"

namespace fs::http {
namespace {

// Iterative parsing: a 16 KiB body of '[' must not recurse 16k frames deep. UTF-8 is
// validated so we never echo invalid bytes back in a JSON response.
constexpr unsigned kParseFlags = rapidjson::kParseDefaultFlags | rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag;

base::Status Invalid(std::string message) { return base::InvalidArgument(std::move(message)); }

// Request bodies are small: they parse in stack memory (json/small_document.h).
using BodyDocument = json::SmallDocument<4096>;

// An empty body stands for {} so `curl -X POST .../reserve` reserves one unit.
base::Status ParseObject(std::string_view body, BodyDocument& into) {
  auto& document = into.document();
  if (body.empty()) {
    document.SetObject();
    return base::Status::Ok();
  }
  into.Parse<kParseFlags>(body);
  if (document.HasParseError()) {
    return Invalid(std::string("request body is not valid JSON: ") +
                   rapidjson::GetParseError_En(document.GetParseError()) + " (at byte " +
                   std::to_string(document.GetErrorOffset()) + ")");
  }
  if (!document.IsObject()) return Invalid("request body must be a JSON object");
  if (const auto duplicate = json::FindDuplicateKey(document)) {
    return Invalid("request body has the key \"" + *duplicate + "\" more than once");
  }
  return base::Status::Ok();
}

// The member `name`, or nullptr when absent or null (null means "not given").
const rapidjson::Value* Find(const rapidjson::Value& object, const char* name) {
  const auto member = object.FindMember(name);
  if (member == object.MemberEnd() || member->value.IsNull()) return nullptr;
  return &member->value;
}

base::Result<std::optional<std::string>> OptionalString(const rapidjson::Value& object,
                                                        const char* name) {
  const rapidjson::Value* value = Find(object, name);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->IsString()) return Invalid(std::string(name) + " must be a string");
  return std::optional<std::string>(std::in_place, value->GetString(), value->GetStringLength());
}

base::Result<std::optional<std::int64_t>> OptionalInteger(const rapidjson::Value& object,
                                                          const char* name) {
  const rapidjson::Value* value = Find(object, name);
  if (value == nullptr) return std::optional<std::int64_t>();
  // RapidJSON keeps 1.0 and 1e3 as doubles: only plain integer literals pass.
  if (!value->IsInt64()) return Invalid(std::string(name) + " must be an integer");
  return std::optional<std::int64_t>(value->GetInt64());
}

base::Result<std::optional<base::Time>> OptionalTime(const rapidjson::Value& object,
                                                     const char* name) {
  auto text = OptionalString(object, name);
  if (!text) return text.error();
  if (!*text) return std::optional<base::Time>();
  const std::optional<base::Time> time = base::ParseRfc3339(**text);
  if (!time) return Invalid(std::string(name) + " must be an RFC 3339 date-time");
  return time;
}

base::Result<std::int32_t> ParseQuantity(const rapidjson::Value& object) {
  const std::string range_message =
      "quantity must be an integer between 1 and " + std::to_string(core::kQuantityMax);
  const rapidjson::Value* value = Find(object, "quantity");
  if (value == nullptr) {
    // Explicit null is as wrong as a string: only absence means the default.
    if (object.HasMember("quantity")) return Invalid(range_message);
    return std::int32_t{1};
  }
  if (!value->IsInt64()) return Invalid(range_message);
  const std::int64_t quantity = value->GetInt64();
  if (quantity < 1 || quantity > core::kQuantityMax) return Invalid(range_message);
  return static_cast<std::int32_t>(quantity);
}

base::Result<std::string> RequiredString(const rapidjson::Value& object, const char* name) {
  auto value = OptionalString(object, name);
  if (!value) return value.error();
  if (!*value) return Invalid(std::string(name) + " is required");
  return std::move(**value);
}

base::Result<std::int64_t> RequiredInteger(const rapidjson::Value& object, const char* name) {
  auto value = OptionalInteger(object, name);
  if (!value) return value.error();
  if (!*value) return Invalid(std::string(name) + " is required");
  return **value;
}

// An optional int32 field; out-of-int32 values are refused here so the cast is exact and
// core::ValidateSale sees the real number.
base::Result<std::int32_t> OptionalInt32(const rapidjson::Value& object, const char* name,
                                         std::int32_t default_value) {
  auto value = OptionalInteger(object, name);
  if (!value) return value.error();
  if (!*value) return default_value;
  if (**value < std::numeric_limits<std::int32_t>::min() ||
      **value > std::numeric_limits<std::int32_t>::max()) {
    return Invalid(std::string(name) + " is out of range");
  }
  return static_cast<std::int32_t>(**value);
}

base::Status ReadSaleNumbers(const rapidjson::Value& object, core::Sale& sale) {
  auto price_cents = RequiredInteger(object, "price_cents");
  if (!price_cents) return price_cents.error();
  auto total_stock = RequiredInteger(object, "total_stock");
  if (!total_stock) return total_stock.error();
  auto per_user_limit = OptionalInt32(object, "per_user_limit", core::kDefaultPerUserLimit);
  if (!per_user_limit) return per_user_limit.error();
  auto ttl = OptionalInt32(object, "reservation_ttl_seconds", core::kDefaultReservationTtlSeconds);
  if (!ttl) return ttl.error();
  sale.price_cents = *price_cents;
  sale.total_stock = *total_stock;
  sale.per_user_limit = *per_user_limit;
  sale.reservation_ttl_seconds = *ttl;
  return base::Status::Ok();
}

}  // namespace

base::Result<ReserveBody> ParseReserveBody(std::string_view body) {
  BodyDocument json;
  FS_RETURN_IF_ERROR(ParseObject(body, json));
  const rapidjson::Value* document = &json.document();
  ReserveBody parsed;
  auto sku_id = OptionalString(*document, "sku_id");
  if (!sku_id) return sku_id.error();
  if (*sku_id && !core::IsValidSkuId(**sku_id)) {
    return Invalid("sku_id must be 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  parsed.sku_id = std::move(*sku_id);
  auto quantity = ParseQuantity(*document);
  if (!quantity) return quantity.error();
  parsed.quantity = *quantity;
  auto key = OptionalString(*document, "idempotency_key");
  if (!key) return key.error();
  if (*key) FS_RETURN_IF_ERROR(ValidateIdempotencyKey(**key, "idempotency_key"));
  parsed.idempotency_key = std::move(*key);
  auto pass = OptionalString(*document, "queue_pass");
  if (!pass) return pass.error();
  parsed.queue_pass = std::move(*pass);
  return parsed;
}

base::Result<std::optional<std::string>> ResolveQueuePass(
    std::optional<std::string_view> header_pass, const std::optional<std::string>& body_pass) {
  if (header_pass && body_pass && *header_pass != *body_pass) {
    return Invalid("X-Queue-Pass header and body queue_pass differ");
  }
  if (header_pass) return std::optional<std::string>(std::string(*header_pass));
  return body_pass;
}

base::Status ValidateIdempotencyKey(std::string_view key, std::string_view field) {
  // Visible ASCII only: the key is stored (both stores, the audit trail) and compared byte for
  // byte; a byte PostgreSQL refuses as text must never reach a batch.
  const bool visible = std::all_of(key.begin(), key.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x21 && byte <= 0x7E;
  });
  if (key.empty() || key.size() > core::kIdempotencyKeyBytesMax || !visible) {
    return Invalid(std::string(field) + " must be 1-" +
                   std::to_string(core::kIdempotencyKeyBytesMax) +
                   " bytes of visible ASCII (0x21-0x7E): no spaces, control characters or "
                   "non-ASCII bytes");
  }
  return base::Status::Ok();
}

base::Result<std::string> ResolveIdempotencyKey(std::optional<std::string_view> header_key,
                                                const std::optional<std::string>& body_key) {
  if (header_key) FS_RETURN_IF_ERROR(ValidateIdempotencyKey(*header_key, "Idempotency-Key"));
  if (body_key) FS_RETURN_IF_ERROR(ValidateIdempotencyKey(*body_key, "idempotency_key"));
  if (header_key && body_key && *header_key != *body_key) {
    return Invalid("Idempotency-Key header and body idempotency_key differ");
  }
  if (header_key) return std::string(*header_key);
  if (body_key) return *body_key;
  return std::string();
}

std::optional<std::string_view> BearerToken(std::optional<std::string_view> authorization) {
  if (!authorization) return std::nullopt;
  constexpr std::string_view kScheme = "bearer ";
  const std::string_view header = *authorization;
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

namespace {

// `tags`: absent or null -> nullopt, else an array of strings.
base::Result<std::optional<std::vector<std::string>>> OptionalTags(const rapidjson::Value& object) {
  const rapidjson::Value* value = Find(object, "tags");
  if (value == nullptr) return std::optional<std::vector<std::string>>();
  if (!value->IsArray()) return Invalid("tags must be an array of strings");
  std::vector<std::string> tags;
  for (const auto& tag : value->GetArray()) {
    if (!tag.IsString()) return Invalid("tags must be an array of strings");
    tags.emplace_back(tag.GetString(), tag.GetStringLength());
  }
  return std::optional<std::vector<std::string>>(std::move(tags));
}

// The details a sale body may carry: each absent or null when not set.
base::Status ReadDetails(const rapidjson::Value& object, core::SaleDetails& details) {
  for (auto [name, target] :
       {std::pair{"description", &details.description}, std::pair{"image_url", &details.image_url},
        std::pair{"category", &details.category}}) {
    auto text = OptionalString(object, name);
    if (!text) return text.error();
    *target = text->value_or("");
  }
  auto tags = OptionalTags(object);
  if (!tags) return tags.error();
  details.tags = tags->value_or(std::vector<std::string>());
  return base::Status::Ok();
}

}  // namespace

base::Result<core::SalePatch> ParseSalePatch(std::string_view body) {
  BodyDocument json;
  FS_RETURN_IF_ERROR(ParseObject(body, json));
  const rapidjson::Value& document = json.document();
  for (const auto& member : document.GetObject()) {
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (name != "name" && name != "description" && name != "image_url" && name != "category" &&
        name != "tags") {
      return Invalid(std::string(name) +
                     " cannot be changed here: PATCH takes name, description, image_url, "
                     "category and tags");
    }
  }
  core::SalePatch patch;
  if (document.HasMember("name")) {
    auto name = RequiredString(document, "name");
    if (!name) return name.error();
    if (std::string reason = core::ValidateSaleName(*name); !reason.empty()) return Invalid(reason);
    patch.name = std::move(*name);
  }
  core::SaleDetails details;
  FS_RETURN_IF_ERROR(ReadDetails(document, details));
  // Only the fields given are changed; null clears one.
  if (std::string reason = core::ValidateSaleDetails(details); !reason.empty()) {
    return Invalid(reason);
  }
  if (document.HasMember("description")) patch.description = details.description;
  if (document.HasMember("image_url")) patch.image_url = details.image_url;
  if (document.HasMember("category")) patch.category = details.category;
  if (document.HasMember("tags")) patch.tags = details.tags;
  return patch;
}

base::Result<core::Sale> ParseSaleBody(std::string_view body) {
  BodyDocument json;
  FS_RETURN_IF_ERROR(ParseObject(body, json));
  const rapidjson::Value* document = &json.document();
  core::Sale sale;
  auto sku_id = RequiredString(*document, "sku_id");
  if (!sku_id) return sku_id.error();
  auto name = RequiredString(*document, "name");
  if (!name) return name.error();
  auto currency = RequiredString(*document, "currency");
  if (!currency) return currency.error();
  sale.sku_id = std::move(*sku_id);
  sale.name = std::move(*name);
  sale.currency = std::move(*currency);
  FS_RETURN_IF_ERROR(ReadSaleNumbers(*document, sale));
  auto starts_at = OptionalTime(*document, "starts_at");
  if (!starts_at) return starts_at.error();
  auto ends_at = OptionalTime(*document, "ends_at");
  if (!ends_at) return ends_at.error();
  sale.starts_at = *starts_at;
  sale.ends_at = *ends_at;
  if (const rapidjson::Value* room = Find(*document, "waiting_room")) {
    if (!room->IsBool()) return Invalid("waiting_room must be true or false");
    sale.waiting_room = room->GetBool() ? core::WaitingRoomMode::kOn : core::WaitingRoomMode::kOff;
  }
  FS_RETURN_IF_ERROR(ReadDetails(*document, sale.details));
  // "status" and "created_at" are read-only: ignored like any unknown field.
  const std::string reason = core::ValidateSale(sale);
  if (!reason.empty()) return Invalid(reason);
  return sale;
}

bool IsPlausibleReservationId(std::string_view id) {
  if (id.empty() || id.size() > kReservationIdBytesMax) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

}  // namespace fs::http

namespace fs::http {

base::Result<CheckoutBody> ParseCheckoutBody(std::string_view body) {
  BodyDocument json;
  FS_RETURN_IF_ERROR(ParseObject(body, json));
  const rapidjson::Value* document = &json.document();
  CheckoutBody parsed;
  auto reservation_id = RequiredString(*document, "reservation_id");
  if (!reservation_id) return reservation_id.error();
  if (!IsPlausibleReservationId(*reservation_id)) {
    return Invalid("reservation_id must be 1-64 printable characters");
  }
  auto payment_method_id = RequiredString(*document, "payment_method_id");
  if (!payment_method_id) return payment_method_id.error();
  if (!core::IsValidPaymentMethodId(*payment_method_id)) {
    return Invalid("payment_method_id must be 1-128 characters of A-Z a-z 0-9 _ -");
  }
  auto key = OptionalString(*document, "idempotency_key");
  if (!key) return key.error();
  if (*key) FS_RETURN_IF_ERROR(ValidateIdempotencyKey(**key, "idempotency_key"));
  parsed.reservation_id = std::move(*reservation_id);
  parsed.payment_method_id = std::move(*payment_method_id);
  parsed.idempotency_key = std::move(*key);
  return parsed;
}

base::Result<core::ResolveChoice> ParseResolveBody(std::string_view body) {
  BodyDocument json;
  FS_RETURN_IF_ERROR(ParseObject(body, json));
  const rapidjson::Value* document = &json.document();
  auto outcome = RequiredString(*document, "outcome");
  if (!outcome) return outcome.error();
  if (*outcome == "paid") return core::ResolveChoice::kPaid;
  if (*outcome == "failed") return core::ResolveChoice::kFailed;
  return Invalid("outcome must be \"paid\" or \"failed\"");
}

base::Result<std::string> ParseDemoTokenBody(std::string_view body) {
  BodyDocument json;
  FS_RETURN_IF_ERROR(ParseObject(body, json));
  auto user_id = RequiredString(json.document(), "user_id");
  if (!user_id) return user_id.error();
  if (user_id->empty() || user_id->size() > 255 || !base::IsPrintableUtf8(*user_id)) {
    return Invalid("user_id must be 1-255 bytes of printable UTF-8");
  }
  return std::string(*user_id);
}

std::optional<std::string_view> QueryParameter(std::string_view target, std::string_view name) {
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    if (key == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

base::Result<std::chrono::seconds> ParseWaitSeconds(std::string_view target) {
  const std::optional<std::string_view> text = QueryParameter(target, "wait_seconds");
  if (!text) return std::chrono::seconds::zero();
  int seconds = -1;
  const char* end = text->data() + text->size();
  const auto [ptr, error] = std::from_chars(text->data(), end, seconds);
  if (text->empty() || error != std::errc() || ptr != end || seconds < 0 ||
      seconds > kOrderWaitSecondsMax) {
    return Invalid("wait_seconds must be an integer between 0 and " +
                   std::to_string(kOrderWaitSecondsMax));
  }
  return std::chrono::seconds(seconds);
}

}  // namespace fs::http
