// flashsale-sim: runs the deterministic simulation (deterministic_sim.h) for a range of seeds
// and prints what it did and every failing seed (scripts/sim.sh; docs/reliability.md).
// Exit status 1 when a seed failed.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

#include "deterministic_sim.h"

int main(int argc, char** argv) {
  CLI::App app{"Deterministic simulation of the engine with storage faults"};
  std::uint64_t first = 1;
  std::uint64_t seeds = 1000;
  int steps = fs::sim::RunOptions{}.steps;
  bool verbose = false;
  app.add_option("--first-seed", first, "the first seed");
  app.add_option("--seeds", seeds, "how many seeds, from --first-seed on");
  app.add_option("--steps", steps, "steps per seed")->check(CLI::PositiveNumber);
  app.add_flag("--verbose", verbose, "print every seed's history hash");
  CLI11_PARSE(app, argc, argv);

  const auto started = std::chrono::steady_clock::now();
  fs::sim::RunCounts total;
  std::vector<std::uint64_t> failed;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    const fs::sim::RunResult result = fs::sim::RunSeed(seed, {steps});
    if (verbose)
      std::printf("seed %llu %s\n", static_cast<unsigned long long>(seed),
                  result.history_hash.c_str());
    if (!result.failure.empty()) {
      std::printf("FAILED seed %llu: %s\n", static_cast<unsigned long long>(seed),
                  result.failure.c_str());
      failed.push_back(seed);
    }
    total += result.counts;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "seeds %llu..%llu: %llu run, %zu failed, %.1f s\n"
      "commands %lld, reservations acknowledged %lld, orders %lld (paid %lld), replays checked "
      "%lld, faults injected %lld, restarts %lld\n",
      static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + seeds - 1),
      static_cast<unsigned long long>(seeds), failed.size(), seconds,
      static_cast<long long>(total.commands),
      static_cast<long long>(total.reservations_acknowledged),
      static_cast<long long>(total.orders_acknowledged), static_cast<long long>(total.orders_paid),
      static_cast<long long>(total.replays_checked), static_cast<long long>(total.faults_injected),
      static_cast<long long>(total.restarts));
  return failed.empty() ? 0 : 1;
}
