#include "app/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "app/admin_flags.h"
#include "app/secrets.h"
#include "base/email_address.h"
#include "http/limits.h"
#include "net/http_client.h"
#include "net/smtp_client.h"
#include "store/postgres/pg_store.h"

#ifndef FLASHSALE_VERSION
#define FLASHSALE_VERSION "unknown"
#endif

namespace fs::app {
namespace {

// Flag values as CLI11 collects them (strings: parsed and range-checked by us so "-1",
// "0x10" or "8threads" are refused with a clear message instead of wrapping around). Their
// defaults are written by DefaultFlags() from Config's, never here.
struct RawFlags {
  std::string listen;
  std::string metrics_listen;  // empty: /metrics on --listen
  std::string data_dir;
  std::string store;  // empty: the embedded SQLite store in data_dir
  bool demo = false;
  std::string jwt_secret;
  std::string jwt_secret_file;
  std::string admin_token;
  std::string admin_token_file;
  std::string jwt_leeway_seconds;
  std::string jwt_issuer;
  std::string jwt_audience;
  std::string threads;  // empty and not given: DefaultIoThreads()
  bool threads_given = false;
  std::string sqlite_synchronous;
  std::string batch_size_max;
  std::string inbox_capacity;
  std::string log_level;
  std::string log_format;  // empty: by whether stderr is a terminal
  std::string access_log;
  std::string idle_timeout_seconds;
  std::string shutdown_delay_seconds;
  std::string drain_timeout_seconds;
  std::string store_wait_seconds;
  std::string max_connections_per_ip;
  std::string order_waiters_max;
  std::string sse_subscribers_max;
  std::string rate_limit;
  std::string rate_limit_tiers;
  std::string rate_limit_entries_max;
  std::string trusted_proxies;
  std::string suspicious_cidrs;
  std::string suspicious_tier;
  std::string bot_ip_requests_per_second;
  std::string bot_fingerprint_user_ids;
  std::string bot_cooldown_seconds;
  std::string audit_checkpoint_seconds;
  std::string audit_throttled_per_second;
  std::string waiting_room_prequeue_seconds;
  std::string waiting_room_admit_per_second;
  std::string waiting_room_pass_ttl_seconds;
  std::string payment_gateway;
  std::string payment_gateway_url;
  std::string payment_gateway_key_file;
  std::string tls_ca_file;
  std::string payment_retry_schedule;
  std::string payment_simulated_latency_ms;
  std::string payment_timeout_ms;
  std::string payment_concurrency;
  std::string events;
  std::string webhook_url;
  std::string webhook_secret;
  std::string notification_webhook_url;
  bool webhook_allow_unsigned = false;
  std::string smtp_url;
  std::string smtp_from;
  std::string smtp_password_file;
  std::string kafka_brokers;
  std::string kafka_topic;
  std::vector<std::string> kafka_properties;
  std::string redis;
  std::string redis_password_file;
  std::string redis_cache;
  std::string redis_timeout_ms;
};

// The words of the flags that take one of a few values, both ways (parse and default text).
template <typename Enum>
struct NamedValue {
  Enum value;
  std::string_view name;
};
constexpr NamedValue<RateLimitMode> kRateLimitModes[] = {{RateLimitMode::kOn, "on"},
                                                         {RateLimitMode::kOff, "off"}};
constexpr NamedValue<PaymentGatewayKind> kGatewayKinds[] = {
    {PaymentGatewayKind::kSimulated, "simulated"}, {PaymentGatewayKind::kHttp, "http"}};
constexpr NamedValue<EventSinkKind> kEventSinks[] = {{EventSinkKind::kLog, "log"},
                                                     {EventSinkKind::kWebhook, "webhook"},
                                                     {EventSinkKind::kKafka, "kafka"}};
constexpr NamedValue<LogLevel> kLogLevels[] = {{LogLevel::kTrace, "trace"},
                                               {LogLevel::kDebug, "debug"},
                                               {LogLevel::kInfo, "info"},
                                               {LogLevel::kWarn, "warn"},
                                               {LogLevel::kError, "error"}};
constexpr NamedValue<LogFormatChoice> kLogFormats[] = {{LogFormatChoice::kJson, "json"},
                                                       {LogFormatChoice::kText, "text"}};
constexpr NamedValue<AccessLogChoice> kAccessLogs[] = {{AccessLogChoice::kOff, "off"},
                                                       {AccessLogChoice::kErrors, "errors"},
                                                       {AccessLogChoice::kAll, "all"}};
constexpr NamedValue<RedisCacheMode> kRedisCacheModes[] = {
    {RedisCacheMode::kAuto, "auto"}, {RedisCacheMode::kOn, "on"}, {RedisCacheMode::kOff, "off"}};

template <typename Enum, std::size_t N>
std::string NameOf(const NamedValue<Enum> (&table)[N], Enum value) {
  for (const auto& entry : table) {
    if (entry.value == value) return std::string(entry.name);
  }
  return {};
}

template <typename Enum, std::size_t N>
std::optional<Enum> ValueNamed(const NamedValue<Enum> (&table)[N], std::string_view name) {
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

// "1s,2s,1m,250ms": the form ParseRetrySchedule reads.
std::string FormatRetrySchedule(const core::RetrySchedule& schedule) {
  std::string text;
  for (const std::chrono::milliseconds delay : schedule.delays) {
    if (!text.empty()) text += ',';
    const std::int64_t ms = delay.count();
    if (ms % 60'000 == 0) {
      text += std::to_string(ms / 60'000) + "m";
    } else if (ms % 1000 == 0) {
      text += std::to_string(ms / 1000) + "s";
    } else {
      text += std::to_string(ms) + "ms";
    }
  }
  return text;
}

template <typename Rep, typename Period>
std::string Seconds(std::chrono::duration<Rep, Period> duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count());
}

template <typename Rep, typename Period>
std::string Millis(std::chrono::duration<Rep, Period> duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

// Every flag's default as text, from Config's defaults: what --help shows and what parsing
// starts from.
RawFlags DefaultFlags() {
  const Config config;
  const ratelimit::LimiterOptions& limiter = config.rate_limit.limiter;
  RawFlags raw;
  raw.listen = config.listen_host + ":" + std::to_string(config.listen_port);
  raw.data_dir = config.data_dir;
  raw.jwt_leeway_seconds = Seconds(config.jwt.leeway);
  raw.sqlite_synchronous = std::string(store::SynchronousName(config.sqlite_synchronous));
  raw.batch_size_max = std::to_string(config.batch_size_max);
  raw.inbox_capacity = std::to_string(config.inbox_capacity);
  raw.log_level = NameOf(kLogLevels, config.log_level);
  raw.access_log = NameOf(kAccessLogs, config.access_log);
  raw.idle_timeout_seconds = Seconds(config.idle_timeout);
  raw.shutdown_delay_seconds = Seconds(config.shutdown_delay);
  raw.drain_timeout_seconds = Seconds(config.drain_timeout);
  raw.store_wait_seconds = Seconds(config.store_wait);
  raw.max_connections_per_ip = std::to_string(config.max_connections_per_ip);
  raw.order_waiters_max = std::to_string(config.order_waiters_max);
  raw.sse_subscribers_max = std::to_string(config.sse_subscribers_max);
  raw.rate_limit = NameOf(kRateLimitModes, config.rate_limit.mode);
  raw.rate_limit_tiers = ratelimit::FormatTierTable(limiter.tiers);
  raw.rate_limit_entries_max = std::to_string(limiter.entries_max);
  raw.suspicious_tier = std::string(ratelimit::TierName(limiter.suspicious_tier));
  raw.bot_ip_requests_per_second = std::to_string(limiter.ip_requests_per_second_max);
  raw.bot_fingerprint_user_ids = std::to_string(limiter.fingerprint_user_ids_max);
  raw.bot_cooldown_seconds = Seconds(limiter.cooldown);
  raw.audit_checkpoint_seconds = Seconds(config.audit_checkpoint);
  raw.audit_throttled_per_second = std::to_string(config.audit_throttled_per_second);
  raw.waiting_room_prequeue_seconds = Seconds(config.waiting_room.prequeue);
  raw.waiting_room_admit_per_second = std::to_string(config.waiting_room.admit_per_second);
  raw.waiting_room_pass_ttl_seconds = Seconds(config.waiting_room.pass_ttl);
  raw.payment_gateway = NameOf(kGatewayKinds, config.payment_gateway);
  raw.payment_retry_schedule = FormatRetrySchedule(config.payment_retry_schedule);
  raw.payment_simulated_latency_ms = Millis(config.payment_simulated_latency);
  raw.payment_timeout_ms = Millis(config.payment_timeout);
  raw.payment_concurrency = std::to_string(config.payment_concurrency);
  raw.events = NameOf(kEventSinks, config.events);
  raw.kafka_topic = config.kafka_topic;
  raw.redis_cache = NameOf(kRedisCacheModes, config.redis.cache);
  raw.redis_timeout_ms = Millis(config.redis.timeout);
  return raw;
}

base::Status Invalid(std::string message) { return base::InvalidArgument(std::move(message)); }

// A decimal integer in [min, max]; `flag` names it in the error.
base::Result<std::int64_t> ParseBounded(const std::string& text, std::string_view flag,
                                        std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || value < min || value > max) {
    return Invalid(std::string(flag) + " must be an integer between " + std::to_string(min) +
                   " and " + std::to_string(max) + ", got '" + text + "'");
  }
  return value;
}

base::Result<LogLevel> ParseLogLevel(const std::string& text) {
  if (const auto level = ValueNamed(kLogLevels, text)) return *level;
  return Invalid("--log-level must be one of trace, debug, info, warn, error, got '" + text + "'");
}

base::Status ValidateLogging(const RawFlags& raw, Config& config) {
  if (!raw.log_format.empty()) {
    const auto format = ValueNamed(kLogFormats, raw.log_format);
    if (!format) return Invalid("--log-format must be json or text, got '" + raw.log_format + "'");
    config.log_format = *format;
  }
  const auto access_log = ValueNamed(kAccessLogs, raw.access_log);
  if (!access_log) {
    return Invalid("--access-log must be off, errors or all, got '" + raw.access_log + "'");
  }
  config.access_log = *access_log;
  return base::Status::Ok();
}

template <typename Option>
void AddRateLimitOptions(Option& option, RawFlags& raw) {
  option("--rate-limit", raw.rate_limit, "FLASHSALE_RATE_LIMIT",
         "on|off: per-user, per-IP and per-device token buckets on user routes (429)");
  option("--rate-limit-tiers", raw.rate_limit_tiers, "FLASHSALE_RATE_LIMIT_TIERS",
         "requests per minute per tier, NAME=RPM[:BURST] (burst default RPM/5)");
  option("--rate-limit-entries-max", raw.rate_limit_entries_max, "FLASHSALE_RATE_LIMIT_ENTRIES_MAX",
         "identities tracked per map at most (least recently used evicted)");
  option("--trusted-proxies", raw.trusted_proxies, "FLASHSALE_TRUSTED_PROXIES",
         "CIDR list of proxies whose X-Forwarded-For is believed");
  option("--suspicious-cidrs", raw.suspicious_cidrs, "FLASHSALE_SUSPICIOUS_CIDRS",
         "CIDR list of VPN/proxy ranges judged at --suspicious-tier at most");
  option("--suspicious-tier", raw.suspicious_tier, "FLASHSALE_SUSPICIOUS_TIER",
         "bot|new|normal|premium: tier of clients in --suspicious-cidrs");
  option("--bot-ip-requests-per-second", raw.bot_ip_requests_per_second,
         "FLASHSALE_BOT_IP_REQUESTS_PER_SECOND", "an IP above this rate becomes a bot");
  option("--bot-fingerprint-user-ids", raw.bot_fingerprint_user_ids,
         "FLASHSALE_BOT_FINGERPRINT_USER_IDS",
         "a device fingerprint using more user ids than this within 10 s becomes a bot");
  option("--bot-cooldown-seconds", raw.bot_cooldown_seconds, "FLASHSALE_BOT_COOLDOWN_SECONDS",
         "how long detected identities stay in the bot tier");
}

template <typename Option>
void AddRedisOptions(Option& option, RawFlags& raw) {
  option("--redis", raw.redis, "FLASHSALE_REDIS",
         "redis://HOST[:PORT][/DB]: shared rate limits (and with --redis-cache the availability "
         "cache and idempotency fast path); empty: none");
  option("--redis-password-file", raw.redis_password_file, "FLASHSALE_REDIS_PASSWORD_FILE",
         "Redis password read from this file (instead of in the --redis URL)");
  option("--redis-cache", raw.redis_cache, "FLASHSALE_REDIS_CACHE",
         "auto|on|off: availability cache and idempotency fast path in Redis (auto: on for a "
         "store shared by nodes)");
  option("--redis-timeout-ms", raw.redis_timeout_ms, "FLASHSALE_REDIS_TIMEOUT_MS",
         "Redis connect and reply timeout; slower counts as down (local fallback)");
}

base::Result<RedisConfig> ValidateRedis(const RawFlags& raw) {
  RedisConfig config;
  if (!raw.redis.empty()) {
    auto url = redis::ParseRedisUrl(raw.redis);
    if (!url) return url.error();
    config.url = std::move(*url);
  }
  if (!raw.redis_password_file.empty()) {
    if (raw.redis.empty()) return Invalid("--redis-password-file needs --redis");
    if (!config.url->password.empty()) {
      return Invalid("give the Redis password in --redis or --redis-password-file, not both");
    }
    auto password = ReadSecretFile(raw.redis_password_file, "--redis-password");
    if (!password) return password.error();
    config.url->password = std::move(*password);
  }
  const auto cache = ValueNamed(kRedisCacheModes, raw.redis_cache);
  if (!cache) {
    return Invalid("--redis-cache must be auto, on or off, got '" + raw.redis_cache + "'");
  }
  config.cache = *cache;
  auto timeout = ParseBounded(raw.redis_timeout_ms, "--redis-timeout-ms", 1, kRedisTimeoutMsLimit);
  if (!timeout) return timeout.error();
  config.timeout = std::chrono::milliseconds(*timeout);
  return config;
}

base::Result<ratelimit::Tier> ParseTierName(const std::string& text) {
  for (ratelimit::Tier tier : {ratelimit::Tier::kBot, ratelimit::Tier::kNew,
                               ratelimit::Tier::kNormal, ratelimit::Tier::kPremium}) {
    if (ratelimit::TierName(tier) == text) return tier;
  }
  return Invalid("--suspicious-tier must be bot, new, normal or premium, got '" + text + "'");
}

base::Result<RateLimitConfig> ValidateRateLimit(const RawFlags& raw) {
  RateLimitConfig config;
  const auto mode = ValueNamed(kRateLimitModes, raw.rate_limit);
  if (!mode) return Invalid("--rate-limit must be on or off, got '" + raw.rate_limit + "'");
  config.mode = *mode;
  auto tiers = ratelimit::ParseTierTable(raw.rate_limit_tiers, ratelimit::DefaultTierTable());
  if (!tiers) return tiers.error();
  config.limiter.tiers = *tiers;
  auto entries = ParseBounded(raw.rate_limit_entries_max, "--rate-limit-entries-max", 1,
                              kRateLimitEntriesMaxLimit);
  if (!entries) return entries.error();
  config.limiter.entries_max = static_cast<std::size_t>(*entries);
  auto trusted = ratelimit::CidrList::Parse(raw.trusted_proxies, "--trusted-proxies");
  if (!trusted) return trusted.error();
  config.trusted_proxies = std::move(*trusted);
  auto suspicious = ratelimit::CidrList::Parse(raw.suspicious_cidrs, "--suspicious-cidrs");
  if (!suspicious) return suspicious.error();
  config.limiter.suspicious_cidrs = std::move(*suspicious);
  auto tier = ParseTierName(raw.suspicious_tier);
  if (!tier) return tier.error();
  config.limiter.suspicious_tier = *tier;
  auto ip_rate = ParseBounded(raw.bot_ip_requests_per_second, "--bot-ip-requests-per-second", 1,
                              ratelimit::kRequestsPerMinuteMax);
  if (!ip_rate) return ip_rate.error();
  config.limiter.ip_requests_per_second_max = *ip_rate;
  auto user_ids =
      ParseBounded(raw.bot_fingerprint_user_ids, "--bot-fingerprint-user-ids", 1, 10'000);
  if (!user_ids) return user_ids.error();
  config.limiter.fingerprint_user_ids_max = static_cast<std::size_t>(*user_ids);
  auto cooldown =
      ParseBounded(raw.bot_cooldown_seconds, "--bot-cooldown-seconds", 1, kBotCooldownSecondsMax);
  if (!cooldown) return cooldown.error();
  config.limiter.cooldown = std::chrono::seconds(*cooldown);
  return config;
}

void AddOptions(CLI::App& serve, RawFlags& raw) {
  auto option = [&serve](const char* name, std::string& target, const char* env, const char* help) {
    serve.add_option(name, target, help)->envname(env)->capture_default_str();
  };
  option("--listen", raw.listen, "FLASHSALE_LISTEN", "HOST:PORT to listen on (port 0: any free)");
  option("--metrics-listen", raw.metrics_listen, "FLASHSALE_METRICS_LISTEN",
         "HOST:PORT serving GET /metrics apart from --listen (which then answers 404 for it); "
         "empty: /metrics on --listen");
  option("--data-dir", raw.data_dir, "FLASHSALE_DATA_DIR",
         "directory of the database (DIR/flashsale.db), created if missing");
  option("--store", raw.store, "FLASHSALE_STORE",
         "system of record: empty or 'sqlite' (embedded, DIR/flashsale.db) or"
         " postgres://user:password@host:port/db (shared by a cluster of nodes)");
  serve
      .add_flag("--demo", raw.demo, "create the open demo sale 'demo-sku' and print how to try it")
      ->envname("FLASHSALE_DEMO");
  option("--jwt-secret", raw.jwt_secret, "FLASHSALE_JWT_SECRET",
         "HS256 secret of user tokens, 32 bytes or more (required unless --demo)");
  option("--jwt-secret-file", raw.jwt_secret_file, "FLASHSALE_JWT_SECRET_FILE",
         "read --jwt-secret from this file instead (kept out of ps)");
  option("--admin-token", raw.admin_token, "FLASHSALE_ADMIN_TOKEN",
         "bearer token of the admin API, 32 bytes or more (required unless --demo)");
  option("--admin-token-file", raw.admin_token_file, "FLASHSALE_ADMIN_TOKEN_FILE",
         "read --admin-token from this file instead (kept out of ps)");
  option("--jwt-leeway-seconds", raw.jwt_leeway_seconds, "FLASHSALE_JWT_LEEWAY_SECONDS",
         "clock skew allowed for a user token's nbf and iat");
  option("--jwt-issuer", raw.jwt_issuer, "FLASHSALE_JWT_ISSUER",
         "when set, user tokens must carry this iss");
  option("--jwt-audience", raw.jwt_audience, "FLASHSALE_JWT_AUDIENCE",
         "when set, user tokens' aud must name this audience");
  option("--threads", raw.threads, "FLASHSALE_THREADS",
         "I/O threads (default: one per core but one, which is the writer's)");
  option("--sqlite-synchronous", raw.sqlite_synchronous, "FLASHSALE_SQLITE_SYNCHRONOUS",
         "full|normal|off (full: every acknowledged reservation survives power loss)");
  option("--batch-size-max", raw.batch_size_max, "FLASHSALE_BATCH_SIZE_MAX",
         "commands per engine batch (one commit) at most");
  option("--inbox-capacity", raw.inbox_capacity, "FLASHSALE_INBOX_CAPACITY",
         "engine commands waiting at most; beyond it requests get 503 at once");
  option("--log-level", raw.log_level, "FLASHSALE_LOG_LEVEL", "trace|debug|info|warn|error");
  option("--log-format", raw.log_format, "FLASHSALE_LOG_FORMAT",
         "json|text (default: json when stderr is not a terminal, text when it is)");
  option("--access-log", raw.access_log, "FLASHSALE_ACCESS_LOG",
         "off|errors|all: access log lines (errors: 5xx answers and requests slower than 1 s)");
  option("--idle-timeout-seconds", raw.idle_timeout_seconds, "FLASHSALE_IDLE_TIMEOUT_SECONDS",
         "idle or slow client deadline per request");
  option("--shutdown-delay-seconds", raw.shutdown_delay_seconds, "FLASHSALE_SHUTDOWN_DELAY_SECONDS",
         "on SIGTERM: /readyz answers 503 at once and requests are still served this long, so "
         "balancers stop sending first (a second signal cuts it short)");
  option("--drain-timeout-seconds", raw.drain_timeout_seconds, "FLASHSALE_DRAIN_TIMEOUT_SECONDS",
         "then, after the listener closed: in-flight requests get this long to be answered");
  option("--store-wait-seconds", raw.store_wait_seconds, "FLASHSALE_STORE_WAIT_SECONDS",
         "cluster mode, at start: wait this long for PostgreSQL to be reachable (the port "
         "answers /readyz 503 \"starting\" meanwhile), then exit");
  option("--max-connections-per-ip", raw.max_connections_per_ip, "FLASHSALE_MAX_CONNECTIONS_PER_IP",
         "open connections from one client address at most; beyond it one is closed at once");
  option("--order-waiters-max", raw.order_waiters_max, "FLASHSALE_ORDER_WAITERS_MAX",
         "order reads held by wait_seconds at most; beyond it such a read gets 503");
  option("--sse-subscribers-max", raw.sse_subscribers_max, "FLASHSALE_SSE_SUBSCRIBERS_MAX",
         "open availability event streams at most; beyond it a new one gets 503");
  AddRateLimitOptions(option, raw);
  AddRedisOptions(option, raw);
  option("--audit-checkpoint-seconds", raw.audit_checkpoint_seconds,
         "FLASHSALE_AUDIT_CHECKPOINT_SECONDS",
         "interval of the audit chain head checkpoint (log line and metrics)");
  option("--audit-throttled-per-second", raw.audit_throttled_per_second,
         "FLASHSALE_AUDIT_THROTTLED_PER_SECOND",
         "throttled reserve attempts audited one by one per second at most; the rest as counts");
  option("--waiting-room-prequeue-seconds", raw.waiting_room_prequeue_seconds,
         "FLASHSALE_WAITING_ROOM_PREQUEUE_SECONDS",
         "waiting-room sales: joins open this long before starts_at (drawn at the start)");
  option("--waiting-room-admit-per-second", raw.waiting_room_admit_per_second,
         "FLASHSALE_WAITING_ROOM_ADMIT_PER_SECOND",
         "waiting-room sales: tickets admitted per second at most (per sale)");
  option("--waiting-room-pass-ttl-seconds", raw.waiting_room_pass_ttl_seconds,
         "FLASHSALE_WAITING_ROOM_PASS_TTL_SECONDS",
         "waiting-room sales: how long an admitted ticket's queue pass is valid");
  option("--payment-gateway", raw.payment_gateway, "FLASHSALE_PAYMENT_GATEWAY",
         "simulated|http (http: Stripe-style API at --payment-gateway-url)");
  option("--payment-gateway-url", raw.payment_gateway_url, "FLASHSALE_PAYMENT_GATEWAY_URL",
         "base URL of the http gateway, e.g. https://api.example.com (https is verified)");
  option("--payment-gateway-key-file", raw.payment_gateway_key_file,
         "FLASHSALE_PAYMENT_GATEWAY_KEY_FILE",
         "the http gateway's API key, read from this file, sent as a bearer token");
  option("--tls-ca-file", raw.tls_ca_file, "FLASHSALE_TLS_CA_FILE",
         "PEM bundle of the CAs trusted for https:// calls (gateway, webhooks); empty: the "
         "system's");
  option("--payment-retry-schedule", raw.payment_retry_schedule, "FLASHSALE_PAYMENT_RETRY_SCHEDULE",
         "waits between gateway retries (ms, s, m); after the last the order NEEDS_ATTENTION");
  option("--payment-simulated-latency-ms", raw.payment_simulated_latency_ms,
         "FLASHSALE_PAYMENT_SIMULATED_LATENCY_MS", "latency of each simulated gateway call");
  option("--payment-timeout-ms", raw.payment_timeout_ms, "FLASHSALE_PAYMENT_TIMEOUT_MS",
         "http gateway: one call's deadline; a timeout is retried");
  option("--payment-concurrency", raw.payment_concurrency, "FLASHSALE_PAYMENT_CONCURRENCY",
         "gateway calls in flight at once");
  option("--events", raw.events, "FLASHSALE_EVENTS",
         "event sink of the outbox relay: log (DATA_DIR/events.jsonl), kafka or webhook");
  option("--kafka-brokers", raw.kafka_brokers, "FLASHSALE_KAFKA_BROKERS",
         "--events kafka: bootstrap servers, e.g. 127.0.0.1:9092");
  option("--kafka-topic", raw.kafka_topic, "FLASHSALE_KAFKA_TOPIC",
         "--events kafka: topic of the events (keyed by sku)");
  serve
      .add_option("--kafka-property", raw.kafka_properties,
                  "--events kafka: a librdkafka property KEY=VALUE (repeatable; KEY=@FILE reads "
                  "the value from FILE), e.g. security.protocol=SASL_SSL")
      ->envname("FLASHSALE_KAFKA_PROPERTIES")
      ->delimiter(';');
  option("--webhook-url", raw.webhook_url, "FLASHSALE_WEBHOOK_URL",
         "--events webhook: http://HOST:PORT/PATH receiving signed event batches");
  option("--webhook-secret", raw.webhook_secret, "FLASHSALE_WEBHOOK_SECRET",
         "HMAC-SHA256 key of the X-Flashsale-Signature header (webhooks and notifications)");
  serve
      .add_flag("--webhook-allow-unsigned", raw.webhook_allow_unsigned,
                "send webhooks and notifications without --webhook-secret (refused otherwise)")
      ->envname("FLASHSALE_WEBHOOK_ALLOW_UNSIGNED");
  option("--notification-webhook-url", raw.notification_webhook_url,
         "FLASHSALE_NOTIFICATION_WEBHOOK_URL",
         "http://HOST:PORT/PATH told of order.confirmed and order.failed (buyer notifications)");
  option("--smtp-url", raw.smtp_url, "FLASHSALE_SMTP_URL",
         "smtp://[USER@]HOST:PORT (STARTTLS when offered) or smtps://...: e-mail the buyers "
         "their order confirmation or failure (to the token's email claim)");
  option("--smtp-from", raw.smtp_from, "FLASHSALE_SMTP_FROM",
         "--smtp-url: the sender address of the buyers' e-mails");
  option("--smtp-password-file", raw.smtp_password_file, "FLASHSALE_SMTP_PASSWORD_FILE",
         "--smtp-url: the SMTP user's password, read from this file (TLS is then required)");
}

base::Status ValidateEmail(const RawFlags& raw, Config& config) {
  if (raw.smtp_url.empty()) {
    if (!raw.smtp_from.empty() || !raw.smtp_password_file.empty()) {
      return Invalid("--smtp-from and --smtp-password-file need --smtp-url");
    }
    return base::Status::Ok();
  }
  auto url = net::ParseSmtpUrl(raw.smtp_url);
  if (!url) return Invalid("--smtp-url: " + url.error().message());
  if (!base::IsValidEmailAddress(raw.smtp_from)) {
    return Invalid(
        "--smtp-url needs --smtp-from ADDRESS, a plain address like "
        "orders@example.com");
  }
  EmailConfig email;
  email.url = std::move(url->url);
  email.username = std::move(url->username);
  email.from = raw.smtp_from;
  if (!raw.smtp_password_file.empty()) {
    if (email.username.empty()) {
      return Invalid("--smtp-password-file needs a user in --smtp-url (smtp://USER@HOST:PORT)");
    }
    auto password = ReadSecretFile(raw.smtp_password_file, "--smtp-password");
    if (!password) return password.error();
    email.password = std::move(*password);
  }
  config.email = std::move(email);
  return base::Status::Ok();
}

base::Status ValidateSaga(const RawFlags& raw, Config& config) {
  const auto gateway = ValueNamed(kGatewayKinds, raw.payment_gateway);
  if (!gateway) {
    return Invalid("--payment-gateway must be simulated or http, got '" + raw.payment_gateway +
                   "'");
  }
  config.payment_gateway = *gateway;
  if (*gateway == PaymentGatewayKind::kHttp && !net::CheckHttpUrl(raw.payment_gateway_url).ok()) {
    return Invalid("--payment-gateway=http needs --payment-gateway-url https://HOST[:PORT]");
  }
  config.payment_gateway_url = raw.payment_gateway_url;
  if (!raw.payment_gateway_key_file.empty()) {
    auto key = ReadSecretFile(raw.payment_gateway_key_file, "--payment-gateway-key");
    if (!key) return key.error();
    config.payment_gateway_key = std::move(*key);
  }
  if (!raw.tls_ca_file.empty() && ::access(raw.tls_ca_file.c_str(), R_OK) != 0) {
    return Invalid("--tls-ca-file: cannot read " + raw.tls_ca_file);
  }
  config.tls_ca_file = raw.tls_ca_file;
  auto schedule = core::ParseRetrySchedule(raw.payment_retry_schedule);
  if (!schedule) {
    return Invalid("--payment-retry-schedule must be 1-64 positive delays like 50ms,1s,2m, got '" +
                   raw.payment_retry_schedule + "'");
  }
  config.payment_retry_schedule = std::move(*schedule);
  auto latency = ParseBounded(raw.payment_simulated_latency_ms, "--payment-simulated-latency-ms", 0,
                              kSimulatedLatencyMsLimit);
  if (!latency) return latency.error();
  config.payment_simulated_latency = std::chrono::milliseconds(*latency);
  auto timeout = ParseBounded(raw.payment_timeout_ms, "--payment-timeout-ms", 1, 600'000);
  if (!timeout) return timeout.error();
  config.payment_timeout = std::chrono::milliseconds(*timeout);
  auto concurrency =
      ParseBounded(raw.payment_concurrency, "--payment-concurrency", 1, kPaymentConcurrencyLimit);
  if (!concurrency) return concurrency.error();
  config.payment_concurrency = static_cast<std::size_t>(*concurrency);
  const auto events = ValueNamed(kEventSinks, raw.events);
  if (!events) {
    return Invalid("--events must be log, kafka or webhook, got '" + raw.events + "'");
  }
  config.events = *events;
  if (*events == EventSinkKind::kWebhook && !net::CheckHttpUrl(raw.webhook_url).ok()) {
    return Invalid("--events webhook needs --webhook-url https://HOST[:PORT]/PATH");
  }
  if (*events == EventSinkKind::kKafka) {
    if (raw.kafka_brokers.empty()) return Invalid("--events kafka needs --kafka-brokers");
    if (raw.kafka_topic.empty()) return Invalid("--kafka-topic must not be empty");
  }
  config.kafka_brokers = raw.kafka_brokers;
  config.kafka_topic = raw.kafka_topic;
  for (const std::string& property : raw.kafka_properties) {
    const std::size_t equals = property.find('=');
    if (equals == 0 || equals == std::string::npos || equals + 1 == property.size()) {
      return Invalid("--kafka-property must be KEY=VALUE, got '" + property.substr(0, equals) +
                     "'");
    }
    const std::string key = property.substr(0, equals);
    std::string value = property.substr(equals + 1);
    if (key == "bootstrap.servers" || key == "enable.idempotence") {
      return Invalid("--kafka-property " + key +
                     " is set by the product (--kafka-brokers; "
                     "the producer is always idempotent)");
    }
    if (value.starts_with("@")) {
      auto read = ReadSecretFile(value.substr(1), "--kafka-property " + key);
      if (!read) return read.error();
      value = std::move(*read);
    }
    config.kafka_properties[key] = std::move(value);
  }
  if (!raw.notification_webhook_url.empty() &&
      !net::CheckHttpUrl(raw.notification_webhook_url).ok()) {
    return Invalid("--notification-webhook-url must be https://HOST[:PORT]/PATH");
  }
  const bool posts_events =
      *events == EventSinkKind::kWebhook || !raw.notification_webhook_url.empty();
  if (posts_events && raw.webhook_secret.empty() && !raw.webhook_allow_unsigned) {
    return Invalid(
        "webhooks and notifications are signed: give --webhook-secret (or, to send them "
        "unsigned, --webhook-allow-unsigned)");
  }
  config.webhook_url = raw.webhook_url;
  config.webhook_secret = raw.webhook_secret;
  config.notification_webhook_url = raw.notification_webhook_url;
  return base::Status::Ok();
}

// Where one offline tool reads. Each tool has its own: CLI11 applies an option's variable and
// callback on every subcommand, run or not, so a shared --store variable would be overwritten
// by the FLASHSALE_STORE of the tools not run. --data-dir has no envname: ValidateTool applies
// FLASHSALE_DATA_DIR, as it must tell a --data-dir typed on the command line from the variable.
struct ToolSourceFlags {
  CLI::Option* data_dir = nullptr;
  std::string store;
};

struct ToolFlags {
  ToolConfig tool;
  bool json = false;  // --json of reconcile, audit export and report
  ToolSourceFlags verify;
  ToolSourceFlags export_events;
  ToolSourceFlags reconcile;
  ToolSourceFlags report;
};

void AddToolSource(CLI::App& command, ToolConfig& tool, ToolSourceFlags& source) {
  source.data_dir = command
                        .add_option("--data-dir", tool.data_dir,
                                    "directory of the SQLite database (DIR/flashsale.db); also "
                                    "FLASHSALE_DATA_DIR")
                        ->capture_default_str();
  command
      .add_option("--store", source.store,
                  "system of record to read: empty or 'sqlite' (DIR/flashsale.db) or the"
                  " postgres:// URL of a cluster (as serve --store)")
      ->envname("FLASHSALE_STORE");
}

void AddToolCommands(CLI::App& app, ToolFlags& flags) {
  CLI::App* audit = app.add_subcommand("audit", "verify or export the audit trail");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand(
      "verify", "walk the audit hash chain; exit 0 when valid, 3 when broken");
  AddToolSource(*verify, flags.tool, flags.verify);
  CLI::App* export_command =
      audit->add_subcommand("export", "write every audit event as JSON lines (chain intact)");
  AddToolSource(*export_command, flags.tool, flags.export_events);
  export_command->add_option("--output", flags.tool.output, "file to write (default: stdout)");
  export_command->add_flag("--json", flags.json,
                           "with --output: print a manifest (file, events, sha256, chain head)");
  export_command->add_option("--manifest", flags.tool.manifest,
                             "with --output: also write the manifest JSON to this file");
  CLI::App* reconcile = app.add_subcommand(
      "reconcile", "compare counters with the rows, check oversell and the audit chain");
  AddToolSource(*reconcile, flags.tool, flags.reconcile);
  reconcile->add_option("--sku", flags.tool.sku_id, "one sale only (default: every sale)");
  reconcile->add_flag("--json", flags.json, "print JSON instead of the table");
  CLI::App* report = app.add_subcommand(
      "report", "post-event report: units sold, orders, revenue, refusals, throttling");
  AddToolSource(*report, flags.tool, flags.report);
  report->add_option("--sku", flags.tool.sku_id, "one sale only (default: every sale)");
  report->add_flag("--json", flags.json, "print JSON instead of text");
}

// --store as serve validates it: "" or "sqlite" -> "", a postgres:// URL -> itself.
base::Result<std::string> ValidateStoreUrl(const std::string& store) {
  if (store.empty() || store == "sqlite") return std::string();
  if (!store::IsPostgresUrl(store)) {
    return Invalid("--store must be 'sqlite' or a postgres:// URL, got '" +
                   store::RedactedUrl(store) + "'");
  }
  return store;
}

// The configuration of the tool that runs, read from `source`, its own flags.
base::Result<ToolConfig> ValidateTool(const ToolConfig& parsed, const ToolSourceFlags& source) {
  ToolConfig tool = parsed;
  if (!tool.manifest.empty() && tool.output.empty()) {
    return Invalid("--manifest needs --output FILE (the manifest describes that file)");
  }
  const bool data_dir_flag = source.data_dir->count() > 0;
  auto store_url = ValidateStoreUrl(source.store);
  if (!store_url) return store_url.error();
  tool.store_url = std::move(*store_url);
  if (!tool.store_url.empty()) {
    if (data_dir_flag) {
      return Invalid(
          "--data-dir and a postgres:// --store (or FLASHSALE_STORE) name two"
          " databases; give one (--store sqlite reads --data-dir)");
    }
    return tool;
  }
  if (!data_dir_flag) {
    const char* variable = std::getenv("FLASHSALE_DATA_DIR");
    if (variable != nullptr) tool.data_dir = variable;
  }
  if (tool.data_dir.empty()) return Invalid("--data-dir must not be empty");
  return tool;
}

base::Status ValidateNumbers(const RawFlags& raw, Config& config) {
  if (raw.threads_given) {
    auto threads =
        ParseBounded(raw.threads, "--threads", 1, static_cast<std::int64_t>(http::kThreadsMax));
    if (!threads) return threads.error();
    config.threads = static_cast<std::size_t>(*threads);
  }
  auto batch = ParseBounded(raw.batch_size_max, "--batch-size-max", 1, kBatchSizeMaxLimit);
  if (!batch) return batch.error();
  auto inbox = ParseBounded(raw.inbox_capacity, "--inbox-capacity", 1, kInboxCapacityLimit);
  if (!inbox) return inbox.error();
  auto idle = ParseBounded(raw.idle_timeout_seconds, "--idle-timeout-seconds", 1,
                           static_cast<std::int64_t>(http::kIdleTimeoutSecondsMax));
  if (!idle) return idle.error();
  config.batch_size_max = static_cast<std::size_t>(*batch);
  config.inbox_capacity = static_cast<std::size_t>(*inbox);
  config.idle_timeout = std::chrono::seconds(*idle);
  auto delay = ParseBounded(raw.shutdown_delay_seconds, "--shutdown-delay-seconds", 0,
                            kShutdownSecondsLimit);
  if (!delay) return delay.error();
  config.shutdown_delay = std::chrono::seconds(*delay);
  auto drain =
      ParseBounded(raw.drain_timeout_seconds, "--drain-timeout-seconds", 0, kShutdownSecondsLimit);
  if (!drain) return drain.error();
  config.drain_timeout = std::chrono::seconds(*drain);
  auto store_wait =
      ParseBounded(raw.store_wait_seconds, "--store-wait-seconds", 0, kShutdownSecondsLimit);
  if (!store_wait) return store_wait.error();
  config.store_wait = std::chrono::seconds(*store_wait);
  auto per_ip = ParseBounded(raw.max_connections_per_ip, "--max-connections-per-ip", 1,
                             static_cast<std::int64_t>(http::kConnectionsMax));
  if (!per_ip) return per_ip.error();
  config.max_connections_per_ip = static_cast<std::size_t>(*per_ip);
  auto waiters = ParseBounded(raw.order_waiters_max, "--order-waiters-max", 0,
                              static_cast<std::int64_t>(http::kConnectionsMax));
  if (!waiters) return waiters.error();
  config.order_waiters_max = static_cast<std::size_t>(*waiters);
  auto subscribers = ParseBounded(raw.sse_subscribers_max, "--sse-subscribers-max", 0,
                                  static_cast<std::int64_t>(http::kConnectionsMax));
  if (!subscribers) return subscribers.error();
  config.sse_subscribers_max = static_cast<std::size_t>(*subscribers);
  auto leeway =
      ParseBounded(raw.jwt_leeway_seconds, "--jwt-leeway-seconds", 0, kJwtLeewaySecondsLimit);
  if (!leeway) return leeway.error();
  config.jwt.leeway = std::chrono::seconds(*leeway);
  auto checkpoint = ParseBounded(raw.audit_checkpoint_seconds, "--audit-checkpoint-seconds", 1,
                                 kAuditCheckpointSecondsLimit);
  if (!checkpoint) return checkpoint.error();
  config.audit_checkpoint = std::chrono::seconds(*checkpoint);
  auto throttled = ParseBounded(raw.audit_throttled_per_second, "--audit-throttled-per-second", 0,
                                kAuditThrottledPerSecondLimit);
  if (!throttled) return throttled.error();
  config.audit_throttled_per_second = static_cast<std::size_t>(*throttled);
  auto prequeue = ParseBounded(raw.waiting_room_prequeue_seconds, "--waiting-room-prequeue-seconds",
                               0, core::kPrequeueSecondsMax);
  if (!prequeue) return prequeue.error();
  auto admit = ParseBounded(raw.waiting_room_admit_per_second, "--waiting-room-admit-per-second", 1,
                            core::kAdmitPerSecondMax);
  if (!admit) return admit.error();
  auto pass_ttl = ParseBounded(raw.waiting_room_pass_ttl_seconds, "--waiting-room-pass-ttl-seconds",
                               1, core::kPassTtlSecondsMax);
  if (!pass_ttl) return pass_ttl.error();
  config.waiting_room.prequeue = std::chrono::seconds(*prequeue);
  config.waiting_room.admit_per_second = *admit;
  config.waiting_room.pass_ttl = std::chrono::seconds(*pass_ttl);
  return base::Status::Ok();
}

base::Result<Config> Validate(const RawFlags& raw) {
  Config config;
  config.threads = DefaultIoThreads(std::thread::hardware_concurrency());
  auto listen = ParseListenAddress(raw.listen);
  if (!listen) return listen.error();
  config.listen_host = listen->host;
  config.listen_port = listen->port;
  if (!raw.metrics_listen.empty()) {
    auto metrics_listen = ParseListenAddress(raw.metrics_listen);
    if (!metrics_listen) return Invalid("--metrics-listen: " + metrics_listen.error().message());
    config.metrics_listen = std::move(*metrics_listen);
  }
  if (raw.data_dir.empty()) return Invalid("--data-dir must not be empty");
  config.data_dir = raw.data_dir;
  auto store_url = ValidateStoreUrl(raw.store);
  if (!store_url) return store_url.error();
  config.store_url = std::move(*store_url);
  config.demo = raw.demo ? DemoMode::kOn : DemoMode::kOff;
  auto secrets = ResolveSecrets({raw.jwt_secret, raw.jwt_secret_file},
                                {raw.admin_token, raw.admin_token_file}, raw.demo);
  if (!secrets) return secrets.error();
  config.jwt_secret = std::move(secrets->jwt_secret);
  config.admin_token = std::move(secrets->admin_token);
  config.jwt.issuer = raw.jwt_issuer;
  config.jwt.audience = raw.jwt_audience;
  FS_RETURN_IF_ERROR(ValidateNumbers(raw, config));
  auto synchronous = store::ParseSynchronous(raw.sqlite_synchronous);
  if (!synchronous) {
    return Invalid("--sqlite-synchronous must be full, normal or off, got '" +
                   raw.sqlite_synchronous + "'");
  }
  config.sqlite_synchronous = *synchronous;
  auto level = ParseLogLevel(raw.log_level);
  if (!level) return level.error();
  config.log_level = *level;
  FS_RETURN_IF_ERROR(ValidateLogging(raw, config));
  auto rate_limit = ValidateRateLimit(raw);
  if (!rate_limit) return rate_limit.error();
  config.rate_limit = std::move(*rate_limit);
  FS_RETURN_IF_ERROR(ValidateSaga(raw, config));
  FS_RETURN_IF_ERROR(ValidateEmail(raw, config));
  auto redis = ValidateRedis(raw);
  if (!redis) return redis.error();
  config.redis = std::move(*redis);
  return config;
}

CommandLine Exit(int code, std::string out, std::string err) {
  CommandLine result;
  result.action = CommandLine::Action::kExit;
  result.exit_code = code;
  result.out = std::move(out);
  result.err = std::move(err);
  return result;
}

}  // namespace

std::size_t DefaultIoThreads(unsigned cores) {
  // The writer is one busy thread of its own: give it a core. On 2 cores one I/O thread
  // served more than two, for reads and reserves alike (docs/benchmarks.md, "Run 5").
  if (cores <= 2) return 1;
  return std::min<std::size_t>(cores - 1, http::kThreadsMax);
}

std::string_view LogLevelName(LogLevel level) {
  for (const auto& entry : kLogLevels) {
    if (entry.value == level) return entry.name;
  }
  return "info";
}

base::Result<ListenAddress> ParseListenAddress(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Invalid("--listen must be HOST:PORT (e.g. 127.0.0.1:8080), got '" + text + "'");
  }
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return Invalid("--listen has a malformed [IPv6] host: '" + text + "'");
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return Invalid("--listen: write IPv6 hosts in brackets, e.g. [::1]:8080, got '" + text + "'");
  }
  auto port = ParseBounded(text.substr(colon + 1), "--listen port", 0, 65535);
  if (!port) return port.error();
  return ListenAddress{std::move(host), static_cast<std::uint16_t>(*port)};
}

std::string HttpUrl(const std::string& host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

CommandLine ParseCommandLine(int argc, const char* const* argv) {
  CLI::App app{"flashsale: a flash-sale reservation server", "flashsale"};
  app.set_version_flag("--version", std::string("flashsale ") + FLASHSALE_VERSION);
  app.require_subcommand(1);
  CLI::App* serve = app.add_subcommand("serve", "run the HTTP server until SIGINT/SIGTERM");
  RawFlags raw = DefaultFlags();
  AddOptions(*serve, raw);
  ToolFlags tool_flags;
  AddToolCommands(app, tool_flags);
  AdminFlags admin_flags;
  AddAdminCommands(app, admin_flags);
  try {
    app.parse(argc, argv);
    // Counted from the flag or its variable; an explicitly empty value is an error.
    raw.threads_given = serve->get_option("--threads")->count() > 0;
  } catch (const CLI::ParseError& error) {
    std::ostringstream out;
    std::ostringstream err;
    const int code = app.exit(error, out, err);
    // Help and version are successes; every other parse error is a configuration error.
    return Exit(code == 0 ? 0 : kExitBadConfig, out.str(), err.str());
  }
  if (app.got_subcommand("admin")) {
    auto admin = ValidateAdmin(admin_flags);
    if (!admin)
      return Exit(kExitBadConfig, "", "flashsale admin: " + admin.error().message() + "\n");
    CommandLine result;
    result.action = CommandLine::Action::kAdmin;
    result.admin = std::move(*admin);
    return result;
  }
  const auto tool_action = [&app]() -> std::optional<CommandLine::Action> {
    if (app.got_subcommand("reconcile")) return CommandLine::Action::kReconcile;
    if (app.got_subcommand("report")) return CommandLine::Action::kReport;
    if (!app.got_subcommand("audit")) return std::nullopt;
    const CLI::App* audit = app.get_subcommand("audit");
    if (audit->got_subcommand("verify")) return CommandLine::Action::kAuditVerify;
    return CommandLine::Action::kAuditExport;
  }();
  if (tool_action) {
    const ToolSourceFlags& source =
        *tool_action == CommandLine::Action::kAuditVerify   ? tool_flags.verify
        : *tool_action == CommandLine::Action::kAuditExport ? tool_flags.export_events
        : *tool_action == CommandLine::Action::kReport      ? tool_flags.report
                                                            : tool_flags.reconcile;
    tool_flags.tool.format = tool_flags.json ? OutputFormat::kJson : OutputFormat::kText;
    auto tool = ValidateTool(tool_flags.tool, source);
    if (!tool) {
      return Exit(kExitBadConfig, "",
                  "flashsale: invalid configuration: " + tool.error().message() + "\n");
    }
    CommandLine result;
    result.action = *tool_action;
    result.tool = std::move(*tool);
    return result;
  }
  auto config = Validate(raw);
  if (!config) {
    return Exit(kExitBadConfig, "",
                "flashsale: invalid configuration: " + config.error().message() + "\n");
  }
  CommandLine result;
  result.action = CommandLine::Action::kServe;
  result.config = std::move(*config);
  return result;
}

}  // namespace fs::app
