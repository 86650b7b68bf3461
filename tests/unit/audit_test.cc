// Goal: the audit trail's core pieces. The canonical encoding is exactly the documented bytes
// and unambiguous; SHA-256 matches the standard test vector; a chain verifies and every kind
// of tampering (modified, deleted, inserted, swapped events) is detected at the first broken
// event; the writer's in-memory chain head rolls back with a failed batch so ids stay
// gap-free; every reserve decision (refusals included) and every release, expiry and admin
// action appends exactly one event; and the sale lifecycle rules (schedule, open, close,
// stock adjustments) as a table.
#include "core/audit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/ledger.h"
#include "core/rules.h"
#include "crypto/sha256.h"

namespace fs::core {
namespace {

using base::TimeFromMillis;
using std::chrono::seconds;

const std::string kZeros(64, '0');

AuditEvent SampleEvent() {
  AuditEvent event;
  event.event_id = 7;
  event.type = AuditEventType::kReserveAttempt;
  event.user_id = "alice";
  event.sku_id = "tee";
  event.outcome = AuditOutcome::kFailed;
  event.failure_reason = "SOLD_OUT";
  event.occurred_at = TimeFromMillis(1'700'000'000'123);
  event.client_ip = "10.0.0.1";
  event.metadata = R"({"quantity":1})";
  event.prev_hash = kZeros;
  return event;
}

TEST(AuditEncodingTest, IsTheDocumentedBytes) {
  const std::string expected =
      "flashsale-audit-v1;1:7;15:RESERVE_ATTEMPT;5:alice;3:tee;6:FAILED;"
      "8:SOLD_OUT;13:1700000000123;8:10.0.0.1;~;14:{\"quantity\":1};64:" +
      kZeros + ";";
  EXPECT_EQ(CanonicalEncoding(SampleEvent()), expected);
}

TEST(AuditEncodingTest, EveryFieldChangesTheBytes) {
  const std::string base = CanonicalEncoding(SampleEvent());
  std::vector<AuditEvent> variants(12, SampleEvent());
  variants[0].event_id = 8;
  variants[1].type = AuditEventType::kRelease;
  variants[2].user_id = "alicf";
  variants[3].sku_id = std::nullopt;
  variants[4].outcome = AuditOutcome::kThrottled;
  variants[5].failure_reason = "LIMIT_EXCEEDED";
  variants[6].occurred_at += base::Millis(1);
  variants[7].client_ip = std::nullopt;
  variants[8].device_fingerprint = "";  // present but empty differs from absent
  variants[9].metadata = R"({"quantity":2})";
  variants[10].prev_hash = std::string(64, '1');
  variants[11].event_hash = "not part of the encoding";
  for (std::size_t i = 0; i + 1 < variants.size(); ++i) {
    EXPECT_NE(CanonicalEncoding(variants[i]), base) << "variant " << i;
  }
  EXPECT_EQ(CanonicalEncoding(variants[11]), base);
}

TEST(AuditEncodingTest, LengthPrefixesMakeFieldBoundariesUnambiguous) {
  AuditEvent a = SampleEvent();
  AuditEvent b = SampleEvent();
  a.user_id = "ab;3:x";
  a.sku_id = "y";
  b.user_id = "ab";
  b.sku_id = "x;1:y";
  EXPECT_NE(CanonicalEncoding(a), CanonicalEncoding(b));
}

TEST(AuditHashTest, Sha256MatchesTheStandardVector) {
  EXPECT_EQ(crypto::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(crypto::Sha256Hex("").size(), kHashHexBytes);
}

TEST(AuditJsonTest, QuotesAndEscapes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n"), R"("a\"b\\c\u000a")");
  EXPECT_EQ(AuditMetadata().Build(), "{}");
  EXPECT_EQ(AuditMetadata().Add("q", 2).Add("id", "x\"y").Build(), R"({"q":2,"id":"x\"y"})");
  // Escapes at either end, back to back, and none at all.
  EXPECT_EQ(JsonQuote("\"\"plain\x01"), R"("\"\"plain\u0001")");
  EXPECT_EQ(JsonQuote(""), R"("")");
  EXPECT_EQ(JsonQuote("no-escape-at-all"), R"("no-escape-at-all")");
}

TEST(AuditHashBytesTest, HexRoundTripAndRefusals) {
  const std::string hex = crypto::Sha256Hex("abc");
  std::string bytes = "prefix";
  ASSERT_TRUE(AppendHashBytes(hex, bytes));
  ASSERT_EQ(bytes.size(), 6 + kHashBytes);
  EXPECT_EQ(HexOfBytes(std::string_view(bytes).substr(6)), hex);
  EXPECT_EQ(static_cast<unsigned char>(bytes[6]), 0xba);
  std::string untouched;
  EXPECT_FALSE(AppendHashBytes(hex.substr(1), untouched));               // too short
  EXPECT_FALSE(AppendHashBytes("A" + hex.substr(1), untouched));         // upper case
  EXPECT_FALSE(AppendHashBytes(std::string(63, '0') + "g", untouched));  // not hex
  EXPECT_TRUE(untouched.empty());
  EXPECT_EQ(HexOfBytes("forged"), "666f72676564");
}

std::vector<AuditEvent> MakeChain(int count) {
  std::vector<AuditEvent> chain;
  AuditHead head;
  for (int i = 0; i < count; ++i) {
    AuditEvent event = SampleEvent();
    event.user_id = "user" + std::to_string(i);
    head = ChainAfter(head, event, &crypto::Sha256Hex);
    chain.push_back(event);
  }
  return chain;
}

struct Walk {
  bool valid;
  std::int64_t events;
  std::optional<std::int64_t> broken;
};

Walk Verify(const std::vector<AuditEvent>& events) {
  AuditChainVerifier verifier(&crypto::Sha256Hex);
  for (const auto& event : events) verifier.Next(event);
  return {verifier.valid(), verifier.events(), verifier.broken_event_id()};
}

TEST(AuditChainTest, ChainLinksEachEventToThePreviousHash) {
  const auto chain = MakeChain(5);
  EXPECT_EQ(chain[0].event_id, 1);
  EXPECT_EQ(chain[0].prev_hash, kGenesisHash);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    EXPECT_EQ(chain[i].event_id, static_cast<std::int64_t>(i) + 1);
    EXPECT_EQ(chain[i].prev_hash, chain[i - 1].event_hash);
  }
  const Walk walk = Verify(chain);
  EXPECT_TRUE(walk.valid);
  EXPECT_EQ(walk.events, 5);
}

TEST(AuditChainTest, DetectsEveryKindOfTampering) {
  const auto chain = MakeChain(5);
  {
    auto modified = chain;
    modified[2].failure_reason = "LIMIT_EXCEEDED";
    const Walk walk = Verify(modified);
    EXPECT_FALSE(walk.valid);
    EXPECT_EQ(walk.broken, 3);
    EXPECT_EQ(walk.events, 2);
  }
  {
    auto deleted = chain;
    deleted.erase(deleted.begin() + 1);
    EXPECT_EQ(Verify(deleted).broken, 3);  // id 2 is missing: 3 comes where 2 was due
  }
  {
    // An inserted event with a valid hash of its own still breaks its successor, whose id
    // and prev_hash no longer fit.
    auto inserted = std::vector<AuditEvent>(chain.begin(), chain.begin() + 2);
    AuditEvent forged = SampleEvent();
    forged.user_id = "mallory";
    ChainAfter(AuditHead{inserted.back().event_id, inserted.back().event_hash}, forged,
               &crypto::Sha256Hex);
    inserted.push_back(forged);
    for (std::size_t i = 2; i < chain.size(); ++i) {
      AuditEvent shifted = chain[i];
      shifted.event_id += 1;
      inserted.push_back(shifted);
    }
    EXPECT_EQ(Verify(inserted).broken, 4);
  }
  {
    auto swapped = chain;
    std::swap(swapped[1], swapped[2]);
    EXPECT_EQ(Verify(swapped).broken, 3);
    auto swapped_contents = chain;  // rows keep their ids, contents exchanged
    std::swap(swapped_contents[1], swapped_contents[2]);
    std::swap(swapped_contents[1].event_id, swapped_contents[2].event_id);
    EXPECT_EQ(Verify(swapped_contents).broken, 2);
  }
}

// --- The writer's chain ----------------------------------------------------------------------

Sale MakeSale(const std::string& sku_id, std::int64_t stock) {
  Sale sale;
  sale.sku_id = sku_id;
  sale.name = "Sale " + sku_id;
  sale.price_cents = 500;
  sale.currency = "EUR";
  sale.total_stock = stock;
  sale.per_user_limit = 1;
  sale.reservation_ttl_seconds = 10;
  return sale;
}

std::vector<AuditEvent> AuditEvents(const Mutations& mutations) {
  std::vector<AuditEvent> events;
  for (const auto& mutation : mutations) {
    if (const auto* audit = std::get_if<AuditAppended>(&mutation)) events.push_back(audit->event);
  }
  return events;
}

class AuditedInventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_.EnableAudit(&crypto::Sha256Hex, AuditHead{});
    inventory_.BeginBatch();
    ASSERT_EQ(inventory_.CreateSale(MakeSale("a", 2), now_).outcome, CreateSaleOutcome::kCreated);
    Keep();
  }
  // Commits the batch in memory and returns its audit events (also checks them as a chain).
  std::vector<AuditEvent> Keep() {
    auto events = AuditEvents(inventory_.mutations());
    for (const auto& event : events) EXPECT_TRUE(verifier_.Next(event)) << verifier_.reason();
    inventory_.CommitBatch();
    return events;
  }
  ReserveResult Reserve(const std::string& sku, const std::string& user) {
    ReserveCommand command{sku, user, 1, ""};
    command.client_ip = "192.0.2.1";
    command.device_fingerprint = "fp";
    return inventory_.Reserve(command, {}, "r" + std::to_string(++ids_), now_);
  }

  Ledger inventory_;
  AuditChainVerifier verifier_{&crypto::Sha256Hex};
  base::Time now_ = TimeFromMillis(1'000'000);
  int ids_ = 0;
};

TEST_F(AuditedInventoryTest, EveryReserveDecisionIsOneEventRefusalsIncluded) {
  inventory_.BeginBatch();
  EXPECT_EQ(Reserve("a", "u1").outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Reserve("a", "u1").outcome, ReserveOutcome::kLimitExceeded);
  EXPECT_EQ(Reserve("a", "u2").outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Reserve("a", "u3").outcome, ReserveOutcome::kSoldOut);
  EXPECT_EQ(Reserve("nope", "u4").outcome, ReserveOutcome::kSkuNotFound);
  const auto events = Keep();
  ASSERT_EQ(events.size(), 5u);
  const std::vector<std::optional<std::string>> reasons = {
      std::nullopt, "LIMIT_EXCEEDED", std::nullopt, "SOLD_OUT", "SKU_NOT_FOUND"};
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].type, AuditEventType::kReserveAttempt);
    EXPECT_EQ(events[i].outcome, reasons[i] ? AuditOutcome::kFailed : AuditOutcome::kSuccess);
    EXPECT_EQ(events[i].failure_reason, reasons[i]);
    EXPECT_EQ(events[i].client_ip, "192.0.2.1");
    EXPECT_EQ(events[i].device_fingerprint, "fp");
    EXPECT_EQ(events[i].occurred_at, now_);
  }
  EXPECT_EQ(events[0].user_id, "u1");
  EXPECT_NE(events[0].metadata.find("\"reservation_id\":\"r1\""), std::string::npos);
  EXPECT_EQ(events[4].sku_id, "nope");
  EXPECT_EQ(inventory_.audit_head().event_id, 6);  // 1 = SALE_CREATED
}

TEST_F(AuditedInventoryTest, ReleaseAndExpiryAreAudited) {
  inventory_.BeginBatch();
  ASSERT_EQ(Reserve("a", "u1").outcome, ReserveOutcome::kReserved);
  ASSERT_EQ(Reserve("a", "u2").outcome, ReserveOutcome::kReserved);
  Keep();
  inventory_.BeginBatch();
  ASSERT_EQ(inventory_.Release("r1", "u1", now_).outcome, ReleaseOutcome::kReleased);
  auto events = Keep();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, AuditEventType::kRelease);
  EXPECT_EQ(events[0].user_id, "u1");
  inventory_.BeginBatch();
  ASSERT_EQ(inventory_.ExpireDue(now_ + seconds(11), 100), 1u);
  events = Keep();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, AuditEventType::kExpiry);
  EXPECT_EQ(events[0].user_id, "u2");
}

TEST_F(AuditedInventoryTest, RolledBackBatchRollsTheHeadBackAndIdsStayGapFree) {
  const AuditHead before = inventory_.audit_head();
  inventory_.BeginBatch();
  ASSERT_EQ(Reserve("a", "u1").outcome, ReserveOutcome::kReserved);
  ASSERT_EQ(Reserve("a", "u9").outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(inventory_.audit_head().event_id, before.event_id + 2);
  inventory_.RollbackBatch();  // the commit failed
  EXPECT_EQ(inventory_.audit_head().event_id, before.event_id);
  EXPECT_EQ(inventory_.audit_head().event_hash, before.event_hash);

  inventory_.BeginBatch();
  ASSERT_EQ(Reserve("a", "u1").outcome, ReserveOutcome::kReserved);
  const auto events = Keep();  // the verifier checks it continues the kept chain
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event_id, before.event_id + 1);
  EXPECT_EQ(events[0].prev_hash, before.event_hash);
}

TEST_F(AuditedInventoryTest, AuditOffMakesNoEvents) {
  Ledger plain;
  plain.BeginBatch();
  ASSERT_EQ(plain.CreateSale(MakeSale("b", 1), now_).outcome, CreateSaleOutcome::kCreated);
  ASSERT_EQ(plain.Reserve({"b", "u", 1, ""}, {}, "r", now_).outcome, ReserveOutcome::kReserved);
  EXPECT_TRUE(AuditEvents(plain.mutations()).empty());
  plain.CommitBatch();
  EXPECT_EQ(plain.audit_head().event_id, 0);
}

// --- Lifecycle -------------------------------------------------------------------------------

TEST(LifecycleRulesTest, ScheduleAndOverrideTable) {
  const base::Time start = TimeFromMillis(10'000);
  const base::Time end = TimeFromMillis(20'000);
  struct Case {
    const char* name;
    SaleOverride override_state;
    base::Time now;
    ReserveDecision expected;
  };
  const Case cases[] = {
      {"before start", SaleOverride::kNone, start - base::Millis(1), ReserveDecision::kSaleNotOpen},
      {"at start", SaleOverride::kNone, start, ReserveDecision::kGrant},
      {"just before end", SaleOverride::kNone, end - base::Millis(1), ReserveDecision::kGrant},
      {"at end", SaleOverride::kNone, end, ReserveDecision::kSaleClosed},
      {"opened early", SaleOverride::kOpened, start - base::Millis(1), ReserveDecision::kGrant},
      {"opened, after end", SaleOverride::kOpened, end, ReserveDecision::kSaleClosed},
      {"closed before start", SaleOverride::kClosed, start - base::Millis(1),
       ReserveDecision::kSaleClosed},
      {"closed while running", SaleOverride::kClosed, start, ReserveDecision::kSaleClosed},
  };
  for (const Case& c : cases) {
    Sale sale = MakeSale("a", 5);
    sale.starts_at = start;
    sale.ends_at = end;
    sale.override_state = c.override_state;
    EXPECT_EQ(DecideReserve(sale, {5, 0, 0}, 0, 1, c.now), c.expected) << c.name;
  }
}

TEST_F(AuditedInventoryTest, CloseRefusesReservesButNotReleasesAndIsAudited) {
  inventory_.BeginBatch();
  ASSERT_EQ(Reserve("a", "u1").outcome, ReserveOutcome::kReserved);
  const AdminSaleResult closed = inventory_.SetSaleOverride("a", SaleOverride::kClosed, now_);
  ASSERT_EQ(closed.outcome, AdminSaleOutcome::kChanged);
  EXPECT_EQ(closed.sale->override_state, SaleOverride::kClosed);
  EXPECT_EQ(Reserve("a", "u2").outcome, ReserveOutcome::kSaleClosed);
  EXPECT_EQ(inventory_.Release("r1", "u1", now_).outcome, ReleaseOutcome::kReleased);
  const auto events = Keep();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1].type, AuditEventType::kSaleClosed);
  EXPECT_EQ(events[2].failure_reason, "SALE_CLOSED");
  EXPECT_EQ(events[3].type, AuditEventType::kRelease);

  inventory_.BeginBatch();
  EXPECT_EQ(inventory_.SetSaleOverride("a", SaleOverride::kOpened, now_).outcome,
            AdminSaleOutcome::kChanged);
  EXPECT_EQ(Reserve("a", "u2").outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(inventory_.SetSaleOverride("zz", SaleOverride::kOpened, now_).outcome,
            AdminSaleOutcome::kSkuNotFound);
  EXPECT_EQ(Keep()[0].type, AuditEventType::kSaleOpened);
}

TEST_F(AuditedInventoryTest, StockNeverGoesBelowHeldPlusSold) {
  inventory_.BeginBatch();
  ASSERT_EQ(Reserve("a", "u1").outcome, ReserveOutcome::kReserved);
  Keep();
  struct Case {
    std::int64_t delta;
    AdminSaleOutcome expected;
    std::int64_t total_after;
  };
  const Case cases[] = {
      {-2, AdminSaleOutcome::kStockBelowCommitted, 2},  // 0 < 1 held
      {-1, AdminSaleOutcome::kChanged, 1},              // exactly the held unit
      {-1, AdminSaleOutcome::kStockBelowCommitted, 1},
      {+4, AdminSaleOutcome::kChanged, 5},
      {-kTotalStockMax - 1, AdminSaleOutcome::kStockOutOfRange, 5},
      {kTotalStockMax, AdminSaleOutcome::kStockOutOfRange, 5},
  };
  for (const Case& c : cases) {
    inventory_.BeginBatch();
    const AdminSaleResult result = inventory_.AdjustStock("a", c.delta, now_);
    EXPECT_EQ(result.outcome, c.expected) << c.delta;
    const auto events = Keep();
    EXPECT_EQ(inventory_.FindSale("a")->sale.total_stock, c.total_after) << c.delta;
    EXPECT_EQ(inventory_.FindSale("a")->counters.total, c.total_after) << c.delta;
    if (c.expected == AdminSaleOutcome::kStockOutOfRange) {
      EXPECT_TRUE(events.empty());
      continue;
    }
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, AuditEventType::kStockAdjusted);
    const bool refused = c.expected == AdminSaleOutcome::kStockBelowCommitted;
    EXPECT_EQ(events[0].failure_reason,
              refused ? std::optional<std::string>("STOCK_BELOW_COMMITTED") : std::nullopt);
  }
  inventory_.CheckInvariants();
  // A rolled-back adjustment restores the stock.
  inventory_.BeginBatch();
  ASSERT_EQ(inventory_.AdjustStock("a", 10, now_).outcome, AdminSaleOutcome::kChanged);
  inventory_.RollbackBatch();
  EXPECT_EQ(inventory_.FindSale("a")->sale.total_stock, 5);
  EXPECT_EQ(inventory_.FindSale("a")->counters.total, 5);
}

}  // namespace
}  // namespace fs::core
