// Goal: the flash-sale race against the real server. 2,000+ distinct users on 64+
// concurrent keep-alive connections fight for 100 units: exactly 100 get 201, everyone else
// 409 SOLD_OUT, no user holds more than the per-user limit, and the admin counters equal the
// rows in the database. A second race fires 3 concurrent requests per user to attack the
// per-user limit.

#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <latch>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr std::int64_t kUnits = 100;

class RaceTest : public ServerTest {};

int OneUnit(const std::string&) { return 1; }

struct Attempt {
  std::string user_id;
  int status = 0;
  std::string error_code;
  std::string reservation_id;
  std::string detail;  // the response, for messages
};

// Runs `plan[t]` (a list of users) on thread t, each with its own keep-alive connection; all
// threads start together. Returns every attempt.
std::vector<Attempt> RunRace(std::uint16_t port, const std::string& sku_id,
                             const std::vector<std::vector<std::string>>& plan,
                             const std::function<int(const std::string&)>& quantity_of) {
  std::vector<std::vector<Attempt>> per_thread(plan.size());
  std::latch start(static_cast<std::ptrdiff_t>(plan.size()));
  std::vector<std::thread> threads;
  threads.reserve(plan.size());
  for (std::size_t t = 0; t < plan.size(); ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(port);
      // Tokens and the connection are ready before the start line.
      std::vector<HttpHeaders> auth;
      auth.reserve(plan[t].size());
      for (const std::string& user : plan[t]) auth.push_back(UserAuth(user));
      client.Get("/healthz");
      start.arrive_and_wait();
      for (std::size_t i = 0; i < plan[t].size(); ++i) {
        const std::string body = "{\"quantity\":" + std::to_string(quantity_of(plan[t][i])) + "}";
        const HttpResponse response =
            client.Post("/api/v1/products/" + sku_id + "/reserve", body, auth[i]);
        Attempt attempt;
        attempt.user_id = plan[t][i];
        attempt.status = response.status;
        attempt.error_code = ErrorCode(response);
        attempt.detail = response.Describe();
        if (response.status == 201) {
          const auto reservation = ParseReservation(response.body);
          if (reservation) attempt.reservation_id = reservation->reservation_id;
        }
        per_thread[t].push_back(std::move(attempt));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<Attempt> all;
  for (auto& attempts : per_thread) {
    for (Attempt& attempt : attempts) all.push_back(std::move(attempt));
  }
  return all;
}

// The checks both races share: counters and database rows against the 201s.
void ExpectCountersMatchRows(HttpClient& client, const SkuSnapshot& rows,
                             const std::set<std::string>& granted_ids) {
  const auto counters = GetAdminCounters(client, "race");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->available, 0);
  EXPECT_EQ(counters->reserved, kUnits);
  EXPECT_EQ(counters->sold, 0);
  EXPECT_EQ(counters->status, "SOLD_OUT");

  EXPECT_TRUE(rows.sku_found);
  EXPECT_EQ(rows.total_stock, kUnits);
  EXPECT_EQ(rows.held, kUnits);
  EXPECT_EQ(rows.sold, 0);
  EXPECT_EQ(rows.rows.size(), static_cast<std::size_t>(kUnits));
  EXPECT_EQ(rows.RowCount(kStatusReserved), kUnits);
  EXPECT_EQ(rows.QuantitySum(kStatusReserved), rows.held);
  std::set<std::string> row_ids;
  for (const auto& [id, row] : rows.rows) row_ids.insert(id);
  EXPECT_EQ(row_ids, granted_ids) << "the 201s and the database rows differ";
  const auto units = rows.UnitsByUser();
  EXPECT_EQ(units.size(), static_cast<std::size_t>(kUnits)) << "users are not distinct";
  for (const auto& [user, count] : units) EXPECT_EQ(count, 1) << user << " is over the limit";

  const HttpResponse metrics = client.Get("/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.Describe();
  const auto oversell = MetricSamples(metrics.body, "flashsale_oversell_count");
  EXPECT_FALSE(oversell.empty());
  for (const std::string& line : oversell) EXPECT_TRUE(line.ends_with(" 0")) << line;
}

TEST_F(RaceTest, TwoThousandUsersFightForOneHundredUnits) {
  constexpr int kUsers = 2'048;
  constexpr int kConnections = 64;
  SaleSpec sale;
  sale.sku_id = "race";
  sale.total_stock = kUnits;
  sale.per_user_limit = 1;
  ASSERT_TRUE(CreateSaleOk(client(), sale));

  std::vector<std::vector<std::string>> plan(kConnections);
  for (int u = 0; u < kUsers; ++u) plan[u % kConnections].push_back("racer-" + std::to_string(u));
  const std::vector<Attempt> attempts = RunRace(server_.port(), "race", plan, OneUnit);
  ASSERT_EQ(attempts.size(), static_cast<std::size_t>(kUsers));

  std::set<std::string> granted_ids;
  std::set<std::string> granted_users;
  std::map<std::string, int> refusals;
  for (const Attempt& attempt : attempts) {
    if (attempt.status == 201) {
      EXPECT_FALSE(attempt.reservation_id.empty()) << attempt.detail;
      granted_ids.insert(attempt.reservation_id);
      granted_users.insert(attempt.user_id);
      continue;
    }
    ++refusals[std::to_string(attempt.status) + " " + attempt.error_code];
    if (attempt.status != 409 || attempt.error_code != "SOLD_OUT") {
      ADD_FAILURE() << attempt.user_id << ": expected 201 or 409 SOLD_OUT, got " << attempt.detail;
    }
  }
  EXPECT_EQ(granted_ids.size(), static_cast<std::size_t>(kUnits));
  EXPECT_EQ(granted_users.size(), static_cast<std::size_t>(kUnits));
  EXPECT_EQ(refusals["409 SOLD_OUT"], kUsers - kUnits);

  ExpectCountersMatchRows(client(), ReadSku("race"), granted_ids);
}

TEST_F(RaceTest, ConcurrentRequestsOfOneUserRespectTheLimit) {
  constexpr int kUsers = 700;
  constexpr int kCopies = 3;
  constexpr int kGroups = 22;  // 66 connections: each user's 3 requests on 3 of them at once
  SaleSpec sale;
  sale.sku_id = "race";
  sale.total_stock = kUnits;
  sale.per_user_limit = 1;
  ASSERT_TRUE(CreateSaleOk(client(), sale));

  // Thread 3g+c sends copy c of the users of group g, in the same order as its siblings, so
  // the three requests of a user leave at about the same moment on different connections.
  std::vector<std::vector<std::string>> plan(kGroups * kCopies);
  for (int u = 0; u < kUsers; ++u) {
    for (int c = 0; c < kCopies; ++c) {
      plan[(u % kGroups) * kCopies + c].push_back("greedy-" + std::to_string(u));
    }
  }
  const std::vector<Attempt> attempts = RunRace(server_.port(), "race", plan, OneUnit);
  ASSERT_EQ(attempts.size(), static_cast<std::size_t>(kUsers * kCopies));

  std::set<std::string> granted_ids;
  std::map<std::string, int> grants_per_user;
  for (const Attempt& attempt : attempts) {
    if (attempt.status == 201) {
      granted_ids.insert(attempt.reservation_id);
      ++grants_per_user[attempt.user_id];
      continue;
    }
    const bool expected_refusal = attempt.status == 409 && (attempt.error_code == "SOLD_OUT" ||
                                                            attempt.error_code == "LIMIT_EXCEEDED");
    if (!expected_refusal) {
      ADD_FAILURE() << attempt.user_id << ": expected 201 or 409 SOLD_OUT/LIMIT_EXCEEDED, got "
                    << attempt.detail;
    }
  }
  EXPECT_EQ(granted_ids.size(), static_cast<std::size_t>(kUnits));
  EXPECT_EQ(grants_per_user.size(), static_cast<std::size_t>(kUnits));
  for (const auto& [user, grants] : grants_per_user) {
    EXPECT_EQ(grants, 1) << user << " got more than the per-user limit";
  }

  const SkuSnapshot rows = ReadSku("race");
  auto db = Database::OpenReadOnly(server_.database_path());
  ASSERT_TRUE(db);
  const auto users_over_limit = (*db)->QueryInt(
      "SELECT COUNT(*) FROM (SELECT user_id FROM reservations WHERE sku_id = 'race' "
      "GROUP BY user_id HAVING COUNT(*) > 1)");
  ASSERT_TRUE(users_over_limit) << users_over_limit.error().ToString();
  EXPECT_EQ(*users_over_limit, 0);
  ExpectCountersMatchRows(client(), rows, granted_ids);
}

TEST_F(RaceTest, MixedQuantitiesNeverOversell) {
  constexpr int kUsers = 2'048;
  constexpr int kConnections = 64;
  SaleSpec sale;
  sale.sku_id = "race";
  sale.total_stock = kUnits;
  sale.per_user_limit = 3;
  ASSERT_TRUE(CreateSaleOk(client(), sale));

  // User n asks for 1 + n % 3 units.
  std::map<std::string, int> quantities;
  std::vector<std::vector<std::string>> plan(kConnections);
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "mixed-" + std::to_string(u);
    quantities[user] = 1 + u % 3;
    plan[u % kConnections].push_back(user);
  }
  const std::vector<Attempt> attempts = RunRace(
      server_.port(), "race", plan, [&](const std::string& user) { return quantities.at(user); });

  std::int64_t granted_units = 0;
  std::set<std::string> granted_ids;
  for (const Attempt& attempt : attempts) {
    if (attempt.status == 201) {
      granted_units += quantities.at(attempt.user_id);
      granted_ids.insert(attempt.reservation_id);
    } else if (attempt.status != 409 || attempt.error_code != "SOLD_OUT") {
      ADD_FAILURE() << attempt.user_id << ": expected 201 or 409 SOLD_OUT, got " << attempt.detail;
    }
  }
  // Demand is 40x the stock and one-unit requests keep coming until the end: it sells out
  // exactly, never beyond.
  EXPECT_EQ(granted_units, kUnits);
  const auto counters = GetAdminCounters(client(), "race");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->available, 0);
  EXPECT_EQ(counters->reserved, granted_units);
  const SkuSnapshot rows = ReadSku("race");
  EXPECT_EQ(rows.held, granted_units);
  EXPECT_EQ(rows.QuantitySum(kStatusReserved), granted_units);
  std::set<std::string> row_ids;
  for (const auto& [id, row] : rows.rows) {
    row_ids.insert(id);
    EXPECT_EQ(row.quantity, quantities.at(row.user_id)) << id;
  }
  EXPECT_EQ(row_ids, granted_ids);
}

ServerOptions TinyInbox() {
  ServerOptions options;
  options.extra_args = {"--inbox-capacity", "2", "--batch-size-max", "1"};
  return options;
}

class FullInboxTest : public ServerTest {
 protected:
  FullInboxTest() : ServerTest(TinyInbox()) {}
};

TEST_F(FullInboxTest, FullQueueAnswers503AndStaysConsistent) {
  constexpr int kUsers = 1'024;
  constexpr int kConnections = 64;
  SaleSpec sale;
  sale.sku_id = "race";
  sale.total_stock = kUnits;
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  std::vector<std::vector<std::string>> plan(kConnections);
  for (int u = 0; u < kUsers; ++u) plan[u % kConnections].push_back("busy-" + std::to_string(u));
  const std::vector<Attempt> attempts = RunRace(server_.port(), "race", plan, OneUnit);

  std::set<std::string> granted_ids;
  std::map<std::string, int> outcomes;
  for (const Attempt& attempt : attempts) {
    ++outcomes[std::to_string(attempt.status) + " " + attempt.error_code];
    if (attempt.status == 201) {
      granted_ids.insert(attempt.reservation_id);
      continue;
    }
    const bool refused = (attempt.status == 409 && attempt.error_code == "SOLD_OUT") ||
                         (attempt.status == 503 && attempt.error_code == "UNAVAILABLE");
    if (!refused) {
      ADD_FAILURE() << attempt.user_id << ": expected 201, 409 SOLD_OUT or 503 UNAVAILABLE, got "
                    << attempt.detail;
    }
  }
  for (const auto& [outcome, count] : outcomes) std::cout << outcome << ": " << count << "\n";
  EXPECT_LE(granted_ids.size(), static_cast<std::size_t>(kUnits));
  // A busy answer is never a sold-out answer: while stock was left, refusals were 503s.
  if (granted_ids.size() < static_cast<std::size_t>(kUnits)) {
    EXPECT_EQ(outcomes["409 SOLD_OUT"], 0);
  }
  const SkuSnapshot rows = ReadSku("race");
  std::set<std::string> row_ids;
  for (const auto& [id, row] : rows.rows) row_ids.insert(id);
  EXPECT_EQ(row_ids, granted_ids);
  EXPECT_EQ(rows.held, static_cast<std::int64_t>(granted_ids.size()));
  const auto counters = GetAdminCounters(client(), "race");
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->reserved, rows.held);
  EXPECT_EQ(counters->available, kUnits - rows.held);
}

}  // namespace
}  // namespace fs::itest
