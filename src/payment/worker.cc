#include "payment/worker.h"

#include <future>
#include <system_error>
#include <utility>

#include "log/log_context.h"
#include "log/log_output.h"

namespace fs::payment {
namespace {

std::string_view OutcomeName(core::ChargeOutcome outcome) {
  switch (outcome) {
    case core::ChargeOutcome::kSucceeded:
      return "succeeded";
    case core::ChargeOutcome::kDeclined:
      return "declined";
    case core::ChargeOutcome::kRetryable:
      return "retryable";
  }
  return "unknown";
}

// The gateway call's client span (WorkerOptions::on_span): its ids always (the gateway is sent
// them), recorded only when `sampled`.
struct CallSpan {
  trace::Span span;
  bool sampled = false;
};

CallSpan BeginCallSpan(const core::Order& order, const trace::Sampler& sampler) {
  CallSpan call;
  std::optional<trace::ParentContext> parent;
  if (!order.traceparent.empty()) parent = trace::ParseTraceparent(order.traceparent);
  if (parent) {
    call.span.trace_id = parent->trace_id;
    call.span.parent_span_id = parent->span_id;
    call.sampled = parent->sampled;
  } else {
    call.span.trace_id = trace::NewTraceId();
    call.sampled = sampler.ShouldSample(call.span.trace_id, std::nullopt);
  }
  call.span.span_id = trace::NewSpanId();
  call.span.name = "payment.charge";
  call.span.kind = trace::SpanKind::kClient;
  call.span.start_unix_nanos = trace::UnixNanosNow();
  return call;
}

}  // namespace

PaymentWorker::PaymentWorker(WorkerOptions options, engine::Engine& engine, PaymentGateway& gateway)
    : options_(std::move(options)), engine_(engine), gateway_(gateway) {}

PaymentWorker::~PaymentWorker() { Stop(); }

void PaymentWorker::Start() {
  dispatcher_ = std::thread([this] { Dispatch(); });
}

void PaymentWorker::GrowChargers(std::size_t waiting) {
  // The pool grows with the work, up to `concurrency`: a quiet node keeps few threads, and a
  // sale's burst starts what it needs. A system that refuses a thread (a container's process
  // limit) caps the pool where it stands instead of stopping the node.
  std::size_t idle = 0;
  {
    base::MutexLock lock(mutex_);
    idle = idle_chargers_;
  }
  while (waiting > idle && chargers_.size() < options_.concurrency && !thread_refused_) {
    try {
      chargers_.emplace_back([this] { Charge(); });
      ++idle;
    } catch (const std::system_error& error) {
      thread_refused_ = true;
      log::Logger("payment")->warn(
          "payment: the system refused another charging thread ({}); {} gateway calls in flight "
          "at most instead of {}",
          error.what(), chargers_.size(), options_.concurrency);
    }
  }
}

void PaymentWorker::Notify() {
  {
    base::MutexLock lock(mutex_);
    notified_ = true;
  }
  dispatch_wake_.NotifyOne();
}

void PaymentWorker::Stop() {
  {
    base::MutexLock lock(mutex_);
    stopping_ = true;
    queue_.clear();  // not started: they stay PENDING and are picked up after the restart
  }
  dispatch_wake_.NotifyAll();
  work_ready_.NotifyAll();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& thread : chargers_) {
    if (thread.joinable()) thread.join();
  }
  chargers_.clear();
}

std::vector<core::Order> PaymentWorker::FetchDue(std::size_t count_max) {
  // Blocks this dispatcher thread (not the writer) until the writer answers.
  auto promise = std::make_shared<std::promise<engine::ReplyOf<engine::DueOrders>>>();
  auto future = promise->get_future();
  engine_.Submit(engine::DueOrders{count_max}, [promise](engine::ReplyOf<engine::DueOrders> reply) {
    promise->set_value(std::move(reply));
  });
  engine::ReplyOf<engine::DueOrders> reply = future.get();
  if (!reply.status.ok()) return {};
  return std::move(reply.value);
}

void PaymentWorker::Dispatch() {
  for (;;) {
    std::size_t free_slots = 0;
    std::uint64_t round = 0;
    {
      const auto deadline = std::chrono::steady_clock::now() + options_.poll_interval;
      base::MutexLock lock(mutex_);
      while (!notified_ && !stopping_) {
        if (!dispatch_wake_.WaitUntil(mutex_, deadline)) break;
      }
      if (stopping_) return;
      notified_ = false;
      free_slots = options_.concurrency * 2 > in_flight_.size()
                       ? options_.concurrency * 2 - in_flight_.size()
                       : 0;
      if (free_slots > 0) round = ++fetch_round_;
    }
    if (free_slots == 0) continue;
    // Ask for more than the free slots: some of the due orders may be in flight already.
    std::vector<core::Order> due = FetchDue(free_slots + options_.concurrency * 2);
    std::size_t waiting = 0;
    {
      base::MutexLock lock(mutex_);
      for (auto& order : due) {
        if (free_slots == 0) break;
        // A view of the order from before our last report of it (the read and the report were
        // decided in one batch, the read first): charging it again would repeat that attempt.
        auto reported = reported_.find(order.order_id);
        if (reported != reported_.end()) {
          if (order.attempts < reported->second.attempts) continue;
          reported_.erase(reported);
        }
        if (!in_flight_.insert(order.order_id).second) continue;
        queue_.push_back(std::move(order));
        --free_slots;
        work_ready_.NotifyOne();
      }
      // Reports recorded before this read started are in what it read: no later read can show
      // those orders as they were before.
      std::erase_if(reported_, [round](const auto& entry) { return entry.second.round < round; });
      waiting = queue_.size();
    }
    GrowChargers(waiting);
  }
}

void PaymentWorker::Charge() {
  for (;;) {
    core::Order order;
    {
      base::MutexLock lock(mutex_);
      ++idle_chargers_;
      while (queue_.empty() && !stopping_) work_ready_.Wait(mutex_);
      --idle_chargers_;
      if (stopping_) return;
      order = std::move(queue_.front());
      queue_.pop_front();
    }
    if (options_.claim && !options_.claim(order)) {
      // Another node holds the order's lease: it is not ours to charge now.
      {
        base::MutexLock lock(mutex_);
        in_flight_.erase(order.order_id);
      }
      continue;
    }
    ChargeRequest request;
    request.idempotency_key = order.order_id;
    request.amount_cents = order.amount_cents;
    request.currency = order.currency;
    request.payment_method_id = order.payment_method_id;
    request.attempt = order.attempts + 1;
    request.request_id = order.request_id;
    // The call's log lines name the checkout's request.
    const log::LogContext context{order.request_id, {}, {}};
    const log::ScopedLogContext scope(context);
    CallSpan call;
    if (options_.on_span) {
      call = BeginCallSpan(order, options_.sampler);
      request.traceparent =
          trace::FormatTraceparent(call.span.trace_id, call.span.span_id, call.sampled);
    }
    const ChargeResult result = gateway_.Charge(request);
    if (call.sampled) {
      call.span.end_unix_nanos = trace::UnixNanosNow();
      call.span.Set("flashsale.order_id", order.order_id);
      call.span.Set("flashsale.payment.attempt", static_cast<std::int64_t>(request.attempt));
      call.span.Set("flashsale.payment.outcome", std::string(OutcomeName(result.outcome)));
      if (result.outcome == core::ChargeOutcome::kRetryable) {
        call.span.status = trace::SpanStatus::kError;
        call.span.status_message = result.reason;
      }
      options_.on_span(std::move(call.span));
    }
    core::PaymentReport report;
    report.order_id = order.order_id;
    report.attempt = request.attempt;
    report.outcome = result.outcome;
    report.reason = result.reason;
    report.retry_after = result.retry_after;
    if (result.outcome == core::ChargeOutcome::kRetryable) {
      log::Logger("payment")->info("payment: order {} attempt {} failed transiently: {}",
                                   order.order_id, request.attempt, result.reason);
    }
    // The order leaves the in-flight set only once the writer has committed (or refused) the
    // report, so the dispatcher cannot hand it out again with a stale attempt count.
    engine_.Submit(engine::RecordPayment{std::move(report)},
                   [this, order_id = order.order_id, attempt = request.attempt](
                       const engine::ReplyOf<engine::RecordPayment>& reply) {
                     if (!reply.status.ok()) {
                       log::Logger("payment")->warn("payment: recording order {} failed: {}",
                                                    order_id, reply.status.ToString());
                     }
                     {
                       base::MutexLock lock(mutex_);
                       in_flight_.erase(order_id);
                       // Whatever the outcome (paid, failed, retry scheduled): a read from before
                       // this report must not hand the order out again.
                       if (reply.status.ok()) reported_[order_id] = Reported{attempt, fetch_round_};
                     }
                     dispatch_wake_.NotifyOne();
                   });
  }
}

}  // namespace fs::payment
