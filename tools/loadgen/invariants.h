// The end-of-run invariant check: what the admin API says after the load, judged against the
// sale's promises. Pure functions over parsed inputs, so the judgement is unit-tested without
// a server; the load generator fetches the inputs (scenarios.cc).
//   - no oversell: reserved + sold <= total_stock, and reconciliation's "oversell" == 0;
//   - counters = rows: reconciliation clean when the server has the endpoint; otherwise the
//     admin counters add up (available + reserved + sold == total_stock);
//   - no user over the limit: units each user was granted and still holds (as the client saw
//     them) <= per_user_limit;
//   - the client never saw more units granted than the stock (only when it created the sale).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fs::loadgen {

struct AdminCounters {
  std::int64_t total_stock = 0;
  std::int64_t available = 0;
  std::int64_t reserved = 0;
  std::int64_t sold = 0;
  std::int64_t per_user_limit = 1;
};

// GET /admin/v1/skus/{sku}; nullopt when a field is missing or of the wrong type.
std::optional<AdminCounters> ParseAdminCounters(std::string_view body);

// GET /admin/v1/skus/{sku}/reconciliation, read tolerantly: whichever of these it has.
struct ReconciliationSummary {
  std::optional<std::int64_t> oversell;       // "oversell"
  std::optional<std::size_t> mismatch_count;  // size of "mismatches"
  std::string first_mismatch;                 // its first entry when it is a string
  std::optional<bool> clean;                  // "ok" | "clean" | "consistent" | "balanced"
};
std::optional<ReconciliationSummary> ParseReconciliation(std::string_view body);

enum class ReconciliationAvailability : std::uint8_t {
  kRead,          // 200 and parsed
  kNotAvailable,  // 404 NOT_FOUND: the server has no such route (yet)
  kFailed,        // anything else
};

struct InvariantInput {
  std::optional<AdminCounters> counters;  // nullopt: the admin read failed
  ReconciliationAvailability reconciliation_availability =
      ReconciliationAvailability::kNotAvailable;
  ReconciliationSummary reconciliation;
  std::unordered_map<std::string, std::int64_t> units_by_user;  // granted and not given back
  // Granted units the client saw (201s minus releases minus failed orders), when this run
  // created the sale and was its only client; nullopt otherwise.
  std::optional<std::int64_t> client_units_held_or_sold;
};

enum class Verdict : std::uint8_t { kPass, kFail, kNotAvailable };
std::string_view VerdictName(Verdict verdict);

struct InvariantCheck {
  std::string name;
  Verdict verdict = Verdict::kNotAvailable;
  std::string detail;
};

std::vector<InvariantCheck> CheckInvariants(const InvariantInput& input);
// True when no check failed (not-available checks do not fail the run).
bool NoneFailed(const std::vector<InvariantCheck>& checks);

}  // namespace fs::loadgen
