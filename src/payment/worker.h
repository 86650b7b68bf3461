// PaymentWorker: the payment saga's driver, off the writer thread. A dispatcher thread asks the
// engine for PENDING orders that are due (durable state: a restart finds them again), hands
// each to one of up to `concurrency` charging threads (started as the work needs them), and
// each reports the gateway's answer back to the engine (RecordPayment), which moves the order
// and its reservation in one transaction.
// An order is charged by one thread at a time: it stays in the in-flight set until the engine
// has committed its report.
//
// Thread-safety: Start/Stop from the owner; Notify from any thread (also the writer).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/thread_annotations.h"
#include "engine/engine.h"
#include "payment/gateway.h"
#include "trace/sampler.h"
#include "trace/span.h"

namespace fs::payment {

struct WorkerOptions {
  // Gateway calls at once (one charging thread each). Sized for a sale: its ~10,000 checkouts
  // arrive within seconds and a call takes ~0.5 s at a slow gateway, so 1,024 in flight settle
  // ~2,000 orders/s and a buyer learns the outcome in about a second (docs/benchmarks.md,
  // "Orders confirmed in seconds"); 32 settled 64 orders/s, and a sale's orders waited minutes.
  // A provider with a lower rate limit gets a lower value (--payment-concurrency); its 429
  // answers are retried after their Retry-After either way.
  std::size_t concurrency = 1024;
  // Idle re-check of due orders (retries come due without any commit to notify us).
  std::chrono::milliseconds poll_interval{20};
  // Several nodes (a shared store): called on a charging thread before each gateway call;
  // false means another node is charging the order now (or it is settled), so this node skips
  // it. Empty: this node is the only one. Must be thread-safe.
  std::function<bool(const core::Order&)> claim;
  // Tracing: each gateway call is a client span, a child of the checkout's span when its trace
  // was sampled (core::Order::traceparent), else the root of a trace the sampler may pick; the
  // gateway is sent the call's `traceparent` either way. Empty on_span: tracing off.
  trace::SpanSink on_span;
  trace::Sampler sampler{};
};

class PaymentWorker {
 public:
  // REQUIRES: engine and gateway outlive the worker.
  PaymentWorker(WorkerOptions options, engine::Engine& engine, PaymentGateway& gateway);
  ~PaymentWorker();
  PaymentWorker(const PaymentWorker&) = delete;
  PaymentWorker& operator=(const PaymentWorker&) = delete;

  void Start();
  void Notify();
  // Finishes the calls in progress (their reports are queued to the engine) and joins.
  void Stop();

 private:
  void Dispatch();
  // Dispatcher thread: starts charging threads while `waiting` orders outnumber the idle ones.
  void GrowChargers(std::size_t waiting);
  void Charge();
  std::vector<core::Order> FetchDue(std::size_t count_max);

  const WorkerOptions options_;
  engine::Engine& engine_;
  PaymentGateway& gateway_;

  base::Mutex mutex_;
  base::CondVar dispatch_wake_;
  base::CondVar work_ready_;
  bool notified_ GUARDED_BY(mutex_) = false;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::deque<core::Order> queue_ GUARDED_BY(mutex_);
  std::set<std::string> in_flight_ GUARDED_BY(mutex_);  // queued, charging or reporting
  // Orders reported to the writer lately: id -> attempts recorded and the dispatcher's read
  // round at that time. A due-order read that started before the report
  // committed may still show the order as it was (PENDING, fewer attempts): charging it again
  // would repeat the call. Such a view is skipped; an entry goes once a read that started after
  // the report was processed (that read saw the report).
  struct Reported {
    std::int32_t attempts = 0;
    std::uint64_t round = 0;
  };
  std::map<std::string, Reported> reported_ GUARDED_BY(mutex_);
  std::uint64_t fetch_round_ GUARDED_BY(mutex_) = 0;  // due-order reads started so far
  std::size_t idle_chargers_ GUARDED_BY(mutex_) = 0;  // charging threads waiting for work
  std::thread dispatcher_;
  // Started by the dispatcher (GrowChargers), joined by Stop() after it.
  std::vector<std::thread> chargers_;
  bool thread_refused_ = false;  // dispatcher only: the system refused a thread; grow no more
};

}  // namespace fs::payment
