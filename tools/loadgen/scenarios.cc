#include "tools/loadgen/scenarios.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "auth/jwt.h"
#include "tools/loadgen/arrival.h"
#include "tools/loadgen/catalog.h"
#include "tools/loadgen/http_pool.h"

namespace fs::loadgen {

namespace asio = boost::asio;
using http_verb = boost::beast::http::verb;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int kCheckoutUnknown = 0;
constexpr int kCheckoutAvailable = 1;
constexpr int kCheckoutMissing = 2;

// State shared by every load coroutine. Atomics only; per-thread results live in RunStats.
struct Shared {
  explicit Shared(const Config& c) : config(c), signer(c.jwt_secret) {}
  const Config& config;
  // The secret's HMAC state, prepared once: a token is minted per request.
  const auth::JwtSigner signer;
  SteadyClock::time_point start;
  SteadyClock::time_point deadline;
  // Past this, due jobs are no longer sent but counted as unsent (the generator or server fell
  // behind), so an overloaded open-loop run still ends in bounded time.
  SteadyClock::time_point hard_stop;
  std::atomic<std::uint64_t> unsent{0};
  std::optional<ArrivalSchedule> schedule;  // nullopt: closed loop
  std::uint64_t jobs_max = 0;               // 0: unbounded
  std::atomic<std::uint64_t> next_job{0};
  std::atomic<std::uint64_t> jobs_done{0};
  std::atomic<std::uint64_t> answers{0};
  std::atomic<std::uint64_t> units{0};
  std::atomic<std::int64_t> sold_out_micros{-1};
  std::atomic<int> checkout_state{kCheckoutUnknown};
  std::atomic<bool> order_route_missing{false};
  std::atomic<bool> order_wait_refused{false};  // the server does not hold order reads
  std::string user_prefix;
  std::int64_t token_expiry_seconds = 0;
};

double MillisSince(SteadyClock::time_point since) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - since).count();
}

std::string Token(const Shared& shared, const std::string& user) {
  auth::Claims claims;
  claims.subject = user;
  claims.expires_at_seconds = shared.token_expiry_seconds;
  return "Bearer " + shared.signer.Sign(claims);
}

// Records an answer for `endpoint`, latency from `since` (the intended send time for the
// first request of a job). Returns the error code of a non-2xx answer.
std::string Record(Shared& shared, RunStats& stats, const char* endpoint,
                   SteadyClock::time_point since, const Response& response) {
  EndpointStats& e = stats.endpoints[endpoint];
  shared.answers.fetch_add(1, std::memory_order_relaxed);
  if (response.status == 0) {
    ++e.transport_errors;
    return "";
  }
  const auto due = std::chrono::duration_cast<std::chrono::seconds>(since - shared.start).count();
  e.RecordAnswer(static_cast<std::size_t>(std::max<std::int64_t>(0, due)), MillisSince(since));
  ++e.status_count[response.status];
  if (response.status < 400) return "";
  std::string code = ErrorCode(response.body);
  if (!code.empty()) ++e.error_code_count[code];
  if (code == "SOLD_OUT") {
    std::int64_t unset = -1;
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - shared.start)
            .count();
    shared.sold_out_micros.compare_exchange_strong(unset, micros);
  }
  return code;
}

Request ReserveRequest(const Shared& shared, const std::string& user) {
  Request r{http_verb::post,
            "/api/v1/products/" + shared.config.sku + "/reserve",
            R"({"quantity":1})",
            {}};
  r.headers.push_back({"Authorization", Token(shared, user)});
  return r;
}

bool Abandons(const Config& c, std::uint64_t index) {
  // Deterministic spread: the same users abandon in every run of the same configuration.
  const std::uint64_t bucket = (index * 2654435761ULL) % 10000;
  return static_cast<double>(bucket) < c.abandon_share * 10000.0;
}

// Reads the order until it leaves PENDING. RunStats::order_settled gets, per order seen final,
// the time from the checkout's 202 (`accepted_at`) to the read that saw it final: how long a
// buyer waits to learn whether they bought (to within a poll interval when reads are not held).
asio::awaitable<void> PollOrder(Shared& shared, RunStats& stats, Connection& connection,
                                const std::string& auth, const std::string& order_id,
                                const std::string& user, SteadyClock::time_point accepted_at) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::string status = "PENDING";
  // A held read is answered when the order settles: its latency is the payment's, so it is
  // reported apart ("order_wait") from the immediate reads' ("order").
  bool held = shared.config.order_wait == OrderWait::kLongPoll &&
              !shared.order_wait_refused.load(std::memory_order_relaxed);
  const std::string wait = "?wait_seconds=" + std::to_string(shared.config.order_wait_seconds);
  // Reading stops at the run's hard stop too: an order still PENDING then is reported so.
  for (int poll = 0; poll < shared.config.order_polls_max && SteadyClock::now() < shared.hard_stop;
       ++poll) {
    Request get{http_verb::get,
                "/api/v1/orders/" + order_id + (held ? wait : ""),
                "",
                {{"Authorization", auth}}};
    const auto sent = SteadyClock::now();
    const Response response = co_await connection.Send(get);
    const std::string code = Record(shared, stats, held ? "order_wait" : "order", sent, response);
    if (code == "NOT_FOUND") {
      shared.order_route_missing.store(true);
      status = "UNKNOWN";
      break;
    }
    if (response.status == 200) status = StringField(response.body, "status");
    if (status != "PENDING") break;
    // A PENDING answer to a held read comes after the whole wait; one much sooner is from a
    // server without held reads (it ignores the parameter): the rest of the run polls.
    if (held && response.status == 200 &&
        MillisSince(sent) < shared.config.order_wait_seconds * 500.0) {
      shared.order_wait_refused.store(true, std::memory_order_relaxed);
      held = false;
    }
    if (held && response.status == 200) continue;  // the wait ran out: hold the next read
    timer.expires_after(std::chrono::milliseconds(shared.config.order_poll_interval_ms));
    co_await timer.async_wait(asio::use_awaitable);
  }
  ++stats.order_final_status[status];
  if (status != "PENDING" && status != "UNKNOWN")
    stats.order_settled.Record(MillisSince(accepted_at));
  if (status == "FAILED") --stats.units_by_user[user];
}

// A sale winner waiting for its second step (release or checkout), handed from the job
// connection to a winner worker so that the next users' reserves are not held up behind a
// checkout and its order polling (real users each have their own connection).
struct Winner {
  std::uint64_t index = 0;
  std::string user;
  std::string auth;
  std::string reservation_id;
};

// Per load thread; used only on that thread's io_context, so no locks.
struct WinnerQueue {
  explicit WinnerQueue(asio::io_context& io) : signal(io) {
    signal.expires_at(SteadyClock::time_point::max());
  }
  void Push(Winner winner) {
    items.push_back(std::move(winner));
    signal.cancel_one();  // wakes one idle worker, if any
  }
  void ProducerDone() {
    if (--producers == 0) signal.cancel();
  }
  std::deque<Winner> items;
  asio::steady_timer signal;  // never expires; cancelled to wake workers
  int producers = 0;          // job loops still running on this thread
};

// One sale user: reserve; a winner goes to the thread's winner queue.
asio::awaitable<void> SaleUser(Shared& shared, RunStats& stats, Connection& connection,
                               WinnerQueue& winners, std::uint64_t index,
                               SteadyClock::time_point intended) {
  const std::string user = shared.user_prefix + "u" + std::to_string(index);
  Request reserve = ReserveRequest(shared, user);
  const Response reserved = co_await connection.Send(reserve);
  Record(shared, stats, "reserve", intended, reserved);
  if (reserved.status != 201) co_return;
  ++stats.units.honest;
  ++stats.units_by_user[user];
  shared.units.fetch_add(1, std::memory_order_relaxed);
  winners.Push({index, user, std::move(reserve.headers.front().value),
                StringField(reserved.body, "reservation_id")});
}

// A winner abandons (release) or checks out and polls the order. Latency is measured from
// each request's send time: a winner worker stays busy while it polls its order, so the wait
// for a free worker is the load generator's own queue, not the server's (size the pool with
// --winner-connections).
asio::awaitable<void> FinishSale(Shared& shared, RunStats& stats, Connection& connection,
                                 const Winner& w) {
  const Config& c = shared.config;
  if (Abandons(c, w.index)) {
    Request release{http_verb::delete_,
                    "/api/v1/reservations/" + w.reservation_id,
                    "",
                    {{"Authorization", w.auth}}};
    const auto sent = SteadyClock::now();
    const Response released = co_await connection.Send(release);
    Record(shared, stats, "release", sent, released);
    if (released.status == 200) {
      ++stats.releases;
      --stats.units_by_user[w.user];
    }
    co_return;
  }
  if (shared.checkout_state.load() == kCheckoutMissing) co_return;
  Request checkout{http_verb::post,
                   "/api/v1/checkout",
                   R"({"reservation_id":")" + w.reservation_id + R"(","payment_method_id":")" +
                       c.payment_method + R"("})",
                   {{"Authorization", w.auth}, {"Idempotency-Key", "co-" + w.reservation_id}}};
  const auto sent = SteadyClock::now();
  const Response accepted = co_await connection.Send(checkout);
  const std::string code = Record(shared, stats, "checkout", sent, accepted);
  if (code == "NOT_FOUND") {
    shared.checkout_state.store(kCheckoutMissing);
    co_return;
  }
  if (accepted.status != 202 && accepted.status != 201 && accepted.status != 200) co_return;
  shared.checkout_state.store(kCheckoutAvailable);
  ++stats.checkouts_accepted;
  if (shared.order_route_missing.load()) co_return;
  const auto accepted_at = SteadyClock::now();
  co_await PollOrder(shared, stats, connection, w.auth, StringField(accepted.body, "order_id"),
                     w.user, accepted_at);
}

void CountUnit(Shared& shared, RunStats& stats, const std::string& user, bool bot);

// The checkout scenario: a new user reserves, then checks out at once on the same connection.
// Checkout latency is from its own send in closed loop, and from the job's intended time in
// open loop (so it includes the reserve and any queueing).
asio::awaitable<void> ReserveThenCheckout(Shared& shared, RunStats& stats, Connection& connection,
                                          std::uint64_t index, SteadyClock::time_point intended) {
  const Config& c = shared.config;
  const std::string user = shared.user_prefix + "c" + std::to_string(index);
  const Request reserve = ReserveRequest(shared, user);
  const Response reserved = co_await connection.Send(reserve);
  Record(shared, stats, "reserve", intended, reserved);
  if (reserved.status != 201) co_return;
  CountUnit(shared, stats, user, false);
  const std::string reservation_id = StringField(reserved.body, "reservation_id");
  const Request checkout{http_verb::post,
                         "/api/v1/checkout",
                         R"({"reservation_id":")" + reservation_id + R"(","payment_method_id":")" +
                             c.payment_method + R"("})",
                         {reserve.headers.front(), {"Idempotency-Key", "co-" + reservation_id}}};
  const auto since = shared.schedule ? intended : SteadyClock::now();
  const Response accepted = co_await connection.Send(checkout);
  const std::string code = Record(shared, stats, "checkout", since, accepted);
  if (code == "NOT_FOUND") shared.checkout_state.store(kCheckoutMissing);
  if (accepted.status == 202) {
    shared.checkout_state.store(kCheckoutAvailable);
    ++stats.checkouts_accepted;
  }
}

asio::awaitable<void> WinnerWorker(Shared& shared, RunStats& stats, WinnerQueue& winners) {
  Connection connection(co_await asio::this_coro::executor, shared.config.host, shared.config.port,
                        std::chrono::milliseconds(static_cast<std::int64_t>(
                            shared.config.request_timeout_seconds * 1000)));
  for (;;) {
    if (winners.items.empty()) {
      if (winners.producers == 0) break;
      boost::system::error_code cancelled;  // the wake-up itself
      co_await winners.signal.async_wait(asio::redirect_error(asio::use_awaitable, cancelled));
      continue;
    }
    const Winner winner = std::move(winners.items.front());
    winners.items.pop_front();
    co_await FinishSale(shared, stats, connection, winner);
  }
}

// Contest: honest user `index`, one reserve with its own IP and device.
Request HonestRequest(const Shared& shared, std::uint64_t index, std::string& user) {
  user = shared.user_prefix + "h" + std::to_string(index);
  Request r = ReserveRequest(shared, user);
  r.headers.push_back({"X-Forwarded-For", "10." + std::to_string((index >> 16) & 255) + "." +
                                              std::to_string((index >> 8) & 255) + "." +
                                              std::to_string(index & 255)});
  r.headers.push_back({"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"});
  r.headers.push_back({"X-Device-Id", "device-" + std::to_string(index)});
  return r;
}

Request BotRequest(const Shared& shared, int bot, std::uint64_t n, std::string& user) {
  const Config& c = shared.config;
  user = shared.user_prefix + "bot" + std::to_string(bot) + "-" + std::to_string(n);
  Request r = ReserveRequest(shared, user);
  r.headers.push_back({"X-Forwarded-For", "203.0.113." + std::to_string(bot % c.bot_ips + 1)});
  r.headers.push_back({"User-Agent", "python-requests/2.31"});
  r.headers.push_back({"X-Device-Id", "bot-device-" + std::to_string(bot % c.bot_devices)});
  return r;
}

void CountUnit(Shared& shared, RunStats& stats, const std::string& user, bool bot) {
  (bot ? stats.units.bots : stats.units.honest) += 1;
  ++stats.units_by_user[user];
  shared.units.fetch_add(1, std::memory_order_relaxed);
}

asio::awaitable<void> BotClient(Shared& shared, RunStats& stats, int bot) {
  Connection connection(co_await asio::this_coro::executor, shared.config.host, shared.config.port,
                        std::chrono::milliseconds(static_cast<std::int64_t>(
                            shared.config.request_timeout_seconds * 1000)));
  for (std::uint64_t n = 0; SteadyClock::now() < shared.deadline; ++n) {
    const bool honest_done = shared.jobs_done.load() >= shared.jobs_max;
    if (honest_done && shared.sold_out_micros.load() >= 0) break;
    std::string user;
    const Request request = BotRequest(shared, bot, n, user);
    const auto sent = SteadyClock::now();
    const Response response = co_await connection.Send(request);
    Record(shared, stats, "reserve-bot", sent, response);
    if (response.status == 201) CountUnit(shared, stats, user, true);
  }
}

// Takes jobs until the bounds are reached; each job at its intended time (open loop) or at
// once (closed loop).
asio::awaitable<void> JobLoop(Shared& shared, RunStats& stats, WinnerQueue& winners) {
  const Config& c = shared.config;
  auto executor = co_await asio::this_coro::executor;
  Connection connection(
      executor, c.host, c.port,
      std::chrono::milliseconds(static_cast<std::int64_t>(c.request_timeout_seconds * 1000)));
  asio::steady_timer timer(executor);
  for (;;) {
    const std::uint64_t index = shared.next_job.fetch_add(1);
    if (shared.jobs_max > 0 && index >= shared.jobs_max) break;
    auto intended = SteadyClock::now();
    if (shared.schedule) {
      intended = shared.start + std::chrono::microseconds(shared.schedule->OffsetMicros(index));
      if (intended >= shared.deadline) break;
      if (SteadyClock::now() >= shared.hard_stop) {
        shared.unsent.fetch_add(1);
        continue;
      }
      if (intended > SteadyClock::now()) {
        timer.expires_at(intended);
        co_await timer.async_wait(asio::use_awaitable);
      }
    } else if (intended >= shared.deadline) {
      break;
    }
    switch (c.scenario) {
      case Scenario::kAvailability: {
        const Request get{http_verb::get, "/api/v1/products/" + c.sku + "/availability", "", {}};
        Record(shared, stats, "availability", intended, co_await connection.Send(get));
        break;
      }
      case Scenario::kSearch: {
        const Request get{http_verb::get, SearchTarget(index), "", {}};
        Record(shared, stats, "search", intended, co_await connection.Send(get));
        break;
      }
      case Scenario::kReserveOnly: {
        const std::string user = shared.user_prefix + std::to_string(index % c.users);
        const Response response = co_await connection.Send(ReserveRequest(shared, user));
        Record(shared, stats, "reserve", intended, response);
        if (response.status == 201) CountUnit(shared, stats, user, false);
        break;
      }
      case Scenario::kSale:
        co_await SaleUser(shared, stats, connection, winners, index, intended);
        break;
      case Scenario::kCheckout:
        co_await ReserveThenCheckout(shared, stats, connection, index, intended);
        break;
      case Scenario::kContest: {
        std::string user;
        const Response response = co_await connection.Send(HonestRequest(shared, index, user));
        Record(shared, stats, "reserve-honest", intended, response);
        if (response.status == 201) CountUnit(shared, stats, user, false);
        break;
      }
    }
    shared.jobs_done.fetch_add(1);
  }
  winners.ProducerDone();
}

void SetUpSchedule(Shared& shared) {
  const Config& c = shared.config;
  shared.jobs_max = c.requests_max;
  switch (c.scenario) {
    case Scenario::kSale:
      shared.jobs_max = c.requests_max > 0 ? std::min(c.requests_max, c.users) : c.users;
      shared.schedule = ArrivalSchedule::OverWindow(c.users, c.ramp_seconds, c.arrival_shape);
      break;
    case Scenario::kContest:
      shared.jobs_max =
          c.requests_max > 0 ? std::min(c.requests_max, c.honest_users) : c.honest_users;
      shared.schedule = ArrivalSchedule::OverWindow(c.honest_users, c.honest_window_seconds,
                                                    ArrivalShape::kConstant);
      break;
    case Scenario::kAvailability:
    case Scenario::kSearch:
    case Scenario::kReserveOnly:
    case Scenario::kCheckout:
      if (c.rate > 0) shared.schedule = ArrivalSchedule::ConstantRate(c.rate);
      break;
  }
}

// Creates the search scenario's catalog from 16 connections (already existing sales are
// kept: 409 is fine).
base::Status CreateCatalog(const Config& c) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  std::atomic<std::uint64_t> next{0};
  std::atomic<int> failed_status{0};
  std::vector<std::thread> creators;
  for (int t = 0; t < 16; ++t) {
    creators.emplace_back([&] {
      for (std::uint64_t i = next++; i < c.catalog; i = next++) {
        const Request create{http_verb::post,
                             "/admin/v1/skus",
                             CatalogSaleBody(i, c.catalog, now_ms),
                             {{"Authorization", "Bearer " + c.admin_token}}};
        const Response response = BlockingSend(c.host, c.port, create);
        if (response.status != 201 && response.status != 409) failed_status = response.status;
      }
    });
  }
  for (auto& creator : creators) creator.join();
  if (failed_status.load() != 0) {
    return base::Unavailable("create catalog: HTTP " + std::to_string(failed_status.load()));
  }
  return base::Status::Ok();
}

base::Result<bool> CreateSale(const Config& c) {
  Request create{http_verb::post,
                 "/admin/v1/skus",
                 "{\"sku_id\":\"" + c.sku + "\",\"name\":\"Load test\",\"price_cents\":100," +
                     "\"currency\":\"USD\",\"total_stock\":" + std::to_string(c.create_stock) +
                     ",\"per_user_limit\":" + std::to_string(c.per_user_limit) +
                     ",\"reservation_ttl_seconds\":600}",
                 {{"Authorization", "Bearer " + c.admin_token}}};
  const Response response = BlockingSend(c.host, c.port, create);
  if (response.status == 201) return true;
  if (response.status == 409) return false;  // exists: run against it, no client-side bound
  return base::Unavailable("create sale: HTTP " + std::to_string(response.status) + " " +
                           response.body);
}

std::vector<InvariantCheck> FetchAndCheck(const Config& c, const RunStats& stats,
                                          bool created_fresh) {
  const Header admin{"Authorization", "Bearer " + c.admin_token};
  InvariantInput input;
  const Response sale =
      BlockingSend(c.host, c.port, {http_verb::get, "/admin/v1/skus/" + c.sku, "", {admin}});
  if (sale.status == 200) input.counters = ParseAdminCounters(sale.body);
  const Response reconciliation = BlockingSend(
      c.host, c.port, {http_verb::get, "/admin/v1/skus/" + c.sku + "/reconciliation", "", {admin}});
  if (reconciliation.status == 404 && ErrorCode(reconciliation.body) == "NOT_FOUND") {
    input.reconciliation_availability = ReconciliationAvailability::kNotAvailable;
  } else if (reconciliation.status == 200 && ParseReconciliation(reconciliation.body)) {
    input.reconciliation_availability = ReconciliationAvailability::kRead;
    input.reconciliation = *ParseReconciliation(reconciliation.body);
  } else {
    input.reconciliation_availability = ReconciliationAvailability::kFailed;
  }
  input.units_by_user = stats.units_by_user;
  if (created_fresh) {
    std::int64_t held_or_sold = 0;
    for (const auto& [user, units] : stats.units_by_user) held_or_sold += units;
    input.client_units_held_or_sold = held_or_sold;
  }
  return CheckInvariants(input);
}

// Prints a progress line to stderr every second until `done`.
class Progress {
 public:
  Progress(const Shared& shared, bool enabled) : shared_(shared) {
    if (enabled) thread_ = std::thread([this] { Loop(); });
  }
  ~Progress() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (printed_) std::fprintf(stderr, "\n");
  }

 private:
  void Loop() {
    std::unique_lock lock(mutex_);
    std::uint64_t last = 0;
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return done_; })) {
      const std::uint64_t answers = shared_.answers.load();
      const double seconds =
          std::chrono::duration<double>(SteadyClock::now() - shared_.start).count();
      const std::int64_t sold_out = shared_.sold_out_micros.load();
      std::fprintf(
          stderr, "\r%6.1f s  answers %10llu  %8llu/s  jobs %9llu  units %8llu  %s", seconds,
          static_cast<unsigned long long>(answers), static_cast<unsigned long long>(answers - last),
          static_cast<unsigned long long>(shared_.jobs_done.load()),
          static_cast<unsigned long long>(shared_.units.load()), sold_out >= 0 ? "sold out" : "");
      std::fflush(stderr);
      printed_ = true;
      last = answers;
    }
  }
  const Shared& shared_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  bool printed_ = false;
  std::thread thread_;
};

}  // namespace

base::Result<RunSummary> RunScenario(const Config& config) {
  if (config.catalog > 0) FS_RETURN_IF_ERROR(CreateCatalog(config));
  bool created_fresh = false;
  if (config.create_stock > 0) {
    auto created = CreateSale(config);
    if (!created) return created.error();
    created_fresh = *created;
  }
  Shared shared(config);
  shared.user_prefix = "lg" + std::to_string(::getpid()) + "-";
  shared.token_expiry_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count() +
                                3600;
  SetUpSchedule(shared);
  std::vector<RunStats> results(static_cast<std::size_t>(config.threads));
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int t = 0; t < config.threads; ++t) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
  }
  shared.start = SteadyClock::now();
  shared.deadline = shared.start + std::chrono::microseconds(
                                       static_cast<std::int64_t>(config.duration_seconds * 1e6));
  shared.hard_stop = shared.deadline + std::chrono::microseconds(
                                           static_cast<std::int64_t>(config.drain_seconds * 1e6));
  const auto thread_of = [&](int i) { return static_cast<std::size_t>(i % config.threads); };
  std::vector<std::unique_ptr<WinnerQueue>> winners;
  for (auto& context : contexts) winners.push_back(std::make_unique<WinnerQueue>(*context));
  for (int i = 0; i < config.connections; ++i) ++winners[thread_of(i)]->producers;
  for (int i = 0; i < config.connections; ++i) {
    asio::co_spawn(*contexts[thread_of(i)],
                   JobLoop(shared, results[thread_of(i)], *winners[thread_of(i)]), asio::detached);
  }
  if (config.scenario == Scenario::kSale) {
    for (int i = 0; i < std::max(config.winner_connections, config.threads); ++i) {
      asio::co_spawn(*contexts[thread_of(i)],
                     WinnerWorker(shared, results[thread_of(i)], *winners[thread_of(i)]),
                     asio::detached);
    }
  }
  if (config.scenario == Scenario::kContest) {
    for (int bot = 0; bot < config.bot_clients; ++bot) {
      asio::co_spawn(*contexts[thread_of(bot)], BotClient(shared, results[thread_of(bot)], bot),
                     asio::detached);
    }
  }
  {
    Progress progress(shared, config.progress && ::isatty(STDERR_FILENO) == 1);
    std::vector<std::thread> threads;
    for (auto& context : contexts) threads.emplace_back([&context] { context->run(); });
    for (auto& t : threads) t.join();
  }
  RunSummary summary;
  summary.config = config;
  summary.elapsed_seconds =
      std::chrono::duration<double>(SteadyClock::now() - shared.start).count();
  for (const RunStats& r : results) summary.stats.Merge(r);
  summary.unsent_jobs = shared.unsent.load();
  if (shared.sold_out_micros.load() >= 0) {
    summary.sold_out_after_seconds = static_cast<double>(shared.sold_out_micros.load()) / 1e6;
  }
  if (config.scenario == Scenario::kSale || config.scenario == Scenario::kCheckout) {
    const int state = shared.checkout_state.load();
    summary.checkout = state == kCheckoutMissing     ? Feature::kNotAvailable
                       : state == kCheckoutAvailable ? Feature::kAvailable
                                                     : Feature::kNotUsed;
  }
  // The search scenario reads a catalog: there is no one sale whose books to check.
  if (config.check_invariants && !config.admin_token.empty() &&
      config.scenario != Scenario::kSearch) {
    summary.invariants = FetchAndCheck(config, summary.stats, created_fresh);
  }
  return summary;
}

}  // namespace fs::loadgen
