// Reads of the store beside the writer, for handlers: the audit and reconciliation endpoints,
// and the records the writer no longer keeps (ended reservations, final orders:
// docs/operations.md, "Sizing"). Each read runs on an audit reader thread
// (audit_read_pool.h) with that thread's own connection and is answered on the exchange's
// executor; 503 UNAVAILABLE when every reader is busy or the read fails.
// Thread-safety: SubmitStoreRead may be called from any thread (an I/O thread, or the writer's
// completion callback): it never answers inline.
#pragma once

#include <functional>

#include "audit/audit_source.h"
#include "base/status.h"
#include "http/api_services.h"

namespace fs::http {

// Reads from a reader thread's source: the response, or the failure of the read.
using StoreRead = std::function<base::Result<Response>(audit::AuditSource& source)>;

void SubmitStoreRead(const ApiServices& services, const Exchange& exchange, StoreRead read);

// The caller's stored reservation `id` rendered by `render`, or 404 RESERVATION_NOT_FOUND when
// there is none or it is another user's.
base::Result<Response> EndedReservation(
    audit::AuditSource& source, const std::string& id, const std::string& user_id,
    const std::function<Response(const core::Reservation&)>& render);

}  // namespace fs::http
