// Command line and environment configuration of `flashsale`: parsing (CLI11; every flag also
// from its FLASHSALE_* variable, the flag winning) and validation. Parsing never exits the
// process: it returns what to do, so tests can drive it with any argv and environment.
// Exit codes: 0 for --help/--version, 2 for any invalid configuration.
// Thread-safety: ParseCommandLine reads the process environment; call it from main only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth/jwt.h"
#include "core/order.h"
#include "core/waiting_room.h"
#include "engine/engine.h"
#include "events/kafka_sink.h"
#include "http/limits.h"
#include "payment/gateway.h"
#include "payment/worker.h"
#include "ratelimit/client_identity.h"
#include "ratelimit/rate_limiter.h"
#include "redis/redis_client.h"
#include "redis/redis_url.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::app {

inline constexpr int kExitBadConfig = 2;
inline constexpr int kExitRuntimeError = 1;

// --jwt-leeway-seconds: the clock skew allowed for a token's nbf and iat. 30 s covers honest
// clock drift between an identity provider and this server; an hour is already a bug.
inline constexpr std::int64_t kJwtLeewaySecondsDefault = 30;
inline constexpr std::int64_t kJwtLeewaySecondsLimit = 3600;

// Largest --batch-size-max: beyond this one transaction holds the SQLite write lock for tens of
// milliseconds and the batch's first request waits for all the others.
inline constexpr std::int64_t kBatchSizeMaxLimit = 65'536;
// Largest --shutdown-delay-seconds, --drain-timeout-seconds and --store-wait-seconds: ten
// minutes, far beyond any balancer's health-check interval, a request's life or a database
// restart.
inline constexpr std::int64_t kShutdownSecondsLimit = 600;
// Largest --inbox-capacity: 10M queued commands is minutes of backlog at the target rate and
// ~1 GiB of memory; past that 503 at once is the better answer.
inline constexpr std::int64_t kInboxCapacityLimit = 10'000'000;
// Largest --audit-checkpoint-seconds: a day. Checkpoints further apart leave too long a window
// in which a rewritten chain could not be told from the real one.
inline constexpr std::int64_t kAuditCheckpointSecondsLimit = 86'400;
// Largest --audit-throttled-per-second: each is an audit row the writer writes; past 100k/s
// the throttled flood would take the writer's whole time, which the bound exists to prevent.
inline constexpr std::int64_t kAuditThrottledPerSecondLimit = 100'000;

enum class DemoMode : std::uint8_t { kOff, kOn };
enum class RateLimitMode : std::uint8_t { kOff, kOn };

// --rate-limit and its tunables (docs/operations.md). On by default.
struct RateLimitConfig {
  RateLimitMode mode = RateLimitMode::kOn;
  ratelimit::LimiterOptions limiter;
  ratelimit::CidrList trusted_proxies;
};
// Bounds of the rate-limit tunables (beyond them a value is a typo, not a policy).
inline constexpr std::int64_t kRateLimitEntriesMaxLimit = 10'000'000;
inline constexpr std::int64_t kBotCooldownSecondsMax = 7 * 24 * 3600;
enum class PaymentGatewayKind : std::uint8_t { kSimulated, kHttp };
enum class EventSinkKind : std::uint8_t { kLog, kWebhook, kKafka };

// Largest --payment-concurrency: gateway calls in flight at once (one thread each).
inline constexpr std::int64_t kPaymentConcurrencyLimit = 4096;
// Largest --payment-simulated-latency-ms: a minute is already far past any real gateway.
inline constexpr std::int64_t kSimulatedLatencyMsLimit = 60'000;
enum class LogLevel : std::uint8_t { kTrace, kDebug, kInfo, kWarn, kError };
// --log-format: kAuto is json when stderr is not a terminal, text when it is.
enum class LogFormatChoice : std::uint8_t { kAuto, kJson, kText };
// --access-log: none, 5xx answers and slow requests (errors), or every request.
enum class AccessLogChoice : std::uint8_t { kOff, kErrors, kAll };

// --redis-cache: the availability cache and idempotency fast path in Redis. auto = on when the
// store is shared by several nodes (cluster mode), off on the embedded single-node store, whose
// published in-memory state is already the fastest and always current source.
enum class RedisCacheMode : std::uint8_t { kAuto, kOn, kOff };
// Largest --redis-timeout-ms: beyond a second every request would wait that long for a dead
// Redis before falling back; the point of the fallback is not to wait.
inline constexpr std::int64_t kRedisTimeoutMsLimit = 1000;

// --redis and its tunables (docs/operations.md, "Redis").
struct RedisConfig {
  std::optional<redis::RedisUrl> url;  // nullopt: no Redis (everything node-local)
  RedisCacheMode cache = RedisCacheMode::kAuto;
  // Connect and per-reply timeout.
  std::chrono::milliseconds timeout = redis::ClientOptions{}.connect_timeout;
};

// --smtp-url and its companions: the buyers' order e-mails (docs/operations.md, "E-mail").
struct EmailConfig {
  std::string url;       // smtp://HOST:PORT or smtps://HOST:PORT, without the user
  std::string username;  // from the URL; empty: no AUTH
  std::string password;  // --smtp-password-file
  std::string from;      // --smtp-from
};

// Every flag's default lives here, or in the options struct of the module the value ends up in
// (engine::Options, payment::WorkerOptions, ...), read from there: the flag parser, the help
// text (config.cc) and the modules all see the one value.
// "HOST:PORT" or "[IPv6]:PORT" into host and port. kInvalidArgument with the reason.
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
base::Result<ListenAddress> ParseListenAddress(const std::string& text);

struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  // --metrics-listen: GET /metrics on a port of its own (docs/operations.md, "Observability");
  // nullopt: on the main port.
  std::optional<ListenAddress> metrics_listen;
  std::string data_dir = "data";
  // --store: empty for the embedded SQLite store in data_dir; otherwise the postgres:// URL of
  // the database a cluster of nodes shares (docs/operations.md, "Running a cluster").
  std::string store_url;
  DemoMode demo = DemoMode::kOff;
  std::string jwt_secret;   // empty only with --demo (then a random one is made)
  std::string admin_token;  // empty only with --demo (then a random one is made)
  // User tokens: the leeway for nbf and iat, and the issuer and audience they must name.
  auth::VerifyOptions jwt = {std::chrono::seconds(kJwtLeewaySecondsDefault), "", ""};
  std::size_t threads = 1;  // Validate() applies DefaultIoThreads() unless --threads is given
  store::SqliteOptions::Synchronous sqlite_synchronous = store::SqliteOptions{}.synchronous;
  std::size_t batch_size_max = engine::Options{}.batch_size_max;
  std::size_t inbox_capacity = engine::Options{}.inbox_capacity;
  LogLevel log_level = LogLevel::kInfo;
  LogFormatChoice log_format = LogFormatChoice::kAuto;
  AccessLogChoice access_log = AccessLogChoice::kErrors;
  std::chrono::seconds idle_timeout{30};
  // SIGTERM: /readyz 503 and still serving for shutdown_delay (balancers and endpoint lists
  // stop sending meanwhile), then the listener closes and in-flight requests get drain_timeout.
  std::chrono::seconds shutdown_delay{5};
  std::chrono::seconds drain_timeout{10};
  // Cluster mode, at start: how long the node waits for its PostgreSQL to be reachable (bound
  // port, /readyz 503 "starting") before it gives up and exits.
  std::chrono::seconds store_wait{60};
  // Open connections from one client address at most (--max-connections-per-ip).
  std::size_t max_connections_per_ip = http::kConnectionsPerIpDefault;
  // Held order reads and open event streams at most (--order-waiters-max,
  // --sse-subscribers-max); beyond them such a request is answered 503.
  std::size_t order_waiters_max = http::kOrderWaitersDefault;
  std::size_t sse_subscribers_max = http::kSseSubscribersDefault;
  // Payment saga and events.
  PaymentGatewayKind payment_gateway = PaymentGatewayKind::kSimulated;
  std::string payment_gateway_url;  // kHttp: https://HOST[:PORT][/prefix] (or http://)
  std::string payment_gateway_key;  // kHttp: bearer API key (--payment-gateway-key-file)
  // https:// calls (gateway, webhooks, notifications) trust these CAs; empty: the system's.
  std::string tls_ca_file;
  core::RetrySchedule payment_retry_schedule = core::DefaultRetrySchedule();
  std::chrono::milliseconds payment_simulated_latency{0};
  // kHttp: one gateway call at most.
  std::chrono::milliseconds payment_timeout = payment::HttpGatewayOptions{}.timeout;
  std::size_t payment_concurrency = payment::WorkerOptions{}.concurrency;
  EventSinkKind events = EventSinkKind::kLog;
  std::string webhook_url;               // kWebhook: where event batches are POSTed
  std::string webhook_secret;            // HMAC-SHA256 key of X-Flashsale-Signature
  std::string notification_webhook_url;  // empty: no buyer notifications
  std::optional<EmailConfig> email;      // nullopt: no e-mail (no --smtp-url)
  std::string kafka_brokers;             // kKafka: bootstrap.servers
  std::string kafka_topic = events::KafkaOptions{}.topic;
  // --kafka-property KEY=VALUE: librdkafka properties beside the brokers (SASL, SSL, ...).
  std::map<std::string, std::string> kafka_properties;
  RateLimitConfig rate_limit;
  RedisConfig redis;
  // How often the audit chain head is logged and exported as metrics.
  std::chrono::seconds audit_checkpoint{60};
  // Throttled reserve attempts (and detections) written as individual audit events per
  // second at most; the rest are written as exact per-identity counts (engine/fairness_audit.h).
  std::size_t audit_throttled_per_second = engine::FairnessAuditOptions{}.individual_per_second_max;
  // The fair waiting room of sales created with waiting_room on.
  core::WaitingRoomPolicy waiting_room;
};

// What a tool or the operator CLI prints: readable text, or JSON for scripts (--json).
enum class OutputFormat : std::uint8_t { kText, kJson };

// The offline tools: `flashsale audit verify|export`, `flashsale reconcile` and `flashsale report`.
// --store / FLASHSALE_STORE as `serve` takes them: a postgres:// URL reads the cluster's
// database, empty or 'sqlite' the file DATA_DIR/flashsale.db. With a postgres:// store the data
// directory is not read: FLASHSALE_DATA_DIR is then ignored (a cluster node's environment
// sets both) and --data-dir on the command line is refused (exit 2) as naming a second
// database.
struct ToolConfig {
  std::string data_dir = "data";
  std::string store_url;  // empty: the SQLite file in data_dir
  std::string output;     // audit export: file to write ("" = stdout)
  std::string manifest;   // audit export: file to write the manifest to ("" = none)
  std::string sku_id;     // reconcile, report: one sale ("" = all)
  OutputFormat format = OutputFormat::kText;
};

// `flashsale admin ...`: the operator CLI, over HTTP against a running node's admin API
// (app/admin_cli.h). One AdminCommand per admin route it calls.
enum class AdminCommand : std::uint8_t {
  kSalesCreate,    // POST /admin/v1/skus
  kSalesShow,      // GET  /admin/v1/skus/{sku}
  kSalesOpen,      // POST /admin/v1/skus/{sku}/open
  kSalesClose,     // POST /admin/v1/skus/{sku}/close
  kSalesStock,     // POST /admin/v1/skus/{sku}/stock
  kOrdersList,     // GET  /admin/v1/orders?status=...
  kOrdersResolve,  // POST /admin/v1/orders/{id}/resolve
  kReconcile,      // GET  /admin/v1/skus/{sku}/reconciliation
  kAuditVerify,    // GET  /admin/v1/audit/verify
};

// The body of POST /admin/v1/skus (docs/openapi.yaml, CreateSkuRequest) as the flags give it;
// a field not given is left out of the body (the server's default applies).
struct SaleDraft {
  std::string name;
  std::int64_t price_cents = 0;
  std::string currency;
  std::int64_t total_stock = 0;
  std::optional<std::int64_t> per_user_limit{};
  std::optional<std::int64_t> reservation_ttl_seconds{};
  std::optional<std::string> starts_at{};  // RFC 3339
  std::optional<std::string> ends_at{};
  bool waiting_room = false;
  std::optional<std::string> description{};
  std::optional<std::string> image_url{};
  std::optional<std::string> category{};
  std::vector<std::string> tags{};  // empty: none
};

// Where the running node's default admin API is (--url, FLASHSALE_URL).
inline constexpr char kAdminUrlDefault[] = "http://127.0.0.1:8080";

struct AdminConfig {
  std::string url = kAdminUrlDefault;  // http(s)://HOST:PORT, no trailing path
  std::string admin_token;             // FLASHSALE_ADMIN_TOKEN or --admin-token-file
  OutputFormat format = OutputFormat::kText;
  AdminCommand command = AdminCommand::kAuditVerify;
  std::string sku_id;            // sales show|open|close|stock|create, reconcile
  SaleDraft sale{};              // sales create
  std::int64_t stock_delta = 0;  // sales stock --delta
  std::string order_id;          // orders resolve
  std::string order_status;      // orders list --status
  std::string resolve_outcome;   // orders resolve --outcome (paid|failed)
};

struct CommandLine {
  enum class Action : std::uint8_t {
    kServe,
    kExit,
    kAuditVerify,
    kAuditExport,
    kReconcile,
    kReport,
    kAdmin,
  };
  Action action = Action::kExit;
  Config config;      // kServe
  ToolConfig tool;    // kAuditVerify, kAuditExport, kReconcile, kReport
  AdminConfig admin;  // kAdmin
  int exit_code = 0;  // kExit
  std::string out;    // kExit: text for stdout (help, version)
  std::string err;    // kExit: text for stderr (errors)
};

CommandLine ParseCommandLine(int argc, const char* const* argv);

// "http://HOST:PORT" with IPv6 hosts bracketed.
std::string HttpUrl(const std::string& host, std::uint16_t port);

// The default of --threads on a machine with `cores` cores (0 = unknown): all cores but the
// writer's, at least 1, at most http::kThreadsMax.
std::size_t DefaultIoThreads(unsigned cores);

std::string_view LogLevelName(LogLevel level);

}  // namespace fs::app
