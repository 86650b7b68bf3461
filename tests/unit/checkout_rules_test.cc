// Goal: the core rules of checkout and the payment saga, table-driven and without
// I/O: order state machine, retry schedule parsing and decisions, payment method ids, event
// payload escaping; and the ledger's checkout, payment reports and resolution, including
// refusals, stale reports, gapless per-SKU event sequences and rollback of a failed batch.
#include <gtest/gtest.h>

#include <set>
#include <variant>

#include "core/ledger.h"
#include "core/order.h"

namespace fs::core {
namespace {

using base::TimeFromMillis;
using std::chrono::milliseconds;

TEST(OrderRulesTest, StateMachineEdges) {
  using S = OrderStatus;
  struct Row {
    S from;
    S to;
    bool allowed;
  };
  const Row rows[] = {
      {S::kPending, S::kPaid, true},
      {S::kPending, S::kFailed, true},
      {S::kPending, S::kNeedsAttention, true},
      {S::kPending, S::kPending, false},
      {S::kNeedsAttention, S::kPaid, true},
      {S::kNeedsAttention, S::kFailed, true},
      {S::kNeedsAttention, S::kPending, false},
      {S::kPaid, S::kFailed, false},
      {S::kPaid, S::kPending, false},
      {S::kFailed, S::kPaid, false},
      {S::kFailed, S::kNeedsAttention, false},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(IsAllowedOrderTransition(row.from, row.to), row.allowed)
        << OrderStatusName(row.from) << " -> " << OrderStatusName(row.to);
  }
}

TEST(OrderRulesTest, StatusNamesRoundTrip) {
  for (int value = 1; value <= 4; ++value) {
    const auto status = OrderStatusFromInt(value);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(OrderStatusFromName(OrderStatusName(*status)), status);
  }
  EXPECT_FALSE(OrderStatusFromInt(0).has_value());
  EXPECT_FALSE(OrderStatusFromInt(5).has_value());
  EXPECT_FALSE(OrderStatusFromName("pending").has_value());
}

TEST(OrderRulesTest, ParsesRetrySchedules) {
  const auto parsed = ParseRetrySchedule("50ms,100ms,2s,1m");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->delays, (std::vector<milliseconds>{milliseconds(50), milliseconds(100),
                                                       milliseconds(2000), milliseconds(60000)}));
  const auto standard = ParseRetrySchedule("1s,2s,4s,8s,16s,32s,1m,2m,5m,10m");
  ASSERT_TRUE(standard.has_value());
  EXPECT_EQ(standard->delays, DefaultRetrySchedule().delays);
  for (const char* bad : {"", ",", "50", "0ms", "-1s", "1h", "1s,", ",1s", "1.5s", "ms", "2000m",
                          "1s,,2s", "99999999999999999999ms"}) {
    EXPECT_FALSE(ParseRetrySchedule(bad).has_value()) << bad;
  }
  std::string longest;
  for (std::size_t i = 0; i < kRetryScheduleLengthMax; ++i) longest += i == 0 ? "1ms" : ",1ms";
  EXPECT_TRUE(ParseRetrySchedule(longest).has_value());
  EXPECT_FALSE(ParseRetrySchedule(longest + ",1ms").has_value());
}

TEST(OrderRulesTest, RetryDecisionFollowsTheScheduleThenNeedsAttention) {
  const RetrySchedule schedule{{milliseconds(50), milliseconds(100)}};
  const base::Time now = TimeFromMillis(1000);
  const RetryDecision first = DecideRetry(schedule, 1, now);
  EXPECT_EQ(first.kind, RetryDecision::Kind::kRetry);
  EXPECT_EQ(first.next_attempt_at, now + milliseconds(50));
  const RetryDecision second = DecideRetry(schedule, 2, now);
  EXPECT_EQ(second.kind, RetryDecision::Kind::kRetry);
  EXPECT_EQ(second.next_attempt_at, now + milliseconds(100));
  EXPECT_EQ(DecideRetry(schedule, 3, now).kind, RetryDecision::Kind::kNeedsAttention);
  EXPECT_EQ(DecideRetry(schedule, 40, now).kind, RetryDecision::Kind::kNeedsAttention);
}

TEST(OrderRulesTest, RetriesAreSpreadPerOrderAndWaitForTheGatewaysRetryAfter) {
  RetrySchedule schedule{{milliseconds(1000), milliseconds(2000)}, 20};
  const base::Time now = TimeFromMillis(1000);
  std::set<base::Time> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string order = "order-" + std::to_string(i);
    const base::Time next = DecideRetry(schedule, 1, now, order).next_attempt_at;
    EXPECT_GE(next, now + milliseconds(800)) << order;
    EXPECT_LE(next, now + milliseconds(1200)) << order;
    // The same order and attempt: the same time (decided again after a refused commit).
    EXPECT_EQ(DecideRetry(schedule, 1, now, order).next_attempt_at, next);
    seen.insert(next);
  }
  EXPECT_GT(seen.size(), 20u) << "retries after one outage must not all fall on one instant";
  // A gateway's Retry-After beyond the schedule wins, up to kRetryAfterMax.
  EXPECT_EQ(DecideRetry(schedule, 1, now, "o", std::chrono::seconds(30)).next_attempt_at,
            now + std::chrono::seconds(30));
  EXPECT_EQ(DecideRetry(schedule, 1, now, "o", std::chrono::hours(5)).next_attempt_at,
            now + kRetryAfterMax);
  EXPECT_EQ(ParseRetrySchedule("1s")->jitter_percent, kRetryJitterPercent);
  EXPECT_EQ(DefaultRetrySchedule().jitter_percent, kRetryJitterPercent);
}

TEST(OrderRulesTest, PaymentMethodIds) {
  EXPECT_TRUE(IsValidPaymentMethodId("pm_card_visa"));
  EXPECT_TRUE(IsValidPaymentMethodId("pm-1"));
  EXPECT_FALSE(IsValidPaymentMethodId(""));
  EXPECT_FALSE(IsValidPaymentMethodId("pm card"));
  EXPECT_FALSE(IsValidPaymentMethodId("pm\"x"));
  EXPECT_FALSE(IsValidPaymentMethodId(std::string(kPaymentMethodIdBytesMax + 1, 'a')));
}

TEST(OrderRulesTest, JsonStringEscapes) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString(std::string("x\n\x01", 3)), "\"x\\u000a\\u0001\"");
}

Sale MakeSale() {
  Sale sale;
  sale.sku_id = "tee";
  sale.name = "Tee";
  sale.price_cents = 2500;
  sale.currency = "EUR";
  sale.total_stock = 5;
  sale.per_user_limit = 3;
  sale.reservation_ttl_seconds = 60;
  return sale;
}

std::string Body(const Order& order) { return "order:" + order.order_id; }

class SagaInventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_.BeginBatch();
    ASSERT_EQ(inventory_.CreateSale(MakeSale(), now_).outcome, CreateSaleOutcome::kCreated);
    inventory_.CommitBatch();
  }
  std::string Reserve(const std::string& user, std::int32_t quantity = 1) {
    const std::string id = "r" + std::to_string(++ids_);
    inventory_.BeginBatch();
    auto result = inventory_.Reserve({"tee", user, quantity, ""}, {}, id, now_);
    inventory_.CommitBatch();
    EXPECT_EQ(result.outcome, ReserveOutcome::kReserved);
    return id;
  }
  CheckoutResult Checkout(const std::string& reservation_id, const std::string& user,
                          const std::string& key = "", const std::string& method = "pm_card_visa") {
    inventory_.BeginBatch();
    const CheckoutCommand command{reservation_id, user, method, key};
    auto result = inventory_.Checkout(command, "o" + std::to_string(++ids_), now_);
    // As the engine's command does: a keyed checkout that created an order stores its reply.
    if (result.outcome == CheckoutOutcome::kCreated && !key.empty())
      inventory_.StoreReply(command, StoredReply{202, Body(*result.order)}, now_);
    inventory_.CommitBatch();
    return result;
  }
  PaymentReportResult Report(const std::string& order_id, std::int32_t attempt,
                             ChargeOutcome outcome) {
    inventory_.BeginBatch();
    auto result = inventory_.RecordPayment({order_id, attempt, outcome, "why"}, schedule_, now_);
    inventory_.CommitBatch();
    return result;
  }
  StockCounters Counters() { return inventory_.FindSale("tee")->counters; }

  Ledger inventory_;
  RetrySchedule schedule_{{milliseconds(50), milliseconds(100)}};
  base::Time now_ = TimeFromMillis(10'000'000);
  int ids_ = 0;
};

TEST_F(SagaInventoryTest, CheckoutCreatesAPendingOrderAtPriceTimesQuantity) {
  const std::string reservation = Reserve("alice", 2);
  const CheckoutResult result = Checkout(reservation, "alice");
  ASSERT_EQ(result.outcome, CheckoutOutcome::kCreated);
  ASSERT_TRUE(result.order.has_value());
  EXPECT_EQ(result.order->amount_cents, 5000);
  EXPECT_EQ(result.order->currency, "EUR");
  EXPECT_EQ(result.order->status, OrderStatus::kPending);
  EXPECT_EQ(inventory_.FindReservation(reservation)->status, ReservationStatus::kCheckoutPending);
  EXPECT_EQ(Counters().held, 2);
  EXPECT_EQ(inventory_.DueOrders(now_, 10).size(), 1u);
  // A reservation in checkout no longer expires.
  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.ExpireDue(now_ + std::chrono::hours(1), 100), 0u);
  inventory_.CommitBatch();
  inventory_.CheckInvariants();
}

TEST_F(SagaInventoryTest, CheckoutRefusals) {
  const std::string reservation = Reserve("alice");
  EXPECT_EQ(Checkout(reservation, "bob").outcome, CheckoutOutcome::kReservationNotFound);
  EXPECT_EQ(Checkout("nope", "alice").outcome, CheckoutOutcome::kReservationNotFound);
  ASSERT_EQ(Checkout(reservation, "alice").outcome, CheckoutOutcome::kCreated);
  EXPECT_EQ(Checkout(reservation, "alice").outcome, CheckoutOutcome::kReservationNotActive);

  const std::string late = Reserve("carol");
  now_ += std::chrono::seconds(61);
  EXPECT_EQ(Checkout(late, "carol").outcome, CheckoutOutcome::kReservationExpired);
  EXPECT_EQ(inventory_.FindReservation(late)->status, ReservationStatus::kExpired);
  EXPECT_EQ(Checkout(late, "carol").outcome, CheckoutOutcome::kReservationExpired);
  inventory_.CheckInvariants();
}

TEST_F(SagaInventoryTest, KeyedCheckoutReplaysAndRefusesOtherParameters) {
  const std::string reservation = Reserve("alice");
  const CheckoutResult first = Checkout(reservation, "alice", "k");
  ASSERT_EQ(first.outcome, CheckoutOutcome::kCreated);
  const CheckoutResult replay = Checkout(reservation, "alice", "k");
  ASSERT_EQ(replay.outcome, CheckoutOutcome::kReplayed);
  EXPECT_EQ(replay.replay->http_status, 202);
  EXPECT_EQ(replay.replay->response_body, Body(*first.order));
  EXPECT_EQ(Checkout(reservation, "alice", "k", "pm_card_flaky").outcome,
            CheckoutOutcome::kIdempotencyKeyReused);
  // Keys are per user.
  EXPECT_EQ(Checkout(reservation, "bob", "k").outcome, CheckoutOutcome::kReservationNotFound);
}

TEST_F(SagaInventoryTest, SuccessSellsDeclineReleases) {
  const std::string sold = Reserve("alice");
  const std::string order_sold = Checkout(sold, "alice").order->order_id;
  const std::string freed = Reserve("bob");
  const std::string order_freed = Checkout(freed, "bob").order->order_id;
  EXPECT_EQ(Report(order_sold, 1, ChargeOutcome::kSucceeded).outcome, PaymentReportOutcome::kPaid);
  const PaymentReportResult declined = Report(order_freed, 1, ChargeOutcome::kDeclined);
  EXPECT_EQ(declined.outcome, PaymentReportOutcome::kFailed);
  EXPECT_EQ(declined.order->failure_reason, "why");
  EXPECT_EQ(inventory_.FindReservation(sold)->status, ReservationStatus::kPurchased);
  EXPECT_EQ(inventory_.FindReservation(freed)->status, ReservationStatus::kReleased);
  EXPECT_EQ(Counters().sold, 1);
  EXPECT_EQ(Counters().held, 0);
  EXPECT_EQ(inventory_.UserUnits("tee", "bob"), 0);
  EXPECT_TRUE(inventory_.DueOrders(now_, 10).empty());
  // A duplicate report of a settled order changes nothing.
  EXPECT_EQ(Report(order_sold, 1, ChargeOutcome::kDeclined).outcome, PaymentReportOutcome::kStale);
  EXPECT_EQ(Report("nope", 1, ChargeOutcome::kSucceeded).outcome,
            PaymentReportOutcome::kOrderNotFound);
  inventory_.CheckInvariants();
}

TEST_F(SagaInventoryTest, TransientFailuresRetryThenNeedAttentionThenResolve) {
  const std::string reservation = Reserve("alice");
  const std::string order_id = Checkout(reservation, "alice").order->order_id;
  const PaymentReportResult first = Report(order_id, 1, ChargeOutcome::kRetryable);
  ASSERT_EQ(first.outcome, PaymentReportOutcome::kRetryScheduled);
  EXPECT_EQ(first.order->next_attempt_at, now_ + milliseconds(50));
  EXPECT_TRUE(inventory_.DueOrders(now_, 10).empty());
  EXPECT_EQ(inventory_.DueOrders(now_ + milliseconds(50), 10).size(), 1u);
  // A report for an attempt already recorded is stale.
  EXPECT_EQ(Report(order_id, 1, ChargeOutcome::kRetryable).outcome, PaymentReportOutcome::kStale);
  EXPECT_EQ(Report(order_id, 2, ChargeOutcome::kRetryable).outcome,
            PaymentReportOutcome::kRetryScheduled);
  const PaymentReportResult last = Report(order_id, 3, ChargeOutcome::kRetryable);
  EXPECT_EQ(last.outcome, PaymentReportOutcome::kNeedsAttention);
  EXPECT_EQ(last.order->attempts, 3);
  EXPECT_EQ(Counters().held, 1);  // stock stays held
  EXPECT_EQ(inventory_.OrdersWithStatus(OrderStatus::kNeedsAttention, 10).size(), 1u);

  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.ResolveOrder("nope", ResolveChoice::kPaid, now_).outcome,
            ResolveOutcome::kOrderNotFound);
  EXPECT_EQ(inventory_.ResolveOrder(order_id, ResolveChoice::kFailed, now_).outcome,
            ResolveOutcome::kResolved);
  EXPECT_EQ(inventory_.ResolveOrder(order_id, ResolveChoice::kPaid, now_).outcome,
            ResolveOutcome::kNotNeedsAttention);
  inventory_.CommitBatch();
  EXPECT_EQ(Counters().held, 0);
  EXPECT_EQ(inventory_.FindOrder(order_id)->status, OrderStatus::kFailed);
  inventory_.CheckInvariants();
}

TEST_F(SagaInventoryTest, EventsAreNumberedPerSkuWithoutGaps) {
  inventory_.BeginBatch();
  const std::string reservation = "rx";
  ASSERT_EQ(inventory_.Reserve({"tee", "alice", 1, ""}, {}, reservation, now_).outcome,
            ReserveOutcome::kReserved);
  auto checkout = inventory_.Checkout({reservation, "alice", "pm_card_visa", ""}, "ox", now_);
  ASSERT_EQ(checkout.outcome, CheckoutOutcome::kCreated);
  ASSERT_EQ(
      inventory_.RecordPayment({"ox", 1, ChargeOutcome::kSucceeded, ""}, schedule_, now_).outcome,
      PaymentReportOutcome::kPaid);
  std::vector<std::string> types;
  std::int64_t expected = 1;
  for (const Mutation& mutation : inventory_.mutations()) {
    if (const auto* event = std::get_if<EventAppended>(&mutation)) {
      EXPECT_EQ(event->event.sequence, expected);
      EXPECT_EQ(event->event.event_id, "tee:" + std::to_string(expected));
      ++expected;
      types.push_back(event->event.type);
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"reservation.created", "checkout.requested",
                                             "payment.succeeded", "order.confirmed"}));
  // A failed commit rolls the sequence, the order and the reservation back.
  inventory_.RollbackBatch();
  EXPECT_EQ(inventory_.EventSequence("tee"), 0);
  EXPECT_EQ(inventory_.FindOrder("ox"), nullptr);
  EXPECT_EQ(inventory_.FindReservation(reservation), nullptr);
  EXPECT_TRUE(inventory_.DueOrders(now_, 10).empty());
  inventory_.CheckInvariants();
}

TEST_F(SagaInventoryTest, RolledBackSettlementRestoresThePendingOrder) {
  const std::string reservation = Reserve("alice");
  const std::string order_id = Checkout(reservation, "alice").order->order_id;
  inventory_.BeginBatch();
  ASSERT_EQ(inventory_.RecordPayment({order_id, 1, ChargeOutcome::kDeclined, "no"}, schedule_, now_)
                .outcome,
            PaymentReportOutcome::kFailed);
  inventory_.RollbackBatch();
  EXPECT_EQ(inventory_.FindOrder(order_id)->status, OrderStatus::kPending);
  EXPECT_EQ(inventory_.FindReservation(reservation)->status, ReservationStatus::kCheckoutPending);
  EXPECT_EQ(inventory_.DueOrders(now_, 10).size(), 1u);
  EXPECT_EQ(Counters().held, 1);
  inventory_.CheckInvariants();
}

}  // namespace
}  // namespace fs::core
