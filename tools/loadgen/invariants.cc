#include "tools/loadgen/invariants.h"

#include <rapidjson/document.h>

#include <string>

namespace fs::loadgen {
namespace {

std::optional<std::int64_t> IntField(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
  return it->value.GetInt64();
}

InvariantCheck NoOversell(const InvariantInput& input) {
  InvariantCheck check{"no oversell", Verdict::kNotAvailable, "admin counters not read"};
  std::string detail;
  bool failed = false;
  if (input.counters) {
    const AdminCounters& c = *input.counters;
    const std::int64_t taken = c.reserved + c.sold;
    detail = "reserved+sold=" + std::to_string(taken) + " of " + std::to_string(c.total_stock);
    failed = failed || taken > c.total_stock || c.available < 0;
  }
  if (input.reconciliation_availability == ReconciliationAvailability::kRead &&
      input.reconciliation.oversell) {
    detail += (detail.empty() ? "" : "; ") + std::string("reconciliation oversell=") +
              std::to_string(*input.reconciliation.oversell);
    failed = failed || *input.reconciliation.oversell != 0;
  }
  if (input.client_units_held_or_sold && input.counters) {
    detail += "; client saw " + std::to_string(*input.client_units_held_or_sold) + " granted";
    failed = failed || *input.client_units_held_or_sold > input.counters->total_stock;
  }
  if (detail.empty()) return check;
  check.verdict = failed ? Verdict::kFail : Verdict::kPass;
  check.detail = detail;
  return check;
}

InvariantCheck CountersAddUp(const InvariantInput& input) {
  InvariantCheck check{"counters add up", Verdict::kNotAvailable, "admin counters not read"};
  if (!input.counters) return check;
  const AdminCounters& c = *input.counters;
  const std::int64_t sum = c.available + c.reserved + c.sold;
  check.verdict = sum == c.total_stock ? Verdict::kPass : Verdict::kFail;
  check.detail = "available+reserved+sold=" + std::to_string(sum) +
                 ", total_stock=" + std::to_string(c.total_stock);
  return check;
}

InvariantCheck ReconciliationClean(const InvariantInput& input) {
  InvariantCheck check{"counters = rows (reconciliation)", Verdict::kNotAvailable, ""};
  switch (input.reconciliation_availability) {
    case ReconciliationAvailability::kNotAvailable:
      check.detail = "not available (server has no reconciliation endpoint)";
      return check;
    case ReconciliationAvailability::kFailed:
      check.verdict = Verdict::kFail;
      check.detail = "reconciliation request failed";
      return check;
    case ReconciliationAvailability::kRead:
      break;
  }
  const ReconciliationSummary& r = input.reconciliation;
  bool failed = false;
  bool judged = false;
  if (r.mismatch_count) {
    judged = true;
    failed = failed || *r.mismatch_count > 0;
    check.detail = std::to_string(*r.mismatch_count) + " mismatches";
    if (!r.first_mismatch.empty()) check.detail += ", first: " + r.first_mismatch;
  }
  if (r.clean) {
    judged = true;
    failed = failed || !*r.clean;
    check.detail +=
        (check.detail.empty() ? "" : "; ") + std::string(*r.clean ? "clean" : "not clean");
  }
  if (!judged) {
    check.detail = "reconciliation answered without a mismatch list or verdict";
    return check;
  }
  check.verdict = failed ? Verdict::kFail : Verdict::kPass;
  return check;
}

InvariantCheck NoUserOverLimit(const InvariantInput& input) {
  InvariantCheck check{"no user over the limit", Verdict::kNotAvailable, ""};
  if (!input.counters) {
    check.detail = "admin counters not read";
    return check;
  }
  if (input.units_by_user.empty()) {
    check.detail = "no units granted to this client";
    return check;
  }
  std::size_t over = 0;
  std::string example;
  for (const auto& [user, units] : input.units_by_user) {
    if (units <= input.counters->per_user_limit) continue;
    if (over == 0) example = user + " holds " + std::to_string(units);
    ++over;
  }
  check.verdict = over == 0 ? Verdict::kPass : Verdict::kFail;
  check.detail = std::to_string(input.units_by_user.size()) + " users checked, limit " +
                 std::to_string(input.counters->per_user_limit) +
                 (over == 0 ? "" : "; " + std::to_string(over) + " over, e.g. " + example);
  return check;
}

}  // namespace

std::optional<AdminCounters> ParseAdminCounters(std::string_view body) {
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) return std::nullopt;
  const auto total = IntField(document, "total_stock");
  const auto available = IntField(document, "available");
  const auto reserved = IntField(document, "reserved");
  const auto sold = IntField(document, "sold");
  if (!total || !available || !reserved || !sold) return std::nullopt;
  AdminCounters counters{*total, *available, *reserved, *sold, 1};
  if (const auto limit = IntField(document, "per_user_limit")) counters.per_user_limit = *limit;
  return counters;
}

std::optional<ReconciliationSummary> ParseReconciliation(std::string_view body) {
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) return std::nullopt;
  ReconciliationSummary summary;
  summary.oversell = IntField(document, "oversell");
  const rapidjson::Document& read = document;
  const auto mismatches = read.FindMember("mismatches");
  if (mismatches != read.MemberEnd() && mismatches->value.IsArray()) {
    summary.mismatch_count = mismatches->value.Size();
    if (!mismatches->value.Empty() && mismatches->value[0].IsString()) {
      summary.first_mismatch = mismatches->value[0].GetString();
    }
  }
  for (const char* name : {"ok", "clean", "consistent", "balanced"}) {
    const auto it = read.FindMember(name);
    if (it != read.MemberEnd() && it->value.IsBool()) {
      summary.clean = it->value.GetBool();
      break;
    }
  }
  return summary;
}

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kNotAvailable:
      return "not available";
  }
  return "?";
}

std::vector<InvariantCheck> CheckInvariants(const InvariantInput& input) {
  return {NoOversell(input), CountersAddUp(input), ReconciliationClean(input),
          NoUserOverLimit(input)};
}

bool NoneFailed(const std::vector<InvariantCheck>& checks) {
  for (const InvariantCheck& check : checks) {
    if (check.verdict == Verdict::kFail) return false;
  }
  return true;
}

}  // namespace fs::loadgen
