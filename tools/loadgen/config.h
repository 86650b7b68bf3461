// Load generator configuration: the scenario and every knob the command line sets.
// Thread-safety: plain data; built once in main() and read-only afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fs::loadgen {

enum class Scenario : std::uint8_t {
  kSale,          // distinct users over a ramp: reserve, then checkout + poll, or abandon
  kReserveOnly,   // reserve only (alias "reserve")
  kAvailability,  // GET availability
  kSearch,        // GET /api/v1/products: list pages and queries over a catalog (catalog.h)
  kContest,       // honest users (one request each) vs. bots (many ids, few IPs)
  kCheckout,      // each job: reserve for a new user, then check out (no order polling)
};

std::optional<Scenario> ParseScenario(std::string_view name);
std::string_view ScenarioName(Scenario scenario);

// How open-loop arrivals are spread; see arrival.h.
enum class ArrivalShape : std::uint8_t { kConstant, kLinearRamp };

enum class OrderWait : std::uint8_t { kLongPoll, kPoll };

struct Config {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  Scenario scenario = Scenario::kReserveOnly;
  std::string sku = "bench-sku";
  int connections = 64;
  int threads = 1;
  // Bounds: arrivals stop at `duration_seconds`; at most `requests_max` jobs (0: no bound).
  // A job is one request, or one user's whole flow in `sale`.
  double duration_seconds = 10;
  std::uint64_t requests_max = 0;
  // Open loop: jobs still unsent this long after `duration_seconds` are counted, not sent.
  double drain_seconds = 10;
  // Open loop at this many jobs/s (0: closed loop), except `sale`, which spreads `users`
  // over `ramp_seconds`.
  double rate = 0;
  std::uint64_t users = 1'000'000'000;  // distinct user ids (they cycle in reserve-only)
  double ramp_seconds = 5;
  ArrivalShape arrival_shape = ArrivalShape::kConstant;
  double abandon_share = 0.1;  // sale: share of winners that release instead of checking out
  std::string payment_method = "pm_card_visa";
  // sale: connections that do the winners' second step (release, or checkout + order polls),
  // so a checkout never holds up the next users' reserves on a job connection.
  int winner_connections = 256;
  // sale: how a winner learns its order's outcome: one held read (GET
  // /api/v1/orders/{id}?wait_seconds=N, answered when the order leaves PENDING), again while
  // it stays PENDING, or polls `order_poll_interval_ms` apart (the way before held reads).
  OrderWait order_wait = OrderWait::kLongPoll;
  int order_wait_seconds = 5;        // long-poll: below request_timeout_seconds
  int order_polls_max = 100;         // sale: GET order at most this often per order
  int order_poll_interval_ms = 100;  // poll: this far apart
  // contest
  std::uint64_t honest_users = 1000;
  double honest_window_seconds = 2;
  int bot_clients = 4;
  int bot_ips = 2;
  int bot_devices = 2;
  // setup
  std::string jwt_secret;
  std::string admin_token;
  std::int64_t create_stock = 0;  // create the sale with this stock first (needs admin token)
  std::uint64_t catalog = 0;      // search: create this many catalog sales first (catalog.h)
  int per_user_limit = 1;
  double request_timeout_seconds = 10;
  bool json = false;
  bool progress = true;
  bool check_invariants = true;  // when an admin token is given
};

}  // namespace fs::loadgen
