#include "app/demo.h"

#include <future>

namespace fs::app {

core::Sale DemoSale() {
  core::Sale sale;
  sale.sku_id = std::string(kDemoSkuId);
  sale.name = "Demo flash sale";
  sale.price_cents = 1999;
  sale.currency = "USD";
  sale.total_stock = kDemoStock;
  // No starts_at/ends_at: open from now on.
  return sale;
}

base::Status EnsureDemoSale(engine::Engine& engine) {
  std::promise<engine::ReplyOf<engine::CreateSale>> promise;
  std::future<engine::ReplyOf<engine::CreateSale>> future = promise.get_future();
  // The callback runs on the writer thread and only fulfils the promise (never blocks).
  engine.Submit(engine::CreateSale{DemoSale()},
                [&promise](engine::ReplyOf<engine::CreateSale> reply) {
                  promise.set_value(std::move(reply));
                });
  engine::ReplyOf<engine::CreateSale> reply = future.get();
  FS_RETURN_IF_ERROR(reply.status);
  switch (reply.value.outcome) {
    case core::CreateSaleOutcome::kCreated:
    case core::CreateSaleOutcome::kAlreadyExists:
      return base::Status::Ok();
    case core::CreateSaleOutcome::kInvalid:
      return base::Internal("demo sale refused: " + reply.value.invalid_reason);
  }
  return base::Internal("unknown create-sale outcome");
}

std::string RenderDemoText(const DemoText& text) {
  const std::string& url = text.base_url;
  const std::string admin =
      text.admin_token.empty() ? std::string("$FLASHSALE_ADMIN_TOKEN") : text.admin_token;
  std::string out;
  out += "Demo mode: sale '" + std::string(kDemoSkuId) + "' (" + std::to_string(kDemoStock) +
         " units, per-user limit 1, reservations held 120 s) is open.\n";
  if (!text.jwt_secret.empty()) out += "Generated JWT secret: " + text.jwt_secret + "\n";
  if (!text.admin_token.empty()) out += "Generated admin token: " + text.admin_token + "\n";
  out += "Token for user '" + std::string(kDemoUserId) + "' (valid 24 h):\n";
  out += "  export TOKEN=" + text.user_token + "\n";
  out += "Open in a browser:\n";
  out += "  storefront (signed in as " + std::string(kDemoUserId) + "): " + url + "/sales/" +
         std::string(kDemoSkuId) + "#token=" + text.user_token + "\n";
  out += "  all sales: " + url + "/\n";
  out += "  operator console: " + url + "/admin/ (asks for the admin token once)\n";
  out += "Or with curl:\n";
  out += "  curl -s " + url + "/api/v1/products/demo-sku\n";
  out += "  curl -s " + url + "/api/v1/products/demo-sku/availability\n";
  out += "  curl -s -X POST " + url +
         "/api/v1/products/demo-sku/reserve -H \"Authorization: "
         "Bearer $TOKEN\" -H 'Content-Type: application/json' -H 'Idempotency-Key: try-1' "
         "-d '{\"quantity\":1}'\n";
  out += "  curl -s " + url +
         "/api/v1/reservations/RESERVATION_ID -H \"Authorization: Bearer "
         "$TOKEN\"\n";
  out += "  curl -s -X DELETE " + url +
         "/api/v1/reservations/RESERVATION_ID -H "
         "\"Authorization: Bearer $TOKEN\"\n";
  out +=
      "  curl -s " + url + "/admin/v1/skus/demo-sku -H \"Authorization: Bearer " + admin + "\"\n";
  out += "  curl -s " + url + "/metrics\n";
  return out;
}

}  // namespace fs::app
