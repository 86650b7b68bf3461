#include "deterministic_sim.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "core/audit.h"
#include "crypto/sha256.h"
#include "engine/engine.h"
#include "store/memory/memory_store.h"

namespace fs::sim {
namespace {

using base::Status;
using base::StatusCode;

constexpr char kSku[] = "sim";
constexpr std::int64_t kInitialStock = 24;
constexpr std::int32_t kPerUserLimit = 2;
constexpr int kUsers = 16;
constexpr std::int32_t kTtlSeconds = 5;

// What the next commit does (the first commit of a step that has one armed).
enum class Fault : std::uint8_t {
  kNone,
  kFail,                // refused before anything is written; the writer goes on
  kStall,               // takes simulated time, then commits
  kCrashBeforeDurable,  // the process dies before the commit is durable
  kCrashAfterDurable,   // the process dies after it is durable, before anyone is answered
  kSyncFailed,          // the sync reports an error: durable or not, nobody knows
};

// The system of record as the reference store holds it, mirrored from every mutation it
// applied: what a restart recovers, and what every acknowledgement is checked against.
struct Durable {
  std::int64_t total_stock = 0;
  std::int32_t per_user_limit = 0;
  std::map<std::string, core::Reservation> reservations;
  std::map<std::string, core::Order> orders;
  std::vector<core::AuditEvent> audit;  // in commit order
  std::size_t audit_verified = 0;       // events of `audit` already fed to the verifier

  void Apply(const core::Mutations& mutations) {
    for (const core::Mutation& mutation : mutations) {
      std::visit([this](const auto& m) { ApplyOne(m); }, mutation);
    }
  }

 private:
  void ApplyOne(const core::SaleCreated& m) {
    total_stock = m.sale.total_stock;
    per_user_limit = m.sale.per_user_limit;
  }
  void ApplyOne(const core::SaleStockChanged& m) { total_stock = m.to; }
  void ApplyOne(const core::ReservationCreated& m) {
    reservations[m.reservation.reservation_id] = m.reservation;
  }
  void ApplyOne(const core::ReservationStatusChanged& m) {
    reservations[m.reservation_id].status = m.to;
  }
  void ApplyOne(const core::OrderCreated& m) { orders[m.order.order_id] = m.order; }
  void ApplyOne(const core::OrderStatusChanged& m) { orders[m.order.order_id] = m.order; }
  void ApplyOne(const core::AuditAppended& m) { audit.push_back(m.event); }
  template <typename M>
  void ApplyOne(const M&) {}
};

// The world outside the engine that outlives its restarts: the disk (the reference store and
// its mirror), the clock, and the fault armed for the next commit.
struct World {
  explicit World(std::uint64_t seed) : rng(seed), clock(base::TimeFromMillis(1'900'000'000'000)) {}

  std::uint64_t Uniform(std::uint64_t bound) { return rng() % bound; }
  bool Chance(int percent) { return Uniform(100) < static_cast<std::uint64_t>(percent); }

  std::mt19937_64 rng;
  base::ManualClock clock;
  store::MemoryStore disk;
  Durable durable;
  Fault armed = Fault::kNone;
  bool crashed = false;  // the process died: nothing more becomes durable, nobody is answered
  std::int64_t faults = 0;
};

// The engine's store: the reference store behind the faults the world arms.
class FaultyDisk final : public store::Store {
 public:
  explicit FaultyDisk(World& world) : world_(world) {}

  base::Result<store::LoadedState> Load(base::Time idempotency_since) override {
    if (world_.crashed) return base::Unavailable("the process is down");
    return world_.disk.Load(idempotency_since);
  }

  Status Commit(const core::Mutations& mutations) override {
    if (world_.crashed) return base::Unavailable("the process is down");
    const Fault fault = std::exchange(world_.armed, Fault::kNone);
    if (fault != Fault::kNone) ++world_.faults;
    switch (fault) {
      case Fault::kFail:
        return base::Unavailable("injected: commit refused");
      case Fault::kCrashBeforeDurable:
        world_.crashed = true;
        return base::Unavailable("injected: crash before the durable point");
      case Fault::kStall:
        world_.clock.Advance(std::chrono::milliseconds(1 + world_.Uniform(3000)));
        return Apply(mutations);
      case Fault::kCrashAfterDurable: {
        Status applied = Apply(mutations);
        world_.crashed = true;
        if (!applied.ok()) return applied;
        return base::Unavailable("injected: crash after the durable point");
      }
      case Fault::kSyncFailed: {
        if (world_.Chance(50)) {
          Status applied = Apply(mutations);
          if (!applied.ok()) return applied;
        }
        return base::DataLoss("injected: fsync failed");
      }
      case Fault::kNone:
        break;
    }
    return Apply(mutations);
  }

  base::Result<std::vector<store::StoredCounters>> ReadCounters() override {
    return world_.disk.ReadCounters();
  }

 private:
  Status Apply(const core::Mutations& mutations) {
    Status status = world_.disk.Commit(mutations);
    if (status.ok()) world_.durable.Apply(mutations);
    return status;
  }

  World& world_;
};

// A keyed request whose first answer was acknowledged: a repeat must get the same answer.
struct KeyedRequest {
  std::string user;
  std::string key;
  bool checkout = false;
  std::string target;  // reserve: quantity as text; checkout: the reservation id
  std::string answer;  // the created resource's id, as the stored reply carries it
  bool acknowledged = false;
};

struct InFlightCharge {
  std::string order_id;
  std::int32_t attempt = 0;
};

// The gateway's decision per order (its idempotency key): the first charge that reaches it
// decides, every later call for the order returns that decision.
enum class Charge : std::uint8_t { kSucceeded, kDeclined };

class Simulation {
 public:
  Simulation(std::uint64_t seed, const RunOptions& options)
      : seed_(seed), options_(options), world_(seed) {}

  RunResult Run() {
    Log("seed " + std::to_string(seed_));
    Open();
    if (failure_.empty()) CreateSale();
    for (int step = 0; step < options_.steps && failure_.empty(); ++step) {
      Log("step " + std::to_string(step) + " t=" + std::to_string(base::ToMillis(Now())));
      Step();
      if (!failure_.empty()) break;
      if (world_.crashed || !engine_->healthy()) {
        Restart();
      } else if (step % 50 == 49) {
        Restart();  // a clean restart now and then: recovery from a clean stop
      }
      if (failure_.empty()) Check();
    }
    if (engine_) engine_->Stop();
    RunResult result;
    result.failure = failure_;
    result.history_hash = crypto::Sha256Hex(history_);
    counts_.faults_injected = world_.faults;
    result.counts = counts_;
    return result;
  }

 private:
  base::Time Now() const { return world_.clock.Now(); }
  void Log(const std::string& line) {
    history_ += line;
    history_ += '\n';
  }
  void Fail(const std::string& what) {
    if (failure_.empty()) failure_ = what;
  }

  // --- The engine's life -------------------------------------------------------------------

  void Open() {
    engine::Options options;
    options.writer_mode = engine::WriterMode::kStepped;
    options.seed = world_.rng() | 1;
    options.batch_size_max = 1 + world_.Uniform(16);
    options.inbox_capacity = 1024;  // a step queues a few dozen commands at most
    options.retry_schedule =
        core::RetrySchedule{{std::chrono::milliseconds(200), std::chrono::milliseconds(400),
                             std::chrono::milliseconds(800)},
                            20};
    auto opened = engine::Engine::Open(options, std::make_unique<FaultyDisk>(world_), world_.clock);
    if (!opened.has_value()) {
      Fail("recovery failed: " + opened.status().ToString());
      return;
    }
    engine_ = std::move(opened).value();
    Log("open batch_size_max=" + std::to_string(options.batch_size_max));
  }

  void Restart() {
    ++counts_.restarts;
    Log(std::string("restart") + (world_.crashed ? " crashed" : "") +
        (engine_->healthy() ? "" : " stopped"));
    engine_->Stop();  // a crashed process's stop writes nothing: the disk is gone for it
    engine_.reset();
    world_.crashed = false;
    world_.armed = Fault::kNone;
    in_flight_.clear();  // the payment worker died with it
    Open();
  }

  // Runs `command` through the writer; `on_reply` sees the answer only if the process was
  // alive to send it.
  template <typename C>
  void Submit(C command, std::function<void(const engine::ReplyOf<C>&)> on_reply) {
    ++counts_.commands;
    engine_->Submit(std::move(command),
                    [this, on_reply = std::move(on_reply)](engine::ReplyOf<C> reply) {
                      // The client's connection dropped: to it, an answer that never came.
                      if (world_.crashed) reply = {base::Unavailable("the process died"), {}};
                      on_reply(reply);
                    });
  }

  // Runs the writer until every queued command is answered (one batch at least, so due
  // reservations expire even when nothing was submitted).
  void Drain() {
    do {
      engine_->Step();
    } while (engine_->queue_length() > 0);
  }

  void CreateSale() {
    core::Sale sale;
    sale.sku_id = kSku;
    sale.name = "Simulated sale";
    sale.price_cents = 1999;
    sale.currency = "USD";
    sale.total_stock = kInitialStock;
    sale.per_user_limit = kPerUserLimit;
    sale.reservation_ttl_seconds = kTtlSeconds;
    Submit(engine::CreateSale{sale}, [this](const engine::ReplyOf<engine::CreateSale>& reply) {
      Log("create " + reply.status.ToString());
      if (!reply.status.ok() || reply.value.outcome != core::CreateSaleOutcome::kCreated) {
        Fail("the sale could not be created");
      }
    });
    Drain();
  }

  // --- One step ----------------------------------------------------------------------------

  void Step() {
    ArmFault();
    const int count = 1 + static_cast<int>(world_.Uniform(12));
    for (int i = 0; i < count; ++i) SubmitOne();
    Drain();
    world_.armed = Fault::kNone;  // an armed fault no commit used does not leak into checks
    const auto jump = world_.Chance(5) ? std::chrono::milliseconds(kTtlSeconds * 1000 + 500)
                                       : std::chrono::milliseconds(world_.Uniform(1200));
    world_.clock.Advance(jump);
  }

  void ArmFault() {
    const std::uint64_t roll = world_.Uniform(100);
    Fault fault = Fault::kNone;
    if (roll < 6) {
      fault = Fault::kFail;
    } else if (roll < 12) {
      fault = Fault::kStall;
    } else if (roll < 16) {
      fault = Fault::kCrashBeforeDurable;
    } else if (roll < 20) {
      fault = Fault::kCrashAfterDurable;
    } else if (roll < 22) {
      fault = Fault::kSyncFailed;
    }
    world_.armed = fault;
    if (fault != Fault::kNone) Log("fault " + std::to_string(static_cast<int>(fault)));
  }

  void SubmitOne() {
    const std::uint64_t roll = world_.Uniform(100);
    if (roll < 34) return Reserve();
    if (roll < 42) return RetryKey();
    if (roll < 50) return Release();
    if (roll < 64) return Checkout();
    if (roll < 76) return PollDueOrders();
    if (roll < 88) return AnswerCharges();
    if (roll < 92) return DeliverLateReport();
    if (roll < 95) return AdjustStock();
    if (roll < 97) return OpenOrClose();
    return ResolveOrders();
  }

  std::string RandomUser() { return "user" + std::to_string(world_.Uniform(kUsers)); }
  std::string NewKey() { return "key-" + std::to_string(next_key_++); }

  void Reserve() {
    KeyedRequest request;
    request.user = RandomUser();
    request.key = world_.Chance(80) ? NewKey() : "";
    request.target = std::to_string(1 + world_.Uniform(2));
    SubmitReserve(std::move(request));
  }

  void SubmitReserve(KeyedRequest request) {
    core::ReserveCommand command{kSku, request.user, std::stoi(request.target), request.key};
    Log("reserve " + request.user + " q=" + request.target + " key=" + request.key);
    Submit(engine::Reserve{command},
           [this, request = std::move(request)](const engine::ReplyOf<engine::Reserve>& reply) {
             OnReserved(request, reply);
           });
  }

  void OnReserved(KeyedRequest request, const engine::ReplyOf<engine::Reserve>& reply) {
    if (!reply.status.ok()) {
      Log("  reserve " + reply.status.ToString());
      if (!request.key.empty()) unanswered_.push_back(request);
      return;
    }
    const core::ReserveResult& result = reply.value;
    Log("  reserve outcome=" + std::to_string(static_cast<int>(result.outcome)) +
        (result.reservation ? " id=" + result.reservation->reservation_id : "") +
        (result.replay ? " replay=" + result.replay->response_body : ""));
    if (result.outcome == core::ReserveOutcome::kReserved) {
      const core::Reservation& r = *result.reservation;
      ++counts_.reservations_acknowledged;
      acknowledged_reservations_[r.reservation_id] = r.user_id;
      if (r.user_id != request.user) Fail("a reservation for " + request.user + " went to another");
      held_.push_back({r.reservation_id, r.user_id});
      if (!request.key.empty()) {
        request.answer = r.reservation_id;
        request.acknowledged = true;
        keyed_.push_back(request);
      }
    } else if (result.outcome == core::ReserveOutcome::kReplayed) {
      CheckReplay(request, result.replay, "reserve");
    }
  }

  // A repeat of a keyed request: an acknowledged one must replay its first answer; one whose
  // answer was lost (503, or the process died) gets either a first answer or, if its commit
  // did become durable, the stored one.
  void RetryKey() {
    const bool lost = !unanswered_.empty() && (keyed_.empty() || world_.Chance(50));
    if (!lost && keyed_.empty()) return Reserve();
    KeyedRequest request;
    if (lost) {
      const std::size_t i = world_.Uniform(unanswered_.size());
      request = unanswered_[i];
      unanswered_.erase(unanswered_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      request = keyed_[world_.Uniform(keyed_.size())];
    }
    if (request.checkout) return SubmitCheckout(std::move(request));
    SubmitReserve(std::move(request));
  }

  void CheckReplay(const KeyedRequest& request,
                   const std::optional<core::IdempotencyRecord>& replay, const char* what) {
    ++counts_.replays_checked;
    if (!replay) return Fail(std::string(what) + " replay without its stored answer");
    if (request.acknowledged && replay->response_body != request.answer) {
      return Fail(std::string(what) + " replay of " + request.key + " answered " +
                  replay->response_body + ", first answer " + request.answer);
    }
    if (!request.acknowledged) {
      // The lost first answer was durable after all: the stored answer names a durable row.
      const bool known = request.checkout
                             ? world_.durable.orders.count(replay->response_body)
                             : world_.durable.reservations.count(replay->response_body);
      if (!known) return Fail(std::string(what) + " replay names nothing durable: " + request.key);
      KeyedRequest now_known = request;
      now_known.answer = replay->response_body;
      now_known.acknowledged = true;
      keyed_.push_back(std::move(now_known));
    }
  }

  void Release() {
    if (held_.empty()) return Reserve();
    const auto [id, owner] = held_[world_.Uniform(held_.size())];
    const std::string user = world_.Chance(90) ? owner : RandomUser();
    Log("release " + id + " by " + user);
    Submit(engine::Release{id, user}, [this, id = id](const engine::ReplyOf<engine::Release>& r) {
      Log("  release " + r.status.ToString() +
          " outcome=" + std::to_string(static_cast<int>(r.value.outcome)));
      if (r.status.ok() && r.value.outcome == core::ReleaseOutcome::kReleased) {
        acknowledged_releases_.insert(id);
      }
    });
  }

  void Checkout() {
    if (held_.empty()) return Reserve();
    const auto [id, owner] = held_[world_.Uniform(held_.size())];
    KeyedRequest request;
    request.user = owner;
    request.key = world_.Chance(85) ? NewKey() : "";
    request.checkout = true;
    request.target = id;
    SubmitCheckout(std::move(request));
  }

  void SubmitCheckout(KeyedRequest request) {
    core::CheckoutCommand command{request.target, request.user, "pm_card_visa", request.key};
    Log("checkout " + request.target + " by " + request.user + " key=" + request.key);
    Submit(engine::Checkout{command},
           [this, request = std::move(request)](const engine::ReplyOf<engine::Checkout>& reply) {
             if (!reply.status.ok()) {
               Log("  checkout " + reply.status.ToString());
               if (!request.key.empty()) unanswered_.push_back(request);
               return;
             }
             const core::CheckoutResult& result = reply.value;
             Log("  checkout outcome=" + std::to_string(static_cast<int>(result.outcome)) +
                 (result.order ? " order=" + result.order->order_id : ""));
             if (result.outcome == core::CheckoutOutcome::kCreated) {
               ++counts_.orders_acknowledged;
               acknowledged_orders_[result.order->order_id] = request.target;
               if (!request.key.empty()) {
                 KeyedRequest known = request;
                 known.answer = result.order->order_id;
                 known.acknowledged = true;
                 keyed_.push_back(std::move(known));
               }
             } else if (result.outcome == core::CheckoutOutcome::kReplayed) {
               CheckReplay(request, result.replay, "checkout");
             }
           });
  }

  // --- The payment worker and the gateway ----------------------------------------------------

  void PollDueOrders() {
    Log("due orders");
    Submit(engine::DueOrders{8}, [this](const engine::ReplyOf<engine::DueOrders>& reply) {
      Log("  due " + reply.status.ToString() + " n=" + std::to_string(reply.value.size()));
      for (const core::Order& order : reply.value) {
        const bool calling = std::any_of(in_flight_.begin(), in_flight_.end(), [&](const auto& c) {
          return c.order_id == order.order_id;
        });
        if (!calling) in_flight_.push_back({order.order_id, order.attempts + 1});
      }
    });
  }

  // The gateway answers some of the calls in flight; each answer becomes a report.
  void AnswerCharges() {
    if (in_flight_.empty()) return PollDueOrders();
    const std::size_t i = world_.Uniform(in_flight_.size());
    const InFlightCharge call = in_flight_[i];
    in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(i));
    core::PaymentReport report;
    report.order_id = call.order_id;
    report.attempt = call.attempt;
    if (world_.Chance(10)) {
      report.outcome = core::ChargeOutcome::kRetryable;  // never reached the gateway
      report.reason = "connection refused";
    } else {
      auto [it, first] = gateway_.try_emplace(call.order_id, Charge::kSucceeded);
      if (first && world_.Chance(20)) it->second = Charge::kDeclined;
      const core::ChargeOutcome decided = it->second == Charge::kSucceeded
                                              ? core::ChargeOutcome::kSucceeded
                                              : core::ChargeOutcome::kDeclined;
      if (world_.Chance(20)) {
        // A timeout: the worker reports a transient failure; the real answer arrives late.
        report.outcome = core::ChargeOutcome::kRetryable;
        report.reason = "timeout";
        core::PaymentReport late = report;
        late.outcome = decided;
        late.reason.clear();
        late_.push_back(late);
      } else {
        report.outcome = decided;
      }
    }
    SubmitReport(report, /*late=*/false);
  }

  void DeliverLateReport() {
    if (late_.empty()) return AnswerCharges();
    const std::size_t i = world_.Uniform(late_.size());
    const core::PaymentReport report = late_[i];
    late_.erase(late_.begin() + static_cast<std::ptrdiff_t>(i));
    SubmitReport(report, /*late=*/true);
  }

  void SubmitReport(const core::PaymentReport& report, bool late) {
    Log(std::string(late ? "late " : "") + "report " + report.order_id + " attempt " +
        std::to_string(report.attempt) +
        " outcome=" + std::to_string(static_cast<int>(report.outcome)));
    const std::string attempt_key = report.order_id + "#" + std::to_string(report.attempt);
    const bool recorded_before = recorded_attempts_.count(attempt_key) > 0;
    Submit(engine::RecordPayment{report}, [this, late, attempt_key, recorded_before, report](
                                              const engine::ReplyOf<engine::RecordPayment>& reply) {
      Log("  report " + reply.status.ToString() +
          " outcome=" + std::to_string(static_cast<int>(reply.value.outcome)));
      if (!reply.status.ok()) return;
      const core::PaymentReportOutcome outcome = reply.value.outcome;
      if (late && recorded_before && outcome != core::PaymentReportOutcome::kStale &&
          outcome != core::PaymentReportOutcome::kOrderNotFound) {
        return Fail("a late answer for an attempt already recorded changed order " +
                    report.order_id);
      }
      if (outcome != core::PaymentReportOutcome::kStale &&
          outcome != core::PaymentReportOutcome::kOrderNotFound) {
        recorded_attempts_.insert(attempt_key);
      }
      if (outcome == core::PaymentReportOutcome::kPaid) {
        ++counts_.orders_paid;
        acknowledged_paid_.insert(report.order_id);
      }
      if (outcome == core::PaymentReportOutcome::kFailed) {
        acknowledged_failed_.insert(report.order_id);
      }
    });
  }

  // --- The operator --------------------------------------------------------------------------

  void AdjustStock() {
    const std::int64_t delta = static_cast<std::int64_t>(world_.Uniform(6)) - 2;
    Log("adjust stock " + std::to_string(delta));
    Submit(engine::AdjustStock{kSku, delta},
           [this](const engine::ReplyOf<engine::AdjustStock>& reply) {
             Log("  adjust " + reply.status.ToString() +
                 " outcome=" + std::to_string(static_cast<int>(reply.value.outcome)));
           });
  }

  void OpenOrClose() {
    const auto to = world_.Chance(40) ? core::SaleOverride::kClosed : core::SaleOverride::kNone;
    Log("override " + std::to_string(static_cast<int>(to)));
    Submit(engine::SetSaleOverride{kSku, to},
           [this](const engine::ReplyOf<engine::SetSaleOverride>& reply) {
             Log("  override " + reply.status.ToString() +
                 " outcome=" + std::to_string(static_cast<int>(reply.value.outcome)));
           });
  }

  // Orders whose retries ran out are settled by hand, as the gateway decided.
  void ResolveOrders() {
    Log("list needs attention");
    Submit(engine::ListOrders{core::OrderStatus::kNeedsAttention, 4},
           [this](const engine::ReplyOf<engine::ListOrders>& reply) {
             Log("  list " + reply.status.ToString() + " n=" + std::to_string(reply.value.size()));
             for (const core::Order& order : reply.value) {
               const auto it = gateway_.find(order.order_id);
               const bool charged = it != gateway_.end() && it->second == Charge::kSucceeded;
               const auto choice =
                   charged ? core::ResolveChoice::kPaid : core::ResolveChoice::kFailed;
               Log("resolve " + order.order_id + " " + (charged ? "paid" : "failed"));
               Submit(engine::ResolveOrder{order.order_id, choice},
                      [this](const engine::ReplyOf<engine::ResolveOrder>& r) {
                        Log("  resolve " + r.status.ToString() +
                            " outcome=" + std::to_string(static_cast<int>(r.value.outcome)));
                      });
             }
           });
  }

  // --- Invariants --------------------------------------------------------------------------

  void Check() {
    const Status consistency = engine_->CheckConsistency();
    if (!consistency.ok()) return Fail("memory and store disagree: " + consistency.ToString());
    const Durable& d = world_.durable;
    std::int64_t held = 0;
    std::int64_t sold = 0;
    std::map<std::string, std::int64_t> units;
    for (const auto& [id, r] : d.reservations) {
      if (core::IsHeld(r.status)) held += r.quantity;
      if (r.status == core::ReservationStatus::kPurchased) sold += r.quantity;
      if (core::CountsTowardUserLimit(r.status)) units[r.user_id] += r.quantity;
    }
    if (held + sold > d.total_stock) {
      return Fail("oversold: held " + std::to_string(held) + " + sold " + std::to_string(sold) +
                  " > stock " + std::to_string(d.total_stock));
    }
    for (const auto& [user, n] : units) {
      if (n > d.per_user_limit) return Fail(user + " holds " + std::to_string(n) + " units");
    }
    const auto published = engine_->FindSale(kSku);
    if (!published) return Fail("the sale is not published");
    const core::StockCounters& c = published->counters;
    if (c.held != held || c.sold != sold || c.total != d.total_stock) {
      return Fail("published counters " + std::to_string(c.total) + "/" + std::to_string(c.held) +
                  "/" + std::to_string(c.sold) + " differ from the rows " +
                  std::to_string(d.total_stock) + "/" + std::to_string(held) + "/" +
                  std::to_string(sold));
    }
    for (const auto& [id, owner] : acknowledged_reservations_) {
      const auto it = d.reservations.find(id);
      if (it == d.reservations.end()) return Fail("acknowledged reservation lost: " + id);
      if (it->second.user_id != owner) return Fail("reservation changed owner: " + id);
    }
    for (const std::string& id : acknowledged_releases_) {
      if (d.reservations.at(id).status != core::ReservationStatus::kReleased) {
        return Fail("acknowledged release lost: " + id);
      }
    }
    for (const auto& [order_id, reservation_id] : acknowledged_orders_) {
      const auto it = d.orders.find(order_id);
      if (it == d.orders.end()) return Fail("acknowledged order lost: " + order_id);
      if (it->second.reservation_id != reservation_id) return Fail("order moved: " + order_id);
    }
    for (const auto& [order_id, order] : d.orders) {
      const core::ReservationStatus r = d.reservations.at(order.reservation_id).status;
      const auto charge = gateway_.find(order_id);
      const bool charged = charge != gateway_.end() && charge->second == Charge::kSucceeded;
      if (order.status == core::OrderStatus::kPaid &&
          (!charged || r != core::ReservationStatus::kPurchased)) {
        return Fail("order " + order_id + " paid without a charge or a purchase");
      }
      if (order.status == core::OrderStatus::kFailed && charged) {
        return Fail("order " + order_id + " failed although the gateway charged it");
      }
      if (acknowledged_paid_.count(order_id) && order.status != core::OrderStatus::kPaid) {
        return Fail("acknowledged payment lost: " + order_id);
      }
      if (acknowledged_failed_.count(order_id) && order.status != core::OrderStatus::kFailed) {
        return Fail("acknowledged payment failure lost: " + order_id);
      }
    }
    for (; world_.durable.audit_verified < d.audit.size(); ++world_.durable.audit_verified) {
      if (!verifier_.Next(d.audit[world_.durable.audit_verified])) {
        return Fail("audit chain broken at event " +
                    std::to_string(verifier_.broken_event_id().value_or(0)) + ": " +
                    verifier_.reason());
      }
    }
    if (engine_->audit_head().event_id != verifier_.head().event_id) {
      return Fail("the writer's audit head is not the durable chain's last event");
    }
    // Reservations that ended leave the model's list of ones to act on.
    std::erase_if(held_, [&](const auto& entry) {
      const auto it = d.reservations.find(entry.first);
      return it != d.reservations.end() && !core::IsHeld(it->second.status);
    });
    Log("check held=" + std::to_string(held) + " sold=" + std::to_string(sold) +
        " stock=" + std::to_string(d.total_stock) + " audit=" + std::to_string(d.audit.size()));
  }

  const std::uint64_t seed_;
  const RunOptions options_;
  World world_;
  std::unique_ptr<engine::Engine> engine_;
  std::string history_;
  std::string failure_;
  RunCounts counts_;
  std::int64_t next_key_ = 1;
  core::AuditChainVerifier verifier_{&crypto::Sha256Hex};

  std::vector<std::pair<std::string, std::string>> held_;  // (reservation id, owner) to act on
  std::map<std::string, std::string> acknowledged_reservations_;  // id -> owner
  std::set<std::string> acknowledged_releases_;
  std::map<std::string, std::string> acknowledged_orders_;  // order id -> reservation id
  std::set<std::string> acknowledged_paid_;
  std::set<std::string> acknowledged_failed_;
  std::vector<KeyedRequest> keyed_;       // acknowledged keyed requests
  std::vector<KeyedRequest> unanswered_;  // keyed requests whose answer was lost
  std::vector<InFlightCharge> in_flight_;
  std::vector<core::PaymentReport> late_;    // gateway answers that arrive after a timeout
  std::set<std::string> recorded_attempts_;  // "order#attempt" acknowledged as recorded
  std::map<std::string, Charge> gateway_;
};

}  // namespace

RunCounts& RunCounts::operator+=(const RunCounts& other) {
  commands += other.commands;
  reservations_acknowledged += other.reservations_acknowledged;
  orders_acknowledged += other.orders_acknowledged;
  orders_paid += other.orders_paid;
  replays_checked += other.replays_checked;
  faults_injected += other.faults_injected;
  restarts += other.restarts;
  return *this;
}

RunResult RunSeed(std::uint64_t seed, const RunOptions& options) {
  return Simulation(seed, options).Run();
}

}  // namespace fs::sim
