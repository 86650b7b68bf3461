// Handlers of the web pages: the storefront (the list of sales and a sale's page), the
// operator console, the files they load, and the demo sign-in. The pages are static files
// compiled into the binary (src/web); everything live on them comes from the JSON API.
#include <chrono>
#include <string>
#include <string_view>

#include "auth/jwt.h"
#include "base/time_format.h"
#include "core/audit.h"
#include "http/handlers.h"
#include "http/replies.h"
#include "http/request_parsing.h"
#include "web/web_assets.h"

namespace fs::http::handlers {
namespace {

// What every page and file is answered with: no inline script or style, nothing from another
// origin but images, never framed.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' https: data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

void ServeWebFile(Call& call, std::string_view path) {
  const std::optional<web::WebAsset> asset = web::FindWebAsset(path);
  if (!asset) return call.exchange.respond(ErrorResponse(404, code::kNotFound, "no such file"));
  const bool unchanged =
      call.request.if_none_match && MatchesEtag(*call.request.if_none_match, asset->etag);
  Response response = unchanged ? Response(304, "", asset->content_type)
                                : Response(200, std::string(asset->body), asset->content_type);
  response.headers.emplace_back("ETag", asset->etag);
  // Revalidated on every load (a 304 costs a few bytes), so a new release shows at once.
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  call.exchange.respond(std::move(response));
}

}  // namespace

void StorefrontPage(const ApiServices& /*services*/, Call& call) {
  ServeWebFile(call, "index.html");
}

void SalePage(const ApiServices& /*services*/, Call& call) { ServeWebFile(call, "sale.html"); }

void ConsolePage(const ApiServices& /*services*/, Call& call) { ServeWebFile(call, "admin.html"); }

void ConsoleRedirect(const ApiServices& /*services*/, Call& call) {
  Response response(308, "");
  response.headers.emplace_back("Location", "/admin/");
  call.exchange.respond(std::move(response));
}

void WebAssetFile(const ApiServices& /*services*/, Call& call) {
  ServeWebFile(call, "assets/" + std::string(call.match.params[0]));
}

void DemoToken(const ApiServices& services, Call& call) {
  if (services.options.demo_token_lifetime <= std::chrono::seconds::zero()) {
    return call.exchange.respond(ErrorResponse(404, code::kNotFound, "no such route"));
  }
  auto user_id = ParseDemoTokenBody(call.request.body);
  if (!user_id) return call.exchange.respond(InvalidRequest(user_id.error()));
  const base::Time expires = services.engine.clock().Now() + services.options.demo_token_lifetime;
  auth::Claims claims;
  claims.subject = *user_id;
  claims.expires_at_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count();
  std::string body = "{\"token\":";
  body += core::JsonQuote(auth::SignHs256(claims, services.options.jwt_secret));
  body += ",\"user_id\":" + core::JsonQuote(*user_id);
  body += ",\"expires_at\":" + core::JsonQuote(base::FormatRfc3339(expires)) + "}";
  call.exchange.respond(JsonResponse(200, std::move(body)));
}

}  // namespace fs::http::handlers
