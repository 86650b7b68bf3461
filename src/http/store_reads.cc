#include "http/store_reads.h"

#include <boost/asio/post.hpp>
#include <utility>

#include "http/audit_read_pool.h"
#include "http/replies.h"

namespace fs::http {
namespace {

void Answer(const Exchange& exchange, Response response) {
  boost::asio::post(exchange.executor, [exchange, response = std::move(response)]() mutable {
    exchange.respond(std::move(response));
  });
}

}  // namespace

void SubmitStoreRead(const ApiServices& services, const Exchange& exchange, StoreRead read) {
  AuditReadPool::Job job;
  job.read = [read = std::move(read), exchange](audit::AuditSource& source) -> base::Status {
    base::Result<Response> response = read(source);
    if (!response) return response.error();
    Answer(exchange, std::move(*response));
    return base::Status::Ok();
  };
  job.failed = [exchange](const base::Status& status) {
    Answer(exchange, StoreReadFailure(status));
  };
  if (!services.audit_reads.Submit(std::move(job))) {
    Answer(exchange, StoreReadFailure(base::Unavailable("every store reader is busy")));
  }
}

base::Result<Response> EndedReservation(
    audit::AuditSource& source, const std::string& id, const std::string& user_id,
    const std::function<Response(const core::Reservation&)>& render) {
  auto found = source.ReadReservation(id);
  if (!found) return found.error();
  if (!*found || (*found)->user_id != user_id) return ReservationNotFound();
  return render(**found);
}

}  // namespace fs::http
