// flashsale-loadgen: drives a flashsale server over HTTP/1.1 keep-alive connections and reports
// throughput, latency percentiles per endpoint, status codes, time to sell out, units to bots
// vs. honest users, and an end-of-run invariant check through the admin API.
// Open loop (--rate, or the sale/contest arrival windows; latency from each request's intended
// send time) or closed loop (--rate 0: each connection sends when its previous answer arrives).
// Scenarios: sale, reserve-only (alias reserve), availability, contest, checkout, search.
// See docs/benchmarks.md.
// Exit code: 0 ok, 1 setup failed or an invariant failed, 2 bad arguments.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "tools/loadgen/report.h"
#include "tools/loadgen/scenarios.h"

int main(int argc, char** argv) {
  using namespace fs::loadgen;
  Config c;
  std::string scenario = "reserve-only";
  std::string arrival = "constant";
  bool no_progress = false;
  bool no_check = false;
  CLI::App app("flashsale load generator");
  app.add_option("--host", c.host);
  app.add_option("--port", c.port);
  app.add_option("--scenario", scenario)
      ->check(CLI::IsMember(
          {"sale", "reserve-only", "reserve", "availability", "contest", "checkout", "search"}));
  app.add_option("--sku", c.sku);
  app.add_option("--connections", c.connections, "load connections")->check(CLI::Range(1, 20000));
  app.add_option("--threads", c.threads, "load threads")->check(CLI::Range(1, 64));
  app.add_option("--duration", c.duration_seconds, "seconds of arrivals at most")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--requests", c.requests_max, "jobs at most (0: no bound)");
  app.add_option("--drain", c.drain_seconds,
                 "open loop: seconds after --duration before due jobs are dropped (counted)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--rate", c.rate, "jobs/s offered, open loop; 0 = closed loop")
      ->check(CLI::Range(0.0, 10'000'000.0));
  app.add_option("--users", c.users, "distinct users (sale: arriving over --ramp)")
      ->check(CLI::PositiveNumber);
  app.add_option("--ramp", c.ramp_seconds, "sale: seconds over which users arrive")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--arrival", arrival, "sale: constant | ramp (rate rising linearly)")
      ->check(CLI::IsMember({"constant", "ramp"}));
  app.add_option("--abandon-share", c.abandon_share, "sale: share of winners that release")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--payment-method", c.payment_method);
  app.add_option("--winner-connections", c.winner_connections,
                 "sale: connections for the winners' release or checkout and order polls")
      ->check(CLI::Range(1, 20000));
  std::string order_wait = "long-poll";
  app.add_option("--order-wait", order_wait,
                 "sale: long-poll (GET order ?wait_seconds, the default) | poll")
      ->check(CLI::IsMember({"long-poll", "poll"}));
  app.add_option("--order-wait-seconds", c.order_wait_seconds,
                 "sale, long-poll: wait_seconds of each held order read")
      ->check(CLI::Range(1, 30));
  app.add_option("--order-polls-max", c.order_polls_max)->check(CLI::Range(0, 100000));
  app.add_option("--order-poll-interval-ms", c.order_poll_interval_ms)->check(CLI::Range(1, 60000));
  app.add_option("--honest-users", c.honest_users, "contest")->check(CLI::PositiveNumber);
  app.add_option("--honest-window", c.honest_window_seconds, "contest: seconds")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--bot-clients", c.bot_clients, "contest")->check(CLI::Range(0, 10000));
  app.add_option("--bot-ips", c.bot_ips, "contest")->check(CLI::Range(1, 255));
  app.add_option("--bot-devices", c.bot_devices, "contest")->check(CLI::Range(1, 100000));
  app.add_option("--jwt-secret", c.jwt_secret)->envname("FLASHSALE_JWT_SECRET");
  app.add_option("--admin-token", c.admin_token)->envname("FLASHSALE_ADMIN_TOKEN");
  app.add_option("--create-stock", c.create_stock, "create the sale with this stock first");
  app.add_option("--catalog", c.catalog, "search: create this many catalog sales first");
  app.add_option("--per-user-limit", c.per_user_limit, "for --create-stock")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--timeout", c.request_timeout_seconds, "seconds per request")
      ->check(CLI::Range(0.1, 600.0));
  app.add_flag("--json", c.json, "print the report as one JSON object");
  app.add_flag("--no-progress", no_progress, "no progress line on stderr");
  app.add_flag("--no-check", no_check, "skip the end-of-run invariant check");
  CLI11_PARSE(app, argc, argv);
  c.scenario = *ParseScenario(scenario);
  c.arrival_shape = arrival == "ramp" ? ArrivalShape::kLinearRamp : ArrivalShape::kConstant;
  c.order_wait = order_wait == "poll" ? OrderWait::kPoll : OrderWait::kLongPoll;
  c.progress = !no_progress;
  c.check_invariants = !no_check;
  if (c.order_wait == OrderWait::kLongPoll &&
      c.order_wait_seconds + 1 >= c.request_timeout_seconds) {
    std::fprintf(stderr, "--order-wait-seconds must be below the request timeout less 1 s\n");
    return 2;
  }
  if (c.scenario != Scenario::kAvailability && c.scenario != Scenario::kSearch &&
      c.jwt_secret.empty()) {
    std::fprintf(stderr, "--jwt-secret is required for the %s scenario\n", scenario.c_str());
    return 2;
  }
  if (c.create_stock > 0 && c.admin_token.empty()) {
    std::fprintf(stderr, "--create-stock needs --admin-token\n");
    return 2;
  }
  if (c.catalog > 0 && c.admin_token.empty()) {
    std::fprintf(stderr, "--catalog needs --admin-token\n");
    return 2;
  }
  auto summary = RunScenario(c);
  if (!summary) {
    std::fprintf(stderr, "%s\n", summary.error().ToString().c_str());
    return 1;
  }
  const std::string report = c.json ? RenderJson(*summary) : RenderTable(*summary);
  std::fputs(report.c_str(), stdout);
  return NoneFailed(summary->invariants) ? 0 : 1;
}
