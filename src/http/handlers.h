// The handlers of the route table (route_table.h), grouped by resource; each group lives in
// handlers_<resource>.cc. A handler runs after dispatch has authenticated the call as its row
// asks (and rate-limited it): it parses and validates, then answers from the published state,
// sends one command to the engine and answers from its callback, or (audit) hands the read to
// the audit reader threads.
//
// Thread-safety: handlers run on the I/O thread that received the request and may run
// concurrently; they answer on the call's executor.
#pragma once

#include "http/api_services.h"
#include "http/route_table.h"

namespace fs::http::handlers {

// Sales (admin) and products (public): handlers_sales.cc.
void CreateSale(const ApiServices& services, Call& call);
void AdminGetSale(const ApiServices& services, Call& call);
void OpenSale(const ApiServices& services, Call& call);
void CloseSale(const ApiServices& services, Call& call);
void AdjustStock(const ApiServices& services, Call& call);
void UpdateSale(const ApiServices& services, Call& call);  // PATCH: name and details
void GetProduct(const ApiServices& services, Call& call);
void ListProducts(const ApiServices& services, Call& call);  // list and search (catalog.h)
void GetAvailability(const ApiServices& services, Call& call);
void ProductEvents(const ApiServices& services, Call& call);  // Server-Sent Events

// Reservations: handlers_reservations.cc.
void Reserve(const ApiServices& services, Call& call);  // both reserve routes
void GetReservation(const ApiServices& services, Call& call);
void DeleteReservation(const ApiServices& services, Call& call);

// Orders: handlers_orders.cc.
void Checkout(const ApiServices& services, Call& call);  // both checkout routes
void GetOrder(const ApiServices& services, Call& call);
void AdminGetOrder(const ApiServices& services, Call& call);
void AdminListOrders(const ApiServices& services, Call& call);
void AdminResolveOrder(const ApiServices& services, Call& call);

// The fair waiting room: handlers_queue.cc.
void JoinQueue(const ApiServices& services, Call& call);
void GetQueueTicket(const ApiServices& services, Call& call);

// The audit trail and reconciliation: handlers_audit.cc.
void Reconciliation(const ApiServices& services, Call& call);
void AuditQuery(const ApiServices& services, Call& call);
void AuditVerify(const ApiServices& services, Call& call);

// Health, readiness, metrics: handlers_health.cc.
void Healthz(const ApiServices& services, Call& call);
void Readyz(const ApiServices& services, Call& call);
void Metrics(const ApiServices& services, Call& call);
// The whole exposition body GET /metrics answers (also served by --metrics-listen).
std::string RenderMetricsBody(const ApiServices& services);

// The web pages, their files and the demo sign-in: handlers_pages.cc.
void StorefrontPage(const ApiServices& services, Call& call);   // GET /
void SalePage(const ApiServices& services, Call& call);         // GET /sales/{sku}
void ConsolePage(const ApiServices& services, Call& call);      // GET /admin/
void ConsoleRedirect(const ApiServices& services, Call& call);  // GET /admin -> /admin/
void WebAssetFile(const ApiServices& services, Call& call);     // GET /assets/{file}
void DemoToken(const ApiServices& services, Call& call);        // POST /demo/v1/token (--demo only)
}  // namespace fs::http::handlers
