#include "app/app.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "app/demo.h"
#include "audit/audit_index.h"
#include "auth/jwt.h"
#include "base/clock.h"
#include "base/log_throttle.h"
#include "base/thread_annotations.h"
#include "base/time_format.h"
#include "base/utf8.h"
#include "engine/engine.h"
#include "events/kafka_sink.h"
#include "events/log_sink.h"
#include "events/relay.h"
#include "events/smtp_sink.h"
#include "events/webhook_sink.h"
#include "http/api.h"
#include "http/json_render.h"
#include "http/outcome_table.h"
#include "http/reply_batch.h"
#include "http/server.h"
#include "http/side_server.h"
#include "log/log_output.h"
#include "metrics/flashsale_metrics.h"
#include "payment/gateway.h"
#include "payment/metered_gateway.h"
#include "payment/worker.h"
#include "redis/redis_services.h"
#include "store/postgres/pg_outbox.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_outbox.h"
#include "store/sqlite/sqlite_store.h"
#include "trace/tracing_config.h"

#ifndef FLASHSALE_VERSION
#define FLASHSALE_VERSION "unknown"
#endif
#ifndef FLASHSALE_REVISION
#define FLASHSALE_REVISION "unknown"
#endif

namespace fs::app {
namespace {

// The queued log output on stderr (log/log_output.h): lines dropped on a slow stderr are
// counted in flashsale_log_lines_dropped_total. Lives until RunServer returns.
std::unique_ptr<log::LogSession> SetUpLogging(LogLevel level, LogFormatChoice format) {
  log::OutputOptions options;
  switch (format) {
    case LogFormatChoice::kAuto:
      options.format = log::DefaultLogFormat(::isatty(STDERR_FILENO) == 1);
      break;
    case LogFormatChoice::kJson:
      options.format = log::LogFormat::kJson;
      break;
    case LogFormatChoice::kText:
      options.format = log::LogFormat::kText;
      break;
  }
  options.on_drop = [] { metrics::Drops().log_lines.Increment(); };
  auto session = std::make_unique<log::LogSession>(std::move(options));
  switch (level) {
    case LogLevel::kTrace:
      spdlog::set_level(spdlog::level::trace);
      break;
    case LogLevel::kDebug:
      spdlog::set_level(spdlog::level::debug);
      break;
    case LogLevel::kInfo:
      spdlog::set_level(spdlog::level::info);
      break;
    case LogLevel::kWarn:
      spdlog::set_level(spdlog::level::warn);
      break;
    case LogLevel::kError:
      spdlog::set_level(spdlog::level::err);
      break;
  }
  return session;
}

// 32 random bytes from the OS CSPRNG, hex encoded (demo secrets must not be guessable).
base::Result<std::string> RandomSecret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return base::Internal("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : bytes) {
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

// Who to wake after a commit. Filled in once the relay and the worker exist; read on the
// writer thread.
struct CommitListeners {
  // The outbox's relays (Publishers), each woken by every commit.
  std::array<std::atomic<events::Relay*>, 3> relays{};
  std::atomic<payment::PaymentWorker*> worker{nullptr};
  std::atomic<redis::RedisServices*> redis{nullptr};
  std::atomic<http::Catalog*> catalog{nullptr};
  std::atomic<http::Api*> api{nullptr};
  void Notify() {
    for (auto& slot : relays) {
      if (auto* r = slot.load(std::memory_order_acquire)) r->Notify();
    }
    if (auto* w = worker.load(std::memory_order_acquire)) w->Notify();
  }
  void SkusChanged(const std::vector<std::string>& sku_ids) {
    if (auto* r = redis.load(std::memory_order_acquire)) r->OnSkusChanged(sku_ids);
  }
  void Published(const std::vector<std::string>& sku_ids) {
    if (auto* c = catalog.load(std::memory_order_acquire)) c->MarkChanged(sku_ids);
  }
  void OrdersChanged(const std::vector<core::Order>& orders) {
    if (auto* a = api.load(std::memory_order_acquire)) a->OrdersChanged(orders);
  }
};

std::string DatabasePath(const Config& config) {
  return (std::filesystem::path(config.data_dir) / "flashsale.db").string();
}

// The relay's own connection: the SQLite file, or (cluster) PostgreSQL with one leader per
// sink across the nodes.
base::Result<std::unique_ptr<store::OutboxSource>> OpenOutboxSource(const Config& config) {
  if (!config.store_url.empty()) {
    auto source = store::PgOutbox::Open(config.store_url);
    if (!source) return source.error();
    return std::unique_ptr<store::OutboxSource>(std::move(*source));
  }
  auto source = store::SqliteOutbox::Open(DatabasePath(config));
  if (!source) return source.error();
  return std::unique_ptr<store::OutboxSource>(std::move(*source));
}

base::Result<std::unique_ptr<events::Relay>> OpenRelay(const Config& config,
                                                       const events::RelayOptions& relay) {
  auto source = OpenOutboxSource(config);
  if (!source) return source.error();
  std::unique_ptr<events::EventSink> sink;
  switch (config.events) {
    case EventSinkKind::kLog: {
      const std::string path = (std::filesystem::path(config.data_dir) / "events.jsonl").string();
      auto log = events::LogSink::Open(path);
      if (!log) return log.error();
      sink = std::move(*log);
      spdlog::info("events: relay to {} (log)", path);
      break;
    }
    case EventSinkKind::kWebhook: {
      events::WebhookOptions webhook;
      webhook.url = config.webhook_url;
      webhook.secret = config.webhook_secret;
      webhook.ca_file = config.tls_ca_file;
      sink = events::NewWebhookSink(std::move(webhook));
      spdlog::info("events: relay to {} (webhook)", config.webhook_url);
      break;
    }
    case EventSinkKind::kKafka: {
      events::KafkaOptions kafka;
      kafka.brokers = config.kafka_brokers;
      kafka.topic = config.kafka_topic;
      kafka.extra = config.kafka_properties;
      auto producer = events::NewKafkaSink(std::move(kafka));
      if (!producer) return producer.error();
      sink = std::move(*producer);
      spdlog::info("events: relay to kafka {} topic {} (idempotent, acks=all)",
                   config.kafka_brokers, config.kafka_topic);
      break;
    }
  }
  return std::make_unique<events::Relay>(relay, std::move(*source), std::move(sink));
}

// The outbox's publishers, each with its own cursor: the event stream, and the buyers'
// notifications (a webhook, e-mail) when configured.
struct Publishers {
  std::unique_ptr<events::Relay> events;
  std::unique_ptr<events::Relay> notifier;  // nullptr: no --notification-webhook-url
  std::unique_ptr<events::Relay> emailer;   // nullptr: no --smtp-url
  std::array<events::Relay*, 3> all() const {
    return {events.get(), notifier.get(), emailer.get()};
  }
};

// nullptr when no notification webhook is configured.
base::Result<std::unique_ptr<events::Relay>> OpenNotifier(const Config& config,
                                                          const events::RelayOptions& relay) {
  if (config.notification_webhook_url.empty()) return std::unique_ptr<events::Relay>();
  auto source = OpenOutboxSource(config);
  if (!source) return source.error();
  spdlog::info("notifications: order.confirmed and order.failed to {}",
               config.notification_webhook_url);
  events::WebhookOptions notify;
  notify.url = config.notification_webhook_url;
  notify.secret = config.webhook_secret;
  notify.ca_file = config.tls_ca_file;
  return std::make_unique<events::Relay>(relay, std::move(*source),
                                         events::NewNotificationSink(std::move(notify)));
}

// nullptr when no SMTP server is configured.
base::Result<std::unique_ptr<events::Relay>> OpenEmailer(const Config& config,
                                                         const events::RelayOptions& relay,
                                                         events::EmailCounters& counters) {
  if (!config.email) return std::unique_ptr<events::Relay>();
  auto source = OpenOutboxSource(config);
  if (!source) return source.error();
  spdlog::info("e-mail: order confirmations and failure notices via {} from {}", config.email->url,
               config.email->from);
  events::EmailSinkOptions email;
  email.server.url = config.email->url;
  email.server.username = config.email->username;
  email.server.password = config.email->password;
  email.server.ca_file = config.tls_ca_file;
  email.from = config.email->from;
  email.counters = &counters;
  return std::make_unique<events::Relay>(relay, std::move(*source),
                                         events::NewEmailSink(std::move(email)));
}

base::Result<Publishers> OpenPublishers(const Config& config,
                                        const events::RelayOptions& relay_options,
                                        events::EmailCounters& counters) {
  Publishers publishers;
  auto relay = OpenRelay(config, relay_options);
  if (!relay) return relay.error();
  publishers.events = std::move(*relay);
  auto notifier = OpenNotifier(config, relay_options);
  if (!notifier) return notifier.error();
  publishers.notifier = std::move(*notifier);
  auto emailer = OpenEmailer(config, relay_options, counters);
  if (!emailer) return emailer.error();
  publishers.emailer = std::move(*emailer);
  return publishers;
}

base::Result<std::unique_ptr<payment::PaymentGateway>> OpenGateway(const Config& config) {
  switch (config.payment_gateway) {
    case PaymentGatewayKind::kSimulated:
      spdlog::info("payments: simulated gateway, latency {} ms",
                   config.payment_simulated_latency.count());
      return payment::NewSimulatedGateway(config.payment_simulated_latency);
    case PaymentGatewayKind::kHttp:
      break;
  }
  spdlog::info("payments: http gateway at {}, timeout {} ms", config.payment_gateway_url,
               config.payment_timeout.count());
  payment::HttpGatewayOptions gateway;
  gateway.url = config.payment_gateway_url;
  gateway.timeout = config.payment_timeout;
  gateway.api_key = config.payment_gateway_key;
  gateway.ca_file = config.tls_ca_file;
  return payment::NewHttpGateway(gateway);
}

base::Result<std::unique_ptr<store::Store>> OpenStore(const Config& config) {
  if (!config.store_url.empty()) {
    store::PgOptions options;
    options.url = config.store_url;
    auto store = store::PgStore::Open(options);
    if (!store) return store.error();
    spdlog::info("store: {} (shared by the cluster; synchronous_commit=on)",
                 store::RedactedUrl(config.store_url));
    return std::unique_ptr<store::Store>(std::move(*store));
  }
  const std::string path = DatabasePath(config);
  store::SqliteOptions options;
  options.synchronous = config.sqlite_synchronous;
  auto store = store::SqliteStore::Open(path, options);
  if (!store) return store.error();
  spdlog::info("store: {} (synchronous={})", path,
               store::SynchronousName(config.sqlite_synchronous));
  return std::unique_ptr<store::Store>(std::move(*store));
}

// Cluster mode: this node's name in payment leases (host, process and a random part, so a
// restarted node never mistakes an old lease for its own).
std::string NodeId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  unsigned char random[4] = {};
  RAND_bytes(random, sizeof(random));
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%02x%02x%02x%02x", random[0], random[1], random[2],
                random[3]);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

base::Result<std::unique_ptr<engine::Engine>> OpenEngine(const Config& config,
                                                         std::unique_ptr<store::Store> store,
                                                         const base::Clock& clock,
                                                         CommitListeners& listeners,
                                                         trace::SpanSink on_span) {
  engine::Options engine_options;
  engine_options.on_span = std::move(on_span);
  engine_options.batch_size_max = config.batch_size_max;
  engine_options.inbox_capacity = config.inbox_capacity;
  // What the reserve and checkout handlers answer: an idempotent replay is byte-identical.
  engine_options.stored_replies = http::StoredReplies();
  engine_options.retry_schedule = config.payment_retry_schedule;
  engine_options.on_committed = [&listeners] { listeners.Notify(); };
  engine_options.on_completions_begin = [] { http::ReplyBatch::Begin(); };
  engine_options.on_completions_end = [] { http::ReplyBatch::Flush(); };
  engine_options.fairness_audit.individual_per_second_max = config.audit_throttled_per_second;
  engine_options.on_skus_changed = [&listeners](const std::vector<std::string>& sku_ids) {
    listeners.SkusChanged(sku_ids);
  };
  engine_options.on_published = [&listeners](const std::vector<std::string>& sku_ids) {
    listeners.Published(sku_ids);
  };
  engine_options.on_orders_changed = [&listeners](const std::vector<core::Order>& orders) {
    listeners.OrdersChanged(orders);
  };
  engine_options.waiting_room = config.waiting_room;
  // Every failed commit is logged with the store's error, at most one line per kind a second
  // (a full disk fails every batch): the count says how many were not.
  auto failures = std::make_shared<base::LogThrottle>(std::chrono::seconds(1));
  engine_options.on_commit_failure = [failures](const base::Status& status) {
    const auto held_back = failures->Admit(static_cast<std::uint64_t>(status.code()),
                                           std::chrono::steady_clock::now());
    if (!held_back) return;
    spdlog::error("commit failed: {} ({} more of this kind since the last line)", status.ToString(),
                  *held_back);
  };
  return engine::Engine::Open(std::move(engine_options), std::move(store), clock);
}

// Fills in generated demo secrets; returns the ones generated (for printing).
base::Result<DemoText> PrepareSecrets(Config& config) {
  DemoText generated;
  if (config.jwt_secret.empty()) {
    auto secret = RandomSecret();
    if (!secret) return secret.error();
    config.jwt_secret = generated.jwt_secret = *secret;
  }
  if (config.admin_token.empty()) {
    auto token = RandomSecret();
    if (!token) return token.error();
    config.admin_token = generated.admin_token = *token;
  }
  return generated;
}

base::Status StartDemo(const Config& config, DemoText text, engine::Engine& engine,
                       std::uint16_t port) {
  FS_RETURN_IF_ERROR(EnsureDemoSale(engine));
  auth::Claims claims;
  claims.subject = std::string(kDemoUserId);
  claims.expires_at_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                  (engine.clock().Now() + kDemoTokenLifetime).time_since_epoch())
                                  .count();
  text.user_token = auth::SignHs256(claims, config.jwt_secret);
  text.base_url = HttpUrl(config.listen_host, port);
  std::cout << RenderDemoText(text);
  return base::Status::Ok();
}

// One structured line per throttling decision and per detection. This hook is where the
// audit trail (another module) attaches: it receives the same LimiterEvent.
void LogLimiterEvent(const ratelimit::LimiterEvent& event) {
  const bool detected = event.kind == ratelimit::LimiterEvent::Kind::kBotDetected;
  const auto level = detected ? spdlog::level::warn : spdlog::level::info;
  spdlog::log(level,
              "ratelimit event={} reason={} tier={} user_id={} client_ip={} fingerprint={} at={}",
              detected ? "bot_detected" : "throttled", event.reason,
              ratelimit::TierName(event.tier), base::QuotedForLog(event.user_id), event.client_ip,
              event.fingerprint.substr(0, 16), base::FormatRfc3339(event.at));
}

// A detection (an identity moved to the bot tier) is an audit event (BOT_DETECTED), written
// by the writer through the engine's bounded fairness channel. Throttled reserve attempts are
// offered by the reserve handler, which knows the SKU.
void AuditLimiterEvent(engine::Engine& engine, const ratelimit::LimiterEvent& event) {
  if (event.kind != ratelimit::LimiterEvent::Kind::kBotDetected) return;
  engine::FairnessEvent audit;
  audit.kind = engine::FairnessEvent::Kind::kBotDetected;
  audit.user_id = std::string(event.user_id);
  audit.client_ip = event.client_ip;
  audit.device_fingerprint = std::string(event.fingerprint);
  audit.reason = std::string(event.reason);
  audit.tier = std::string(ratelimit::TierName(event.tier));
  audit.at = event.at;
  engine.fairness_audit().Offer(std::move(audit));
}

std::unique_ptr<ratelimit::RateLimiter> MakeLimiter(const RateLimitConfig& config,
                                                    const base::Clock& clock,
                                                    engine::Engine& engine) {
  if (config.mode == RateLimitMode::kOff) {
    spdlog::info("rate limiting off (--rate-limit on enables it)");
    return nullptr;
  }
  const auto& tiers = config.limiter.tiers;
  spdlog::info(
      "rate limiting on: per minute bot={} new={} normal={} premium={}; {} trusted proxy "
      "range(s), {} suspicious range(s); at most {} identities per map",
      tiers[0].requests_per_minute, tiers[1].requests_per_minute, tiers[2].requests_per_minute,
      tiers[3].requests_per_minute, config.trusted_proxies.size(),
      config.limiter.suspicious_cidrs.size(), config.limiter.entries_max);
  return std::make_unique<ratelimit::RateLimiter>(config.limiter, clock,
                                                  [&engine](const ratelimit::LimiterEvent& event) {
                                                    LogLimiterEvent(event);
                                                    AuditLimiterEvent(engine, event);
                                                  });
}
// nullptr without --redis. The client connects in the background; until it is up (and
// whenever it is down) the node works from local state.
std::unique_ptr<redis::RedisServices> OpenRedis(const RedisConfig& config, bool shared_store,
                                                ratelimit::RateLimiter* limiter,
                                                const base::Clock& clock,
                                                const engine::Engine& engine) {
  if (!config.url) return nullptr;
  redis::ServicesOptions options;
  options.client.url = *config.url;
  options.client.connect_timeout = config.timeout;
  options.client.command_timeout = config.timeout;
  // kAuto turns the cache on only for a store shared by several nodes; the embedded SQLite
  // store belongs to this node alone, so there auto means off.
  const bool cache_on = config.cache == RedisCacheMode::kOn ||
                        (config.cache == RedisCacheMode::kAuto && shared_store);
  options.availability_cache =
      cache_on ? redis::AvailabilityCacheMode::kOn : redis::AvailabilityCacheMode::kOff;
  spdlog::info(
      "redis: {} (timeout {} ms); shared rate limits {}; availability cache and "
      "idempotency fast path {}",
      options.client.url.ToString(), config.timeout.count(),
      limiter != nullptr ? "on" : "off (rate limiting off)",
      options.availability_cache == redis::AvailabilityCacheMode::kOn ? "on" : "off");
  auto services = std::make_unique<redis::RedisServices>(std::move(options), limiter, clock);
  services->SetPublishedCounters(
      [&engine](const std::string& sku_id) -> std::optional<core::StockCounters> {
        const auto published = engine.FindSale(sku_id);
        if (!published) return std::nullopt;
        return published->counters;
      });
  return services;
}

// Every `interval`, logs the audit chain head and exposes it as metrics: an operator who keeps
// these lines can later prove the chain was not rewritten (event N must still hash to H).
class AuditCheckpointer {
 public:
  AuditCheckpointer(const engine::Engine& engine, metrics::AuditCheckpoint& checkpoint,
                    std::chrono::seconds interval)
      : engine_(engine), checkpoint_(checkpoint), interval_(interval) {
    Take();
    thread_ = std::thread([this] { Run(); });
  }
  ~AuditCheckpointer() {
    {
      base::MutexLock lock(mutex_);
      stopping_ = true;
    }
    cv_.NotifyAll();
    thread_.join();
    Take();  // the final head after the engine drained
  }
  AuditCheckpointer(const AuditCheckpointer&) = delete;
  AuditCheckpointer& operator=(const AuditCheckpointer&) = delete;

 private:
  void Take() {
    const core::AuditHead head = engine_.audit_head();
    spdlog::info("audit checkpoint: event_id={} event_hash={}", head.event_id, head.event_hash);
    // Event ids are 1, 2, 3, ... without gaps (the chain's verification checks it): the head's
    // id is the chained event count.
    checkpoint_.Set(head.event_id);
  }
  void Run() {
    while (!WaitUntilStopping()) Take();
  }
  // Sleeps one interval, or until the destructor asks to stop; true when stopping.
  bool WaitUntilStopping() {
    const auto deadline = std::chrono::steady_clock::now() + interval_;
    base::MutexLock lock(mutex_);
    while (!stopping_) {
      if (!cv_.WaitUntil(mutex_, deadline)) break;
    }
    return stopping_;
  }

  const engine::Engine& engine_;
  metrics::AuditCheckpoint& checkpoint_;
  const std::chrono::seconds interval_;
  base::Mutex mutex_;
  base::CondVar cv_;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

// Blocks until SIGINT or SIGTERM. The signal set exists before the server announces itself,
// so a signal sent right after the "listening" line is never fatal.
class SignalWaiter {
 public:
  SignalWaiter() : signals_(context_, SIGINT, SIGTERM) {}
  int Wait() {
    int received = 0;
    signals_.async_wait([&received](const boost::system::error_code& error, int number) {
      if (!error) received = number;
    });
    context_.restart();
    context_.run();
    return received;
  }
  // Waits up to `timeout` for another signal. Returns it, or 0 after the timeout.
  int WaitFor(std::chrono::seconds timeout) {
    int received = 0;
    boost::asio::steady_timer timer(context_, timeout);
    signals_.async_wait([&received, &timer](const boost::system::error_code& error, int number) {
      if (!error) received = number;
      timer.cancel();
    });
    timer.async_wait([this](const boost::system::error_code& error) {
      if (!error) signals_.cancel();
    });
    context_.restart();
    context_.run();
    return received;
  }

 private:
  boost::asio::io_context context_{1};
  boost::asio::signal_set signals_;
};

}  // namespace

// Cluster mode: the payment leases that let one node at a time charge an order (nullptr on the
// embedded store, whose one node needs none).
base::Result<std::unique_ptr<store::PgOrderLeases>> OpenLeases(const Config& config) {
  if (config.store_url.empty()) return std::unique_ptr<store::PgOrderLeases>();
  // A lease outlasts one gateway call by far, so it never runs out under a live charge.
  const auto lease =
      std::max<std::chrono::milliseconds>(std::chrono::seconds(30), config.payment_timeout * 4);
  return store::PgOrderLeases::Open(config.store_url, NodeId(), lease);
}

// The disputes index of the SQLite file, filled beside the writer (audit_index.h). Without it
// (cluster mode, or it cannot be opened) the disputes query scans the table: slower, never wrong.
std::unique_ptr<audit::AuditIndexer> StartAuditIndexer(const std::string& database_path) {
  if (database_path.empty()) return nullptr;
  auto indexer = audit::AuditIndexer::Open(database_path, {});
  if (!indexer) {
    spdlog::warn("audit disputes index not available ({}): disputes queries scan the table",
                 indexer.error().ToString());
    return nullptr;
  }
  (*indexer)->Start();
  return std::move(*indexer);
}

// Redis' shared state and limiter when there is Redis; else the node-local limiter, if on.
void EnableLimiting(const RateLimitConfig& config, ratelimit::RateLimiter* limiter,
                    redis::RedisServices* redis_services, http::Api& api) {
  if (redis_services != nullptr) api.EnableSharedState(*redis_services);
  if (redis_services != nullptr && redis_services->limiter() != nullptr) {
    api.EnableAsyncRateLimiting(*redis_services->limiter(), config.trusted_proxies);
  } else if (limiter != nullptr) {
    api.EnableRateLimiting(*limiter, config.trusted_proxies);
  }
}

void StartEvents(CommitListeners& listeners, const Publishers& publishers) {
  const auto relays = publishers.all();
  for (std::size_t i = 0; i < relays.size(); ++i) {
    if (relays[i] == nullptr) continue;
    relays[i]->Start();
    listeners.relays[i].store(relays[i], std::memory_order_release);
  }
}

// flashsale_outbox_backlog, flashsale_relay_lag_seconds and the relay counters, by sink, read
// at scrape time. REQUIRES: the relays outlive the servers that scrape them.
metrics::Collector RelayMetrics(std::vector<const events::Relay*> relays,
                                const base::Clock& clock) {
  std::erase(relays, nullptr);  // no notifier configured
  return [relays = std::move(relays), &clock](metrics::TextWriter& writer) {
    using metrics::MetricType;
    writer.Family("flashsale_outbox_backlog",
                  "Committed events the sink has not acknowledged, as of the relay's last read.",
                  MetricType::kGauge);
    for (const events::Relay* relay : relays) {
      writer.SampleSigned("flashsale_outbox_backlog", {{"sink", relay->sink_name()}},
                          relay->backlog());
    }
    writer.Family("flashsale_relay_lag_seconds",
                  "Age of the oldest committed event the sink has not acknowledged (0 when the "
                  "relay has caught up).",
                  MetricType::kGauge);
    const base::Time now = clock.Now();
    for (const events::Relay* relay : relays) {
      const std::optional<base::Time> oldest = relay->oldest_unpublished();
      const double lag =
          oldest && *oldest < now ? std::chrono::duration<double>(now - *oldest).count() : 0.0;
      writer.SampleDouble("flashsale_relay_lag_seconds", {{"sink", relay->sink_name()}}, lag);
    }
    writer.Family("flashsale_relay_events_published_total",
                  "Events the sink acknowledged (at least once: a restart may publish some again).",
                  MetricType::kCounter);
    for (const events::Relay* relay : relays) {
      writer.SampleUnsigned("flashsale_relay_events_published_total",
                            {{"sink", relay->sink_name()}}, relay->published_count());
    }
    writer.Family("flashsale_relay_failures_total",
                  "Failed outbox reads or publishes (each retried with backoff).",
                  MetricType::kCounter);
    for (const events::Relay* relay : relays) {
      writer.SampleUnsigned("flashsale_relay_failures_total", {{"sink", relay->sink_name()}},
                            relay->failure_count());
    }
  };
}

// flashsale_emails_total{outcome}: the buyers' e-mails (--smtp-url) by what the mail server
// said. REQUIRES: the counters outlive the servers that scrape them.
metrics::Collector EmailMetrics(const events::EmailCounters& counters) {
  return [&counters](metrics::TextWriter& writer) {
    writer.Family("flashsale_emails_total",
                  "Buyers' e-mails by outcome: sent (accepted by the mail server), rejected "
                  "(refused for good, not retried), failed (a transient failure, retried).",
                  metrics::MetricType::kCounter);
    const std::pair<const char*, const std::atomic<std::uint64_t>*> outcomes[] = {
        {"sent", &counters.sent}, {"rejected", &counters.rejected}, {"failed", &counters.failed}};
    for (const auto& [outcome, count] : outcomes) {
      writer.SampleUnsigned("flashsale_emails_total", {{"outcome", outcome}},
                            count->load(std::memory_order_relaxed));
    }
  };
}

// --metrics-listen: the metrics on a port of their own; nullptr without the flag.
base::Result<std::unique_ptr<http::SideServer>> OpenMetricsServer(const Config& config,
                                                                  const http::Api& api) {
  if (!config.metrics_listen) return std::unique_ptr<http::SideServer>();
  http::SideServerOptions options;
  options.host = config.metrics_listen->host;
  options.port = config.metrics_listen->port;
  options.flag = "--metrics-listen";
  return http::SideServer::Open(options,
                                http::MetricsResponder([&api] { return api.RenderMetrics(); }));
}

// The main port, bound before recovery: probes get /healthz 200 and /readyz 503 "starting"
// instead of "connection refused" while the node loads; the Server takes the socket over.
base::Result<std::unique_ptr<http::SideServer>> OpenStartingServer(const Config& config) {
  http::SideServerOptions options;
  options.host = config.listen_host;
  options.port = config.listen_port;
  options.flag = "--listen";
  auto server = http::SideServer::Open(options, http::StartingResponder());
  if (!server) return server;
  (*server)->Start();
  // Flushed: a supervisor may probe the port from now on.
  std::cout << "flashsale starting on " << HttpUrl(config.listen_host, (*server)->port())
            << std::endl;
  return server;
}

// The store, or in cluster mode, while PostgreSQL is not reachable yet, the store after it
// came up within --store-wait-seconds (one attempt a second). A signal ends the wait: nullptr.
base::Result<std::unique_ptr<store::Store>> OpenStoreWaiting(const Config& config,
                                                             SignalWaiter& signals) {
  const auto deadline = std::chrono::steady_clock::now() + config.store_wait;
  for (int attempt = 1;; ++attempt) {
    auto store = OpenStore(config);
    if (store || config.store_url.empty() ||
        store.error().code() != base::StatusCode::kUnavailable ||
        std::chrono::steady_clock::now() >= deadline) {
      return store;
    }
    if (attempt == 1 || attempt % 10 == 0) {
      spdlog::warn("store not reachable yet ({}); retrying every second for up to {} s",
                   store.error().ToString(), config.store_wait.count());
    }
    if (const int signal_number = signals.WaitFor(std::chrono::seconds(1)); signal_number != 0) {
      spdlog::info("signal {} received while waiting for the store: stopped before serving",
                   signal_number);
      return std::unique_ptr<store::Store>();
    }
  }
}

// The OTEL_* variables (trace/tracing_config.h): a started span exporter and its sampler, or
// no exporter when no endpoint is configured (tracing off).
struct Tracing {
  std::unique_ptr<trace::SpanExporter> exporter;
  trace::Sampler sampler;

  // Where the writer and the workers record spans; empty when tracing is off.
  trace::SpanSink Sink() const {
    if (!exporter) return {};
    return [exporter = exporter.get()](trace::Span span) { exporter->Submit(std::move(span)); };
  }
};

base::Result<Tracing> OpenTracing() {
  auto config = trace::TracingConfigFromEnvironment([](const std::string& name) {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::string() : std::string(value);
  });
  if (!config) return config.error();
  Tracing tracing;
  if (!*config) return tracing;
  trace::ExporterOptions options;
  options.url = (*config)->traces_url;
  options.headers = (*config)->headers;
  options.resource.attributes = {{"service.name", (*config)->service_name},
                                 {"service.version", std::string(FLASHSALE_VERSION)}};
  options.on_dropped = [](std::uint64_t n) { metrics::Drops().spans.Increment(n); };
  options.on_export_failed = [](std::uint64_t n) {
    metrics::Drops().span_export_failures.Increment(n);
  };
  tracing.exporter = std::make_unique<trace::SpanExporter>(std::move(options));
  tracing.exporter->Start();
  tracing.sampler = (*config)->sampler;
  spdlog::info("tracing: spans of service {} to {} (sampler {})", (*config)->service_name,
               (*config)->traces_url, tracing.sampler.Describe());
  return tracing;
}

http::ServerOptions ServerOptionsOf(const Config& config, int listener, const Tracing& tracing) {
  http::ServerOptions options;
  options.host = config.listen_host;
  options.port = config.listen_port;
  options.threads = config.threads;
  options.idle_timeout = config.idle_timeout;
  options.connections_per_ip_max = config.max_connections_per_ip;
  options.listener = listener;
  options.span_exporter = tracing.exporter.get();
  options.sampler = tracing.sampler;
  switch (config.access_log) {
    case AccessLogChoice::kOff:
      options.access_log = http::AccessLogMode::kOff;
      break;
    case AccessLogChoice::kErrors:
      options.access_log = http::AccessLogMode::kErrors;
      break;
    case AccessLogChoice::kAll:
      options.access_log = http::AccessLogMode::kAll;
      break;
  }
  return options;
}

// After the engine stopped: nothing commits any more, so the commit listeners go, and the relays
// publish what was committed, then stop.
void StopEvents(CommitListeners& listeners, const Publishers& publishers) {
  listeners.worker.store(nullptr, std::memory_order_release);
  for (auto& slot : listeners.relays) slot.store(nullptr, std::memory_order_release);
  for (events::Relay* relay : publishers.all()) {
    if (relay != nullptr) relay->Stop();
  }
}

int RunServer(Config config) {
  const std::unique_ptr<log::LogSession> logging =
      SetUpLogging(config.log_level, config.log_format);
  SignalWaiter signals;
  auto generated = PrepareSecrets(config);
  if (!generated) {
    spdlog::critical("{}", generated.error().ToString());
    return kExitRuntimeError;
  }
  std::error_code dir_error;
  std::filesystem::create_directories(config.data_dir, dir_error);
  if (dir_error) {
    spdlog::critical("cannot create data directory '{}': {}", config.data_dir, dir_error.message());
    return kExitRuntimeError;
  }
  auto tracing = OpenTracing();
  if (!tracing) {
    spdlog::critical("{}", tracing.error().ToString());
    return kExitBadConfig;
  }
  auto starting = OpenStartingServer(config);
  if (!starting) {
    spdlog::critical("{}", starting.error().ToString());
    return kExitRuntimeError;
  }
  auto store = OpenStoreWaiting(config, signals);
  if (!store) {
    spdlog::critical("cannot open the store: {}", store.error().ToString());
    return kExitRuntimeError;
  }
  if (*store == nullptr) return 0;  // a signal while waiting for the store
  base::SystemClock clock;
  CommitListeners listeners;
  auto engine = OpenEngine(config, std::move(*store), clock, listeners, tracing->Sink());
  if (!engine) {
    spdlog::critical("cannot open the engine: {}", engine.error().ToString());
    return kExitRuntimeError;
  }
  metrics::HttpMetrics http_metrics(http::Api::RouteLabels(), http::Api::MethodLabels());
  http_metrics.build = {.version = FLASHSALE_VERSION, .revision = FLASHSALE_REVISION};
  events::EmailCounters email_counters;
  events::RelayOptions relay_options;
  relay_options.on_span = tracing->Sink();
  relay_options.sampler = tracing->sampler;
  auto publishers = OpenPublishers(config, relay_options, email_counters);
  auto gateway = OpenGateway(config);
  if (gateway) *gateway = payment::NewMeteredGateway(std::move(*gateway), http_metrics.gateway);
  if (!publishers || !gateway) {
    spdlog::critical("{}",
                     !publishers ? publishers.error().ToString() : gateway.error().ToString());
    (*engine)->Stop();
    return kExitRuntimeError;
  }
  StartEvents(listeners, *publishers);
  payment::WorkerOptions worker_options;
  worker_options.concurrency = config.payment_concurrency;
  worker_options.on_span = tracing->Sink();
  worker_options.sampler = tracing->sampler;
  auto leases = OpenLeases(config);
  if (!leases) {
    spdlog::critical("payment leases: {}", leases.error().ToString());
    (*engine)->Stop();
    return kExitRuntimeError;
  }
  if (*leases) {
    worker_options.claim = [leases = leases->get()](const core::Order& order) {
      return leases->TryClaim(order);
    };
  }
  payment::PaymentWorker worker(worker_options, **engine, **gateway);
  worker.Start();
  listeners.worker.store(&worker, std::memory_order_release);
  const auto relays = publishers->all();
  http_metrics.collectors.push_back(
      RelayMetrics(std::vector<const events::Relay*>(relays.begin(), relays.end()), clock));
  if (config.email) http_metrics.collectors.push_back(EmailMetrics(email_counters));
  std::unique_ptr<ratelimit::RateLimiter> limiter = MakeLimiter(config.rate_limit, clock, **engine);
  // The audit and reconciliation endpoints read the SQLite file, or in cluster mode the
  // shared PostgreSQL database (each request on its own read-only snapshot).
  const std::string database_path = config.store_url.empty() ? DatabasePath(config) : "";
  http::ApiOptions api_options{config.jwt_secret, config.admin_token, database_path,
                               config.store_url, config.jwt};
  if (config.demo == DemoMode::kOn) {
    api_options.demo_token_lifetime =
        std::chrono::duration_cast<std::chrono::seconds>(kDemoTokenLifetime);
  }
  api_options.order_waiters_max = config.order_waiters_max;
  api_options.sse_subscribers_max = config.sse_subscribers_max;
  if (config.metrics_listen) api_options.metrics_route = http::MetricsRoute::kSeparatePort;
  http::Api api(std::move(api_options), **engine, http_metrics);
  std::unique_ptr<audit::AuditIndexer> audit_indexer = StartAuditIndexer(database_path);
  std::unique_ptr<redis::RedisServices> redis_services =
      OpenRedis(config.redis, !config.store_url.empty(), limiter.get(), clock, **engine);
  if (redis_services) listeners.redis.store(redis_services.get(), std::memory_order_release);
  // Sales published before this are read by the catalog's first search.
  listeners.catalog.store(&api.services().catalog, std::memory_order_release);
  listeners.api.store(&api, std::memory_order_release);
  EnableLimiting(config.rate_limit, limiter.get(), redis_services.get(), api);
  // The starting listener's socket, still listening: connections that arrive now wait in its
  // backlog for the Server.
  auto server = http::Server::Open(
      ServerOptionsOf(config, (*starting)->ReleaseListener(), *tracing), api, http_metrics);
  auto metrics_server = OpenMetricsServer(config, api);
  if (!server || !metrics_server) {
    spdlog::critical("{}", !server ? server.error().ToString() : metrics_server.error().ToString());
    worker.Stop();
    (*engine)->Stop();
    StopEvents(listeners, *publishers);
    return kExitRuntimeError;
  }
  std::optional<AuditCheckpointer> checkpointer;
  checkpointer.emplace(**engine, http_metrics.audit_checkpoint, config.audit_checkpoint);
  (*server)->Start();
  if (*metrics_server) {
    (*metrics_server)->Start();
    // Flushed before the "listening" line a supervisor or test waits for.
    std::cout << "flashsale metrics on "
              << HttpUrl(config.metrics_listen->host, (*metrics_server)->port()) << "/metrics"
              << std::endl;
  }
  if (config.demo == DemoMode::kOn) {
    const base::Status demo = StartDemo(config, *generated, **engine, (*server)->port());
    if (!demo.ok()) spdlog::error("demo sale not created: {}", demo.ToString());
  }
  spdlog::info("{} I/O threads, batch size max {}, inbox capacity {}", config.threads,
               config.batch_size_max, config.inbox_capacity);
  std::cout << "flashsale listening on " << HttpUrl(config.listen_host, (*server)->port())
            << std::endl;  // endl: flush, a supervisor or test waits for this line

  const int signal_number = signals.Wait();
  // Not ready at once, still serving: balancers and endpoint lists take the node out before
  // its listener closes, so no request meets a refused connection.
  api.SetShuttingDown();
  spdlog::info("signal {} received: /readyz answers 503; serving {} s more, then shutting down",
               signal_number, config.shutdown_delay.count());
  if (config.shutdown_delay.count() > 0) {
    const int again = signals.WaitFor(config.shutdown_delay);
    if (again != 0) spdlog::info("signal {} received again: shutting down now", again);
  }
  (*server)->StopAccepting();
  if (*metrics_server) (*metrics_server)->Stop();
  worker.Stop();      // gateway calls in progress finish and queue their reports
  (*engine)->Stop();  // completes and commits everything queued; answers are posted to I/O
  checkpointer.reset();
  listeners.redis.store(nullptr, std::memory_order_release);
  listeners.catalog.store(nullptr, std::memory_order_release);
  if (redis_services) redis_services->Stop();  // sends what is queued (the last DELs)
  StopEvents(listeners, *publishers);
  if (!(*server)->WaitForInFlight(config.drain_timeout)) {
    spdlog::warn("responses still in flight after {} s; closing anyway",
                 config.drain_timeout.count());
  }
  (*server)->Stop();
  if (tracing->exporter) tracing->exporter->Stop();  // the last spans go out
  spdlog::info("stopped");
  return 0;
}

}  // namespace fs::app
