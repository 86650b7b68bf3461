#include "http/route_table.h"

#include <iterator>

#include "http/handlers.h"

namespace fs::http {
namespace {

constexpr Method kGet = Method::kGet;
constexpr Method kPatch = Method::kPatch;
constexpr Method kPost = Method::kPost;
constexpr Method kDelete = Method::kDelete;
using namespace handlers;  // the table names every handler
using AuthKind::kAdmin;
using AuthKind::kNone;
using AuthKind::kUser;
constexpr RateLimitClass kNoLimit = RateLimitClass::kNone;
constexpr RateLimitClass kLimited = RateLimitClass::kUser;
constexpr RateLimitClass kLocal = RateLimitClass::kLocalOnly;
constexpr RouteKind kOther = RouteKind::kOther;
constexpr RouteKind kReserve = RouteKind::kReserve;
constexpr RouteKind kCheckout = RouteKind::kCheckout;

// clang-format off
constexpr Route kRoutes[] = {
  // method path template                            auth    limit     kind      handler
  {kPost,   "/admin/v1/skus",                        kAdmin, kNoLimit, kOther,   CreateSale},
  {kGet,    "/admin/v1/skus/{sku}",                  kAdmin, kNoLimit, kOther,   AdminGetSale},
  {kPatch,  "/admin/v1/skus/{sku}",                  kAdmin, kNoLimit, kOther,   UpdateSale},
  {kGet,    "/api/v1/products",                      kNone,  kNoLimit, kOther,   ListProducts},
  {kGet,    "/api/v1/products/{sku}",                kNone,  kNoLimit, kOther,   GetProduct},
  {kGet,    "/api/v1/products/{sku}/availability",   kNone,  kNoLimit, kOther,   GetAvailability},
  {kGet,    "/api/v1/products/{sku}/events",         kNone,  kNoLimit, kOther,   ProductEvents},
  {kPost,   "/api/v1/products/{sku}/reserve",        kUser,  kLimited, kReserve, Reserve},
  {kPost,   "/api/v1/reserve",                       kUser,  kLimited, kReserve, Reserve},
  {kGet,    "/api/v1/reservations/{id}",             kUser,  kLimited, kOther,   GetReservation},
  {kDelete, "/api/v1/reservations/{id}",             kUser,  kLimited, kOther,   DeleteReservation},
  {kGet,    "/healthz",                              kNone,  kNoLimit, kOther,   Healthz},
  {kGet,    "/readyz",                               kNone,  kNoLimit, kOther,   Readyz},
  {kGet,    "/metrics",                              kNone,  kNoLimit, kOther,   Metrics},
  {kPost,   "/admin/v1/skus/{sku}/open",             kAdmin, kNoLimit, kOther,   OpenSale},
  {kPost,   "/admin/v1/skus/{sku}/close",            kAdmin, kNoLimit, kOther,   CloseSale},
  {kPost,   "/admin/v1/skus/{sku}/stock",            kAdmin, kNoLimit, kOther,   AdjustStock},
  {kGet,    "/admin/v1/skus/{sku}/reconciliation",   kAdmin, kNoLimit, kOther,   Reconciliation},
  {kGet,    "/admin/v1/audit",                       kAdmin, kNoLimit, kOther,   AuditQuery},
  {kGet,    "/admin/v1/audit/verify",                kAdmin, kNoLimit, kOther,   AuditVerify},
  {kPost,   "/api/v1/checkout",                      kUser,  kLimited, kCheckout, Checkout},
  {kPost,   "/api/v1/orders/checkout",               kUser,  kLimited, kCheckout, Checkout},
  {kGet,    "/api/v1/orders/{id}",                   kUser,  kLimited, kOther,   GetOrder},
  {kGet,    "/admin/v1/orders",                      kAdmin, kNoLimit, kOther,   AdminListOrders},
  {kGet,    "/admin/v1/orders/{id}",                 kAdmin, kNoLimit, kOther,   AdminGetOrder},
  {kPost,   "/admin/v1/orders/{id}/resolve",         kAdmin, kNoLimit, kOther,   AdminResolveOrder},
  {kPost,   "/api/v1/products/{sku}/queue",          kUser,  kLocal,   kOther,   JoinQueue},
  {kGet,    "/api/v1/products/{sku}/queue/{ticket}", kUser,  kLocal,   kOther,   GetQueueTicket},
  {kGet,    "/",                                     kNone,  kNoLimit, kOther,   StorefrontPage},
  {kGet,    "/sales/{sku}",                          kNone,  kNoLimit, kOther,   SalePage},
  {kGet,    "/admin/",                               kNone,  kNoLimit, kOther,   ConsolePage},
  {kGet,    "/admin",                                kNone,  kNoLimit, kOther,   ConsoleRedirect},
  {kGet,    "/assets/{file}",                        kNone,  kNoLimit, kOther,   WebAssetFile},
  {kPost,   "/demo/v1/token",                        kNone,  kNoLimit, kOther,   DemoToken},
};
// clang-format on

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

Router BuildRouter() {
  Router router;
  for (std::size_t index = 0; index < std::size(kRoutes); ++index) {
    router.Add(kRoutes[index].method, kRoutes[index].path_template, static_cast<int>(index));
  }
  return router;
}

}  // namespace fs::http
