// Handlers of the sales: the admin routes that create a sale, read it with its counters and
// change its lifecycle, and the public product and availability reads (answered from the
// engine's published snapshots, never queued behind writes).
#include <boost/asio/post.hpp>

#include "base/text_fold.h"
#include "core/rules.h"
#include "crypto/sha256.h"
#include "http/admin_parsing.h"
#include "http/catalog_parsing.h"
#include "http/handlers.h"
#include "http/json_render.h"
#include "http/replies.h"
#include "http/request_parsing.h"
#include "http/sale_events.h"

namespace fs::http::handlers {
namespace {

// The AdminSale answer to a lifecycle change, with the status as of when it is rendered.
auto AdminSaleRenderer(const base::Clock& clock) {
  return [clock = &clock](const engine::Reply<core::AdminSaleResult>& reply) {
    return AdminSaleResponse(reply, clock->Now());
  };
}

void SetSaleOverride(const ApiServices& services, Call& call, core::SaleOverride to) {
  const std::string sku_id(call.match.params[0]);
  if (!core::IsValidSkuId(sku_id)) return call.exchange.respond(SkuNotFound());
  services.engine.Submit(engine::SetSaleOverride{sku_id, to, std::string(call.request.request_id)},
                         PostBack<engine::Reply<core::AdminSaleResult>>(
                             std::move(call.exchange), AdminSaleRenderer(services.engine.clock())),
                         call.request.trace);
}

using Published = std::shared_ptr<const engine::PublishedSale>;

// Runs `then(exchange, sale)` with the route's sale: this node's snapshot, or, in cluster mode
// for a SKU it does not know yet (another node created it since the last refresh), the
// database's (Engine::LookupSale). 404 when there is none.
template <typename Then>
void WithSale(const ApiServices& services, Call& call, Then then) {
  const std::string sku_id(call.match.params[0]);
  if (Published published = services.engine.FindSale(sku_id)) {
    return then(call.exchange, std::move(published));
  }
  if (!core::IsValidSkuId(sku_id)) return call.exchange.respond(SkuNotFound());
  services.engine.LookupSale(sku_id, [exchange = call.exchange, then](Published published) {
    boost::asio::post(exchange.executor, [exchange, then, published = std::move(published)] {
      if (!published) return exchange.respond(SkuNotFound());
      then(exchange, published);
    });
  });
}

// Who reads: the public reads may be kept by a cache in front (ETag, Cache-Control); the
// admin's, behind its token, may not.
enum class Reader : std::uint8_t { kPublic, kAdmin };

// The request's If-None-Match, copied: the request's views end when the handler returns.
std::optional<std::string> IfNoneMatch(const Call& call) {
  if (!call.request.if_none_match) return std::nullopt;
  return std::string(*call.request.if_none_match);
}

// Answers 200 with the route's sale rendered by `render` at its status as of now (404 when
// there is none).
void RespondWithSale(const ApiServices& services, Call& call, Reader reader,
                     std::string (*render)(const core::Sale&, const core::StockCounters&,
                                           core::SaleStatus)) {
  WithSale(services, call,
           [clock = &services.engine.clock(), render, reader, if_none_match = IfNoneMatch(call)](
               const Exchange& exchange, const Published& published) {
             const core::SaleStatus status =
                 core::ComputeSaleStatus(published->sale, published->counters, clock->Now());
             std::string body = render(published->sale, published->counters, status);
             exchange.respond(reader == Reader::kAdmin
                                  ? JsonResponse(200, std::move(body))
                                  : CacheableJsonResponse(std::move(body), if_none_match));
           });
}

}  // namespace

void CreateSale(const ApiServices& services, Call& call) {
  auto sale = ParseSaleBody(call.request.body);
  if (!sale) return call.exchange.respond(InvalidRequest(sale.error()));
  const base::Clock* clock = &services.engine.clock();
  services.engine.Submit(engine::CreateSale{std::move(*sale), std::string(call.request.request_id)},
                         PostBack<engine::ReplyOf<engine::CreateSale>>(
                             std::move(call.exchange),
                             [clock](const engine::ReplyOf<engine::CreateSale>& reply) {
                               return CreateSaleResponse(reply, clock->Now());
                             }),
                         call.request.trace);
}

void AdminGetSale(const ApiServices& services, Call& call) {
  RespondWithSale(services, call, Reader::kAdmin, &RenderAdminSale);
}

void OpenSale(const ApiServices& services, Call& call) {
  SetSaleOverride(services, call, core::SaleOverride::kOpened);
}

void CloseSale(const ApiServices& services, Call& call) {
  SetSaleOverride(services, call, core::SaleOverride::kClosed);
}

void UpdateSale(const ApiServices& services, Call& call) {
  const std::string sku_id(call.match.params[0]);
  if (!core::IsValidSkuId(sku_id)) return call.exchange.respond(SkuNotFound());
  auto patch = ParseSalePatch(call.request.body);
  if (!patch) return call.exchange.respond(InvalidRequest(patch.error()));
  services.engine.Submit(
      engine::UpdateSale{sku_id, std::move(*patch), std::string(call.request.request_id)},
      PostBack<engine::Reply<core::AdminSaleResult>>(std::move(call.exchange),
                                                     AdminSaleRenderer(services.engine.clock())),
      call.request.trace);
}

void AdjustStock(const ApiServices& services, Call& call) {
  const std::string sku_id(call.match.params[0]);
  if (!core::IsValidSkuId(sku_id)) return call.exchange.respond(SkuNotFound());
  auto delta = ParseStockBody(call.request.body);
  if (!delta) return call.exchange.respond(InvalidRequest(delta.error()));
  services.engine.Submit(engine::AdjustStock{sku_id, *delta, std::string(call.request.request_id)},
                         PostBack<engine::Reply<core::AdminSaleResult>>(
                             std::move(call.exchange), AdminSaleRenderer(services.engine.clock())),
                         call.request.trace);
}

void GetProduct(const ApiServices& services, Call& call) {
  RespondWithSale(services, call, Reader::kPublic, &RenderPublicSale);
}

void ListProducts(const ApiServices& services, Call& call) {
  auto query = ParseCatalogQuery(call.request.target, services.catalog);
  if (!query) return call.exchange.respond(InvalidRequest(query.error()));
  const std::string target(call.request.target);
  const std::uint64_t generation = services.catalog.Generation(services.engine);
  const base::Time now = services.engine.clock().Now();
  std::shared_ptr<const CatalogPageCache::Page> page =
      services.catalog_pages.Find(target, generation, now);
  if (page == nullptr) {
    const CatalogPage found = services.catalog.Search(services.engine, *query);
    // Each item is what GET /api/v1/products/{sku} answers for that snapshot.
    std::string body = "{\"items\":[";
    for (std::size_t i = 0; i < found.items.size(); ++i) {
      const engine::PublishedSale& item = *found.items[i];
      if (i > 0) body += ',';
      body += RenderPublicSale(item.sale, item.counters,
                               core::ComputeSaleStatus(item.sale, item.counters, now));
    }
    body += "],\"next_cursor\":";
    body += found.next ? core::JsonQuote(services.catalog.EncodeCursor(*found.next)) : "null";
    body += '}';
    std::string etag = "\"" + crypto::Sha256Hex(body).substr(0, 32) + "\"";
    page = std::make_shared<const CatalogPageCache::Page>(
        CatalogPageCache::Page{std::move(body), std::move(etag)});
    services.catalog_pages.Put(target, generation, now, page);
  }
  const bool unchanged =
      call.request.if_none_match && MatchesEtag(*call.request.if_none_match, page->etag);
  Response response = unchanged ? Response(304, "") : JsonResponse(200, page->body);
  response.headers.emplace_back("ETag", page->etag);
  response.headers.emplace_back("Cache-Control", "public, max-age=1");
  call.exchange.respond(std::move(response));
}

void GetAvailability(const ApiServices& services, Call& call) {
  WithSale(services, call,
           [&services, if_none_match = IfNoneMatch(call)](const Exchange& exchange,
                                                          const Published& published) {
             const base::Clock* clock = &services.engine.clock();
             auto render = [published, clock, if_none_match](const core::StockCounters& counters) {
               const core::SaleStatus status =
                   core::ComputeSaleStatus(published->sale, counters, clock->Now());
               return CacheableJsonResponse(
                   RenderAvailability(published->sale.sku_id, counters.available(), status),
                   if_none_match);
             };
             if (services.shared == nullptr || !services.shared->cache_enabled()) {
               return exchange.respond(render(published->counters));
             }
             // Cluster mode: the shared cache (or, on a miss or while Redis is down, this node's
             // state).
             services.shared->GetCounters(
                 published->sale.sku_id,
                 [published, render, exchange](std::optional<core::StockCounters> cached) {
                   const core::StockCounters counters = cached.value_or(published->counters);
                   boost::asio::post(exchange.executor, [render, exchange, counters] {
                     exchange.respond(render(counters));
                   });
                 });
           });
}

void ProductEvents(const ApiServices& services, Call& call) {
  WithSale(services, call, [&services](const Exchange& exchange, const Published& published) {
    if (services.shutting_down.load(std::memory_order_acquire)) {
      return exchange.respond(ErrorResponse(503, code::kUnavailable, "the server is stopping"));
    }
    if (services.sse_subscribers.fetch_add(1, std::memory_order_acq_rel) >=
        services.options.sse_subscribers_max) {
      services.sse_subscribers.fetch_sub(1, std::memory_order_acq_rel);
      Response busy = ErrorResponse(503, code::kUnavailable,
                                    "too many event streams on this node; read availability");
      busy.headers.emplace_back("Retry-After", "5");
      return exchange.respond(std::move(busy));
    }
    auto stream = std::make_shared<SaleEventStream>(services.engine, published->sale.sku_id,
                                                    services.sse_subscribers);
    Response response(200, stream->First(), "text/event-stream");
    response.headers.emplace_back("Cache-Control", "no-store");
    response.headers.emplace_back("X-Accel-Buffering", "no");  // proxies pass each event on
    response.stream = std::move(stream);
    exchange.respond(std::move(response));
  });
}

}  // namespace fs::http::handlers
