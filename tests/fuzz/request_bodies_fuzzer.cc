// Goal: the JSON body of every route that takes one (reserve, checkout, create sale, sale
// patch, stock adjustment, order resolve, demo token) is parsed without crashing, every
// refusal is kInvalidArgument (a 400, never a 5xx), and what is accepted keeps the rules the
// handlers rely on. A created sale round-trips: the admin view the API renders for it
// (RenderAdminSale) parses back into the same sale. (The queue routes take no body: their
// pass is the reserve body's queue_pass, covered here, and queue_pass_fuzzer.cc.)
//
// Input: the first byte picks the route, the rest is the body.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "base/status.h"
#include "base/utf8.h"
#include "core/order.h"
#include "core/rules.h"
#include "http/admin_parsing.h"
#include "http/json_render.h"
#include "http/request_parsing.h"

namespace fs::http {
namespace {

template <typename T>
void CheckRefusal(const base::Result<T>& parsed) {
  if (!parsed.has_value()) FS_CHECK(parsed.error().code() == base::StatusCode::kInvalidArgument);
}

bool IsValidKey(const std::optional<std::string>& key) {
  return !key || ValidateIdempotencyKey(*key, "idempotency_key").ok();
}

void Reserve(std::string_view body) {
  const auto parsed = ParseReserveBody(body);
  CheckRefusal(parsed);
  if (!parsed) return;
  FS_CHECK(parsed->quantity >= 1);
  FS_CHECK(parsed->quantity <= core::kQuantityMax);
  FS_CHECK(!parsed->sku_id || core::IsValidSkuId(*parsed->sku_id));
  FS_CHECK(IsValidKey(parsed->idempotency_key));
}

void Checkout(std::string_view body) {
  const auto parsed = ParseCheckoutBody(body);
  CheckRefusal(parsed);
  if (!parsed) return;
  FS_CHECK(IsPlausibleReservationId(parsed->reservation_id));
  FS_CHECK(core::IsValidPaymentMethodId(parsed->payment_method_id));
  FS_CHECK(IsValidKey(parsed->idempotency_key));
}

void CreateSale(std::string_view body) {
  const auto parsed = ParseSaleBody(body);
  CheckRefusal(parsed);
  if (!parsed) return;
  FS_CHECK(core::ValidateSale(*parsed).empty());
  // encode -> decode -> equal: "available", "status" and the other read-only fields of the
  // admin view are ignored by the parser.
  const std::string rendered = RenderAdminSale(*parsed, core::StockCounters{parsed->total_stock},
                                               core::SaleStatus::kScheduled);
  const auto again = ParseSaleBody(rendered);
  FS_CHECK(again.has_value());
  FS_CHECK(again->sku_id == parsed->sku_id);
  FS_CHECK(again->name == parsed->name);
  FS_CHECK(again->price_cents == parsed->price_cents);
  FS_CHECK(again->currency == parsed->currency);
  FS_CHECK(again->total_stock == parsed->total_stock);
  FS_CHECK(again->per_user_limit == parsed->per_user_limit);
  FS_CHECK(again->reservation_ttl_seconds == parsed->reservation_ttl_seconds);
  FS_CHECK(again->starts_at == parsed->starts_at);
  FS_CHECK(again->ends_at == parsed->ends_at);
  FS_CHECK(again->waiting_room == parsed->waiting_room);
  FS_CHECK(again->details == parsed->details);
}

void PatchSale(std::string_view body) {
  const auto parsed = ParseSalePatch(body);
  CheckRefusal(parsed);
  if (!parsed) return;
  if (parsed->name) FS_CHECK(core::ValidateSaleName(*parsed->name).empty());
  core::SaleDetails details;
  details.description = parsed->description.value_or("");
  details.image_url = parsed->image_url.value_or("");
  details.category = parsed->category.value_or("");
  details.tags = parsed->tags.value_or(std::vector<std::string>());
  FS_CHECK(core::ValidateSaleDetails(details).empty());
}

void AdjustStock(std::string_view body) {
  const auto parsed = ParseStockBody(body);
  CheckRefusal(parsed);
  if (parsed) FS_CHECK(*parsed != 0);
}

void Resolve(std::string_view body) { CheckRefusal(ParseResolveBody(body)); }

void DemoToken(std::string_view body) {
  const auto parsed = ParseDemoTokenBody(body);
  CheckRefusal(parsed);
  if (!parsed) return;
  FS_CHECK(!parsed->empty());
  FS_CHECK(parsed->size() <= 255);
  FS_CHECK(base::IsPrintableUtf8(*parsed));
}

}  // namespace
}  // namespace fs::http

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::http;
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      Reserve(body);
      break;
    case 1:
      Checkout(body);
      break;
    case 2:
      CreateSale(body);
      break;
    case 3:
      PatchSale(body);
      break;
    case 4:
      AdjustStock(body);
      break;
    case 5:
      Resolve(body);
      break;
    default:
      DemoToken(body);
      break;
  }
  return 0;
}
