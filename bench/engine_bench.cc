// Engine-alone benchmark: reserve attempts per second and latency percentiles through the
// single writer with group commit on a real SQLite file, without HTTP. Producers submit
// reserve commands from several threads with a bounded number in flight each (closed loop),
// so the writer sees realistic batches.
//
// Usage: flashsale-engine-bench [--seconds S] [--producers P] [--in-flight N]
//          [--stock UNITS] [--synchronous full|normal|off] [--batch-size-max N] [--dir DIR]
//          [--audit on|off] [--requests N] [--checkpoint background|writer]
//          [--user-ids sequential|random]
// --requests N stops after N requests instead of after S seconds (a fixed amount of work, for
// instruction counts under valgrind --tool=callgrind).
// --audit off turns the audit trail off (engine::Options::audit_enabled): it exists only so
// this program can measure what auditing costs.
// --checkpoint writer runs SQLite's auto-checkpoint inside the writer's commits (the store's
// behaviour before the background checkpointer), to measure what moving it saves.
// --user-ids random gives each request a random user id (a UUID, like real JWT subjects)
// instead of "u<producer>-<n>": every index keyed by user (user_units, the audit trail's
// disputes index) then takes each insert on a random page, as in a real sale.
// Prints a table and one JSON line.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/random.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace {

struct Args {
  double seconds = 5;
  int producers = 2;
  int in_flight = 256;
  std::int64_t stock = 1'000'000'000;
  std::string synchronous = "full";
  std::size_t batch_size_max = 4096;
  std::string dir;
  bool audit = true;
  std::uint64_t requests = 0;  // 0: run for `seconds`
  bool background_checkpoint = true;
  bool random_user_ids = false;
};

Args ParseArgs(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--seconds")
      args.seconds = std::stod(value);
    else if (flag == "--producers")
      args.producers = std::stoi(value);
    else if (flag == "--in-flight")
      args.in_flight = std::stoi(value);
    else if (flag == "--stock")
      args.stock = std::stoll(value);
    else if (flag == "--synchronous")
      args.synchronous = value;
    else if (flag == "--batch-size-max")
      args.batch_size_max = std::stoul(value);
    else if (flag == "--dir")
      args.dir = value;
    else if (flag == "--audit" && (value == "on" || value == "off"))
      args.audit = value == "on";
    else if (flag == "--requests")
      args.requests = std::stoull(value);
    else if (flag == "--user-ids" && (value == "sequential" || value == "random"))
      args.random_user_ids = value == "random";
    else if (flag == "--checkpoint" && (value == "background" || value == "writer"))
      args.background_checkpoint = value == "background";
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return args;
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fs;
  const Args args = ParseArgs(argc, argv);
  const std::filesystem::path dir =
      args.dir.empty() ? std::filesystem::temp_directory_path() /
                             ("flashsale-engine-bench-" + std::to_string(::getpid()))
                       : std::filesystem::path(args.dir);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  store::SqliteOptions sqlite_options;
  auto sync = store::ParseSynchronous(args.synchronous);
  if (!sync) {
    std::fprintf(stderr, "%s\n", sync.error().ToString().c_str());
    return 2;
  }
  sqlite_options.synchronous = *sync;
  sqlite_options.background_checkpoint = args.background_checkpoint;
  auto store = store::SqliteStore::Open((dir / "flashsale.db").string(), sqlite_options);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    return 1;
  }
  base::SystemClock clock;
  engine::Options options;
  options.batch_size_max = args.batch_size_max;
  options.audit_enabled = args.audit;
  auto engine = engine::Engine::Open(options, std::move(store).value(), clock);
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.error().ToString().c_str());
    return 1;
  }
  core::Sale sale;
  sale.sku_id = "bench";
  sale.name = "bench";
  sale.currency = "USD";
  sale.total_stock = args.stock;
  sale.per_user_limit = 1;
  std::promise<engine::ReplyOf<engine::CreateSale>> created;
  (*engine)->Submit(engine::CreateSale{sale}, [&](engine::ReplyOf<engine::CreateSale> r) {
    created.set_value(std::move(r));
  });
  if (!created.get_future().get().status.ok()) return 1;

  std::atomic<bool> running{true};
  std::atomic<std::uint64_t> submitted{0};
  std::atomic<std::uint64_t> granted{0}, refused{0}, unavailable{0};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(args.producers));
  std::vector<std::thread> producers;
  producers.reserve(static_cast<std::size_t>(args.producers));
  const auto started = std::chrono::steady_clock::now();
  for (int p = 0; p < args.producers; ++p) {
    producers.emplace_back([&, p] {
      std::mutex mutex;
      std::condition_variable cv;
      int in_flight = 0;
      std::uint64_t n = 0;
      base::Rng rng(0x5eed0000u + static_cast<std::uint64_t>(p));
      auto& mine = latencies[static_cast<std::size_t>(p)];
      while (running.load(std::memory_order_relaxed)) {
        if (args.requests > 0 && submitted.fetch_add(1) >= args.requests) break;
        {
          std::unique_lock<std::mutex> lock(mutex);
          cv.wait(lock, [&] { return in_flight < args.in_flight; });
          ++in_flight;
        }
        const auto sent = std::chrono::steady_clock::now();
        (*engine)->Submit(
            engine::Reserve{
                {"bench",
                 args.random_user_ids ? base::NewUuid(rng)
                                      : "u" + std::to_string(p) + "-" + std::to_string(n++),
                 1, ""},
                {}},
            [&, sent](const engine::ReplyOf<engine::Reserve>& reply) {
              const double ms =
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
                      .count();
              if (!reply.status.ok())
                unavailable.fetch_add(1);
              else if (reply.value.outcome == core::ReserveOutcome::kReserved)
                granted.fetch_add(1);
              else
                refused.fetch_add(1);
              std::lock_guard<std::mutex> lock(mutex);
              mine.push_back(ms);
              --in_flight;
              cv.notify_one();
            });
      }
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return in_flight == 0; });
    });
  }
  if (args.requests == 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(args.seconds));
    running = false;
  }
  for (auto& t : producers) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  const auto& stats = (*engine)->stats();
  const double batches = static_cast<double>(stats.batches_committed.load());
  const double ops = static_cast<double>(all.size()) / elapsed;
  std::printf(
      "engine bench: synchronous=%s producers=%d in_flight=%d batch_size_max=%zu audit=%s\n",
      args.synchronous.c_str(), args.producers, args.in_flight, args.batch_size_max,
      args.audit ? "on" : "off");
  std::printf("%-14s %12s %9s %9s %9s %9s %9s %12s\n", "requests", "ops/s", "p50 ms", "p90 ms",
              "p99 ms", "p99.9 ms", "max ms", "avg batch");
  std::printf("%-14zu %12.0f %9.3f %9.3f %9.3f %9.3f %9.3f %12.1f\n", all.size(), ops,
              Percentile(all, 50), Percentile(all, 90), Percentile(all, 99), Percentile(all, 99.9),
              all.empty() ? 0 : all.back(),
              batches > 0 ? static_cast<double>(stats.commands_processed.load()) / batches : 0);
  std::printf(
      "{\"bench\":\"engine\",\"synchronous\":\"%s\",\"checkpoint\":\"%s\",\"user_ids\":\"%s\","
      "\"audit\":%s,\"requests\":%zu,\"ops_per_s\":%.0f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"granted\":%llu,\"refused\":%llu,"
      "\"unavailable\":%llu,\"commit_us_per_request\":%.2f}\n",
      args.synchronous.c_str(), args.background_checkpoint ? "background" : "writer",
      args.random_user_ids ? "random" : "sequential", args.audit ? "true" : "false", all.size(),
      ops, Percentile(all, 50), Percentile(all, 99), Percentile(all, 99.9),
      static_cast<unsigned long long>(granted.load()),
      static_cast<unsigned long long>(refused.load()),
      static_cast<unsigned long long>(unavailable.load()),
      stats.commands_processed.load() > 0 ? static_cast<double>(stats.commit_micros_total.load()) /
                                                static_cast<double>(stats.commands_processed.load())
                                          : 0.0);
  (*engine)->Stop();
  engine->reset();
  if (args.dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
