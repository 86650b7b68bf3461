// Goal: the fair waiting room's rules hold, driven by a ManualClock: the draw at the start is
// a uniform shuffle (early joiners get no edge, checked with a chi-square test over many
// seeds), late arrivals queue FIFO, admission follows the rate and the stock, an expired pass
// admits the next ticket, everyone waiting is told SOLD_OUT at once and admission resumes when
// held units return, every kind of bad pass is refused, a rolled-back batch leaves the room as
// it was, the stored mutations rebuild the same room, and a room of 250,000 tickets answers
// positions without scanning.
#include "core/waiting_room.h"

#include <gtest/gtest.h>

#include <map>

#include "core/ledger.h"

namespace fs::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Time kStart = base::TimeFromMillis(1'800'000'000'000);

WaitingRoomPolicy Policy(std::int64_t rate, int ttl_seconds = 30) {
  WaitingRoomPolicy policy;
  policy.admit_per_second = rate;
  policy.pass_ttl = seconds(ttl_seconds);
  policy.prequeue = seconds(600);
  return policy;
}

SaleState Started(std::int64_t total, std::int64_t held = 0, std::int64_t sold = 0) {
  SaleState state;
  state.phase = SalePhase::kStarted;
  state.counters = {total, held, sold};
  state.starts_at = kStart;
  return state;
}

SaleState BeforeStart() {
  SaleState state = Started(100);
  state.phase = SalePhase::kBeforeStart;
  return state;
}

std::string User(int i) { return "user-" + std::to_string(i); }

// The pass a ticket's owner would present: what the HTTP layer makes of a good signature.
PresentedPass PassFor(const TicketView& view) {
  PresentedPass pass;
  pass.kind = PresentedPass::Kind::kSigned;
  pass.ticket_id = view.ticket.ticket_id;
  pass.user_id = view.ticket.user_id;
  pass.sku_id = view.ticket.sku_id;
  pass.expires_at = view.ticket.pass_expires_at.value_or(Time{});
  return pass;
}
std::string TicketId(int i) { return "ticket-" + std::to_string(i); }

class RoomTest : public ::testing::Test {
 protected:
  explicit RoomTest(WaitingRoomPolicy policy = Policy(1000)) : policy_(policy) { Reset(); }
  void Reset() {
    if (journal_.in_batch()) journal_.Commit();
    journal_.Begin();
    WaitingRoomRecord record;
    record.sku_id = "sku";
    record.created_at = clock_.Now();
    room_ = std::make_unique<WaitingRoom>(record, policy_, journal_);
  }
  // The room's changes are kept (a commit) or undone (a failed commit); a new batch begins.
  void Commit() {
    journal_.Commit();
    journal_.Begin();
  }
  void Rollback() {
    journal_.Rollback();
    journal_.Begin();
  }
  void Join(int i) {
    Keep(room_->Join(User(i), TicketId(i), clock_.Now()));
    Commit();
  }
  std::vector<Mutation> Tick(const SaleState& state) {
    auto out = room_->Tick(clock_.Now(), state, rng_);
    for (const auto& m : out) Keep(m);
    Commit();
    return out;
  }
  TicketView View(int i, const SaleState& state) {
    auto view = room_->Find(TicketId(i), User(i), clock_.Now(), state);
    EXPECT_TRUE(view.has_value());
    return view.value_or(TicketView{});
  }
  // The join indexes of the admitted tickets, in admission order.
  std::vector<std::string> Admitted(const std::vector<Mutation>& mutations) {
    std::vector<std::string> out;
    for (const auto& m : mutations) {
      if (const auto* a = std::get_if<QueueTicketAdmitted>(&m)) out.push_back(a->ticket_id);
    }
    return out;
  }
  PresentedPass PassOf(int i, const SaleState& state) { return PassFor(View(i, state)); }
  // A tiny store: applies the room's mutations to rows, as the database would.
  void Keep(const Mutation& m) {
    if (const auto* issued = std::get_if<QueueTicketIssued>(&m)) {
      rows_[issued->ticket.join_seq] = issued->ticket;
    } else if (const auto* drawn = std::get_if<WaitingRoomDrawn>(&m)) {
      stored_.draw_seed = drawn->seed;
      stored_.prequeue_count = drawn->prequeue_count;
      stored_.drawn_at = drawn->at;
    } else if (const auto* admitted = std::get_if<QueueTicketAdmitted>(&m)) {
      for (auto& [seq, row] : rows_) {
        if (row.ticket_id != admitted->ticket_id) continue;
        row.admitted_at = admitted->admitted_at;
        row.pass_expires_at = admitted->pass_expires_at;
      }
    } else if (const auto* used = std::get_if<QueuePassUsed>(&m)) {
      for (auto& [seq, row] : rows_) {
        if (row.ticket_id != used->ticket_id) continue;
        row.used_reservation_id = used->reservation_id;
        row.used_at = used->at;
      }
    }
  }

  WaitingRoomPolicy policy_;
  Journal journal_;
  base::ManualClock clock_{kStart - seconds(60)};
  base::Rng rng_{42};
  std::unique_ptr<WaitingRoom> room_;
  WaitingRoomRecord stored_{"sku", kStart - seconds(60), std::nullopt, 0, std::nullopt};
  std::map<std::int64_t, QueueTicket> rows_;
};

TEST(DrawOrderTest, IsAPermutationFixedByItsSeed) {
  const auto order = DrawOrder(1234, 1000);
  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i + 1);
  EXPECT_EQ(order, DrawOrder(1234, 1000));
  EXPECT_NE(order, DrawOrder(1235, 1000));
  EXPECT_TRUE(DrawOrder(7, 0).empty());
  EXPECT_EQ(DrawOrder(7, 1), std::vector<std::int64_t>{1});
  // The persisted algorithm: a stored seed must replay the same order forever.
  EXPECT_EQ(DrawOrder(1, 5), (std::vector<std::int64_t>{DrawOrder(1, 5)}));
}

// Chi-square over 20,000 seeds: which joiner lands first, and where the first joiner lands,
// are both uniform. 9 degrees of freedom: 27.88 is the 0.1% critical value. Seeds are fixed,
// so the test is deterministic; a biased shuffle (e.g. modulo bias or an off-by-one swap that
// favours early indexes) fails it.
TEST(DrawOrderTest, EveryJoinerIsEquallyLikelyToBeFirst) {
  constexpr int kJoiners = 10;
  constexpr int kDraws = 20'000;
  std::vector<int> first_place(kJoiners, 0);
  std::vector<int> first_joiner_place(kJoiners, 0);
  for (int seed = 0; seed < kDraws; ++seed) {
    const auto order =
        DrawOrder(static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ULL, kJoiners);
    ++first_place[static_cast<std::size_t>(order[0] - 1)];
    for (std::size_t place = 0; place < order.size(); ++place) {
      if (order[place] == 1) ++first_joiner_place[place];
    }
  }
  auto chi_square = [&](const std::vector<int>& counts) {
    const double expected = static_cast<double>(kDraws) / kJoiners;
    double sum = 0;
    for (int count : counts) sum += (count - expected) * (count - expected) / expected;
    return sum;
  };
  EXPECT_LT(chi_square(first_place), 27.88);
  EXPECT_LT(chi_square(first_joiner_place), 27.88);
}

TEST_F(RoomTest, AdmitsInDrawnOrderThenLateArrivalsFifo) {
  for (int i = 1; i <= 20; ++i) Join(i);
  EXPECT_EQ(View(1, BeforeStart()).status, TicketStatus::kWaiting);
  EXPECT_FALSE(View(1, BeforeStart()).position.has_value());
  EXPECT_EQ(View(1, BeforeStart()).estimated_wait_seconds, 60);
  EXPECT_EQ(View(1, BeforeStart()).poll_after, milliseconds(30'000));  // half of 60 s
  EXPECT_TRUE(Tick(BeforeStart()).empty());                            // no draw before the start

  clock_.Set(kStart);
  const SaleState state = Started(1000);
  // The draw, then admission of the whole bucket (1000/s) for 20 tickets.
  auto mutations = Tick(state);
  ASSERT_TRUE(std::holds_alternative<WaitingRoomDrawn>(mutations.front()));
  const auto& drawn = std::get<WaitingRoomDrawn>(mutations.front());
  EXPECT_EQ(drawn.prequeue_count, 20);
  std::vector<std::string> expected;
  for (std::int64_t seq : DrawOrder(drawn.seed, 20))
    expected.push_back(TicketId(static_cast<int>(seq)));
  EXPECT_EQ(Admitted(mutations), expected);

  // Late arrivals go behind, in arrival order.
  for (int i = 21; i <= 25; ++i) Join(i);
  EXPECT_EQ(Admitted(Tick(state)),
            (std::vector<std::string>{TicketId(21), TicketId(22), TicketId(23), TicketId(24),
                                      TicketId(25)}));
}

TEST_F(RoomTest, PositionsCountDownAsTicketsAreAdmitted) {
  policy_ = Policy(2);
  Reset();
  for (int i = 1; i <= 6; ++i) Join(i);
  clock_.Set(kStart);
  const SaleState state = Started(100);
  auto mutations = Tick(state);
  EXPECT_EQ(Admitted(mutations).size(), 2u);  // a full bucket: one second of admissions
  std::map<std::int64_t, int> by_position;
  for (int i = 1; i <= 6; ++i) {
    const TicketView view = View(i, state);
    if (view.status == TicketStatus::kWaiting) by_position[*view.position] = i;
  }
  ASSERT_EQ(by_position.size(), 4u);
  EXPECT_EQ(by_position.begin()->first, 1);
  EXPECT_EQ(by_position.rbegin()->first, 4);
  EXPECT_EQ(View(by_position[4], state).estimated_wait_seconds, 2);       // 4 at 2/s
  EXPECT_EQ(View(by_position[4], state).poll_after, milliseconds(1000));  // never under 1 s
  clock_.Advance(milliseconds(500));
  ASSERT_EQ(Admitted(Tick(state)), std::vector<std::string>{TicketId(by_position[1])});
  EXPECT_EQ(View(by_position[4], state).position, 3);
}

TEST_F(RoomTest, AdmitsAtTheConfiguredRate) {
  policy_ = Policy(10);
  Reset();
  for (int i = 1; i <= 100; ++i) Join(i);
  clock_.Set(kStart);
  const SaleState state = Started(1000);
  EXPECT_EQ(Admitted(Tick(state)).size(), 10u);  // the bucket starts full
  EXPECT_EQ(Admitted(Tick(state)).size(), 0u);   // no time passed
  clock_.Advance(milliseconds(100));
  EXPECT_EQ(Admitted(Tick(state)).size(), 1u);
  clock_.Advance(milliseconds(50));
  EXPECT_EQ(Admitted(Tick(state)).size(), 0u);  // half a token
  clock_.Advance(milliseconds(50));
  EXPECT_EQ(Admitted(Tick(state)).size(), 1u);
  clock_.Advance(seconds(10));
  EXPECT_EQ(Admitted(Tick(state)).size(), 10u);  // capped at one second's burst
  EXPECT_EQ(room_->Stats().admitted_total, 22);
}

TEST_F(RoomTest, AdmitsNoMorePassesThanUnitsAvailable) {
  for (int i = 1; i <= 10; ++i) Join(i);
  clock_.Set(kStart);
  EXPECT_EQ(Admitted(Tick(Started(3))).size(), 3u);
  EXPECT_EQ(Admitted(Tick(Started(3))).size(), 0u);
  EXPECT_EQ(room_->Stats().live_passes, 3);
}

TEST_F(RoomTest, AnExpiredPassAdmitsTheNextTicket) {
  policy_ = Policy(100, 5);
  Reset();
  for (int i = 1; i <= 3; ++i) Join(i);
  clock_.Set(kStart);
  const SaleState state = Started(1);
  const auto first = Admitted(Tick(state));
  ASSERT_EQ(first.size(), 1u);
  clock_.Advance(milliseconds(4999));
  EXPECT_TRUE(Admitted(Tick(state)).empty());
  clock_.Advance(milliseconds(1));
  const auto second = Admitted(Tick(state));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second, first);
  EXPECT_EQ(room_->Stats().expired_total, 1);
  const int first_index = std::stoi(first[0].substr(7));
  EXPECT_EQ(View(first_index, state).status, TicketStatus::kExpired);
  EXPECT_EQ(room_->CheckPass(PassOf(first_index, state), User(first_index), clock_.Now()),
            PassCheck::kExpired);
}

TEST_F(RoomTest, SoldOutTellsEveryoneAtOnceAndAdmissionResumesWhenUnitsReturn) {
  for (int i = 1; i <= 5; ++i) Join(i);
  clock_.Set(kStart);
  const auto admitted = Admitted(Tick(Started(1)));
  ASSERT_EQ(admitted.size(), 1u);
  Keep(room_->UsePass(admitted[0], "r1", clock_.Now()));
  Commit();
  // The pass was used: the unit is held. Nothing available, but it could come back.
  const SaleState held = Started(1, 1, 0);
  clock_.Advance(seconds(1));
  EXPECT_TRUE(Admitted(Tick(held)).empty());
  int waiting = 0;
  for (int i = 1; i <= 5; ++i) waiting += View(i, held).status == TicketStatus::kWaiting;
  EXPECT_EQ(waiting, 4);
  // The unit was bought: nothing left and nothing held. All four are told at once.
  const SaleState sold = Started(1, 0, 1);
  Tick(sold);
  int sold_out = 0;
  for (int i = 1; i <= 5; ++i) sold_out += View(i, sold).status == TicketStatus::kSoldOut;
  EXPECT_EQ(sold_out, 4);
  EXPECT_TRUE(room_->Stats().sold_out);
  EXPECT_EQ(room_->Stats().sold_out_notified_total, 4);
  // A failed payment (or more stock) returns a unit: admission resumes.
  const SaleState back = Started(1, 0, 0);
  EXPECT_EQ(Admitted(Tick(back)).size(), 1u);
  EXPECT_FALSE(room_->Stats().sold_out);
}

TEST_F(RoomTest, RefusesEveryKindOfBadPass) {
  for (int i = 1; i <= 3; ++i) Join(i);
  clock_.Set(kStart);
  const SaleState state = Started(1);
  const auto admitted = Admitted(Tick(state));
  ASSERT_EQ(admitted.size(), 1u);
  const int a = std::stoi(admitted[0].substr(7));
  const int b = a == 1 ? 2 : 1;
  const Time now = clock_.Now();
  PresentedPass pass = PassOf(a, state);
  EXPECT_EQ(room_->CheckPass(pass, User(a), now), PassCheck::kValid);
  EXPECT_EQ(room_->CheckPass(PresentedPass{}, User(a), now), PassCheck::kMissing);
  PresentedPass bad;
  bad.kind = PresentedPass::Kind::kUnverifiable;
  EXPECT_EQ(room_->CheckPass(bad, User(a), now), PassCheck::kMalformed);
  EXPECT_EQ(room_->CheckPass(pass, User(b), now), PassCheck::kWrongHolder);  // another's pass
  PresentedPass other_sku = pass;
  other_sku.sku_id = "other";
  EXPECT_EQ(room_->CheckPass(other_sku, User(a), now), PassCheck::kWrongHolder);
  PresentedPass unknown = pass;
  unknown.ticket_id = "ticket-999";
  EXPECT_EQ(room_->CheckPass(unknown, User(a), now), PassCheck::kUnknownTicket);
  PresentedPass stale = pass;
  stale.expires_at += seconds(1);
  EXPECT_EQ(room_->CheckPass(stale, User(a), now), PassCheck::kUnknownTicket);
  PresentedPass waiting = PassOf(b, state);
  waiting.expires_at = pass.expires_at;
  EXPECT_EQ(room_->CheckPass(waiting, User(b), now), PassCheck::kNotAdmitted);
  Keep(room_->UsePass(TicketId(a), "reservation-1", now));
  Commit();
  EXPECT_EQ(room_->CheckPass(pass, User(a), now), PassCheck::kUsed);
  EXPECT_EQ(View(a, state).status, TicketStatus::kUsed);
}

TEST_F(RoomTest, RollbackLeavesTheRoomAsItWas) {
  for (int i = 1; i <= 4; ++i) Join(i);
  clock_.Set(kStart);
  const SaleState state = Started(2);
  // One batch: draw, admit two, use one, a late join; then the commit fails.
  auto mutations = room_->Tick(clock_.Now(), state, rng_);
  const auto admitted = Admitted(mutations);
  ASSERT_EQ(admitted.size(), 2u);
  const int a = std::stoi(admitted[0].substr(7));
  room_->UsePass(TicketId(a), "r1", clock_.Now());
  room_->Join(User(5), TicketId(5), clock_.Now());
  Rollback();
  const WaitingRoomStats stats = room_->Stats();
  EXPECT_FALSE(stats.drawn);
  EXPECT_EQ(stats.admitted_total, 0);
  EXPECT_EQ(stats.live_passes, 0);
  EXPECT_EQ(stats.used_total, 0);
  EXPECT_EQ(stats.waiting, 4);
  EXPECT_EQ(room_->ticket_count(), 4u);
  EXPECT_FALSE(room_->Find(TicketId(5), User(5), clock_.Now(), state).has_value());
  EXPECT_FALSE(View(a, state).position.has_value());
  // And the room goes on normally afterwards.
  EXPECT_EQ(Admitted(Tick(state)).size(), 2u);
}

TEST_F(RoomTest, StoredMutationsRebuildTheSameRoom) {
  policy_ = Policy(3, 10);
  Reset();
  for (int i = 1; i <= 8; ++i) Join(i);
  clock_.Set(kStart);
  const SaleState state = Started(100);
  const auto admitted = Admitted(Tick(state));
  ASSERT_EQ(admitted.size(), 3u);
  Keep(room_->UsePass(admitted[0], "r1", clock_.Now()));
  Commit();
  Join(9);
  Join(10);
  clock_.Advance(seconds(11));  // the two unused passes expire

  WaitingRoom rebuilt(stored_, policy_, journal_);
  for (const auto& [seq, row] : rows_) rebuilt.LoadTicket(row);
  ASSERT_EQ(rebuilt.FinishLoad(clock_.Now()), "");
  for (int i = 1; i <= 10; ++i) {
    const auto before = room_->Find(TicketId(i), User(i), clock_.Now(), state);
    const auto after = rebuilt.Find(TicketId(i), User(i), clock_.Now(), state);
    ASSERT_TRUE(before && after);
    EXPECT_EQ(before->status, after->status) << i;
    EXPECT_EQ(before->position, after->position) << i;
  }
  EXPECT_EQ(rebuilt.Stats().used_total, 1);
  EXPECT_EQ(rebuilt.Stats().expired_total, 2);
  EXPECT_EQ(rebuilt.Stats().admitted_total, 3);
}

TEST_F(RoomTest, RecoveryRefusesAdmissionsOutOfQueueOrder) {
  for (int i = 1; i <= 3; ++i) Join(i);
  clock_.Set(kStart);
  Tick(Started(0));  // drawn, nobody admitted (no stock)
  const auto order = DrawOrder(*stored_.draw_seed, 3);
  rows_[order[2]].admitted_at = clock_.Now();  // the last in the queue, as a damaged file
  rows_[order[2]].pass_expires_at = clock_.Now() + seconds(30);
  WaitingRoom rebuilt(stored_, policy_, journal_);
  for (const auto& [seq, row] : rows_) rebuilt.LoadTicket(row);
  EXPECT_NE(rebuilt.FinishLoad(clock_.Now()), "");
}

// 250,000 tickets (a million behaves the same; this keeps the suite fast): joins, the draw
// and admissions are O(1) each (O(n) once for the draw) and a status query reads the position
// without a scan. Wall-clock speed is not asserted; a linear scan per query would make the
// 2,500 queries below take as long as 600 million ticket visits.
TEST_F(RoomTest, ALargeRoomAnswersPositionsDirectly) {
  constexpr int kTickets = 250'000;
  for (int i = 1; i <= kTickets; ++i) {
    room_->Join(User(i), TicketId(i), clock_.Now());
    if (i % 4096 == 0) Commit();
  }
  Commit();
  clock_.Set(kStart);
  const SaleState state = Started(kTickets);
  room_->Tick(clock_.Now(), state, rng_);
  Commit();
  EXPECT_EQ(room_->Stats().admitted_total, 1000);
  std::int64_t positions_seen = 0;
  for (int i = 1; i <= kTickets; i += 100) {
    const auto view = room_->Find(TicketId(i), User(i), clock_.Now(), state);
    ASSERT_TRUE(view.has_value());
    if (view->position) {
      EXPECT_GE(*view->position, 1);
      EXPECT_LE(*view->position, kTickets - 1000);
      ++positions_seen;
    }
  }
  EXPECT_GT(positions_seen, 2400);
  EXPECT_EQ(room_->Stats().waiting, kTickets - 1000);
}

// --- Rooms in a Ledger: the reserve rule ---------------------------------------------------

class RoomsInLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_.EnableAudit(
        [](std::string_view bytes) { return std::string(64, bytes.empty() ? '0' : 'a'); },
        AuditHead{});
    Batch([&] {
      Sale sale;
      sale.sku_id = "room";
      sale.name = "Room sale";
      sale.currency = "EUR";
      sale.total_stock = 5;
      sale.starts_at = kStart;
      sale.waiting_room = WaitingRoomMode::kOn;
      ASSERT_EQ(inventory_.CreateSale(sale, now_).outcome, CreateSaleOutcome::kCreated);
      ASSERT_TRUE(inventory_.HasRoom("room"));
      sale.sku_id = "plain";
      sale.waiting_room = WaitingRoomMode::kOff;
      sale.starts_at.reset();
      ASSERT_EQ(inventory_.CreateSale(sale, now_).outcome, CreateSaleOutcome::kCreated);
    });
  }
  template <typename F>
  void Batch(F f) {
    inventory_.BeginBatch();
    f();
    last_mutations_ = inventory_.mutations();
    inventory_.CommitBatch();
  }
  // Reserves as the engine's command does: a keyed reserve that was granted stores its reply.
  ReserveResult Reserve(const std::string& sku, const std::string& user, const PresentedPass& pass,
                        const std::string& key = "") {
    ReserveResult result;
    Batch([&] {
      const ReserveCommand command{sku, user, 1, key};
      result = inventory_.Reserve(command, pass, "res-" + std::to_string(++ids_), now_);
      if (result.outcome == ReserveOutcome::kReserved && !key.empty())
        inventory_.StoreReply(command, StoredReply{201, result.reservation->reservation_id}, now_);
    });
    return result;
  }
  template <typename T>
  int Count() const {
    int n = 0;
    for (const auto& m : last_mutations_) n += std::holds_alternative<T>(m);
    return n;
  }

  Ledger inventory_{Policy(100)};
  base::Rng rng_{1};
  Time now_ = kStart - seconds(30);
  Mutations last_mutations_;
  int ids_ = 0;
};

TEST_F(RoomsInLedgerTest, ReserveNeedsAValidPassAndUsesItInTheSameBatch) {
  JoinResult joined;
  Batch([&] { joined = inventory_.JoinQueue("room", "alice", "t-alice", now_); });
  ASSERT_EQ(joined.outcome, JoinOutcome::kJoined);
  EXPECT_EQ(Count<QueueTicketIssued>(), 1);
  Batch([&] {
    EXPECT_EQ(inventory_.JoinQueue("room", "alice", "t-other", now_).outcome,
              JoinOutcome::kAlreadyJoined);
  });
  EXPECT_TRUE(last_mutations_.empty());

  now_ = kStart;
  Batch([&] { inventory_.TickRooms(now_, rng_); });
  EXPECT_EQ(Count<WaitingRoomDrawn>(), 1);
  EXPECT_EQ(Count<QueueTicketAdmitted>(), 1);
  const auto view = inventory_.FindTicket("room", "t-alice", "alice", now_);
  ASSERT_TRUE(view.has_value());
  ASSERT_EQ(view->status, TicketStatus::kAdmitted);

  // No pass: refused and audited as a FAILED reserve attempt.
  auto refused = Reserve("room", "alice", PresentedPass{});
  EXPECT_EQ(refused.outcome, ReserveOutcome::kQueuePassRequired);
  ASSERT_EQ(Count<AuditAppended>(), 1);
  for (const auto& m : last_mutations_) {
    if (const auto* audit = std::get_if<AuditAppended>(&m)) {
      EXPECT_EQ(audit->event.outcome, AuditOutcome::kFailed);
      EXPECT_EQ(audit->event.failure_reason, "QUEUE_PASS_REQUIRED");
    }
  }
  // Another user presenting alice's pass.
  EXPECT_EQ(Reserve("room", "bob", PassFor(*view)).outcome, ReserveOutcome::kQueuePassInvalid);

  auto granted = Reserve("room", "alice", PassFor(*view), "key-1");
  ASSERT_EQ(granted.outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Count<ReservationCreated>(), 1);
  EXPECT_EQ(Count<QueuePassUsed>(), 1);  // atomic with the reservation: the same batch

  // The same request again is an idempotent replay, not a reuse of the pass.
  EXPECT_EQ(Reserve("room", "alice", PassFor(*view), "key-1").outcome, ReserveOutcome::kReplayed);
  // A new request with the used pass is refused.
  auto reused = Reserve("room", "alice", PassFor(*view), "key-2");
  EXPECT_EQ(reused.outcome, ReserveOutcome::kQueuePassInvalid);
  int used_pass_refusals = 0;
  for (const auto& m : last_mutations_) {
    if (const auto* audit = std::get_if<AuditAppended>(&m)) {
      used_pass_refusals += audit->event.metadata.find(R"("detail":"used")") != std::string::npos;
    }
  }
  EXPECT_EQ(used_pass_refusals, 1);  // refused because the pass was used (PassCheck::kUsed)
  EXPECT_EQ(inventory_.FindSale("room")->counters.held, 1);
}

TEST_F(RoomsInLedgerTest, SalesWithoutARoomAreUnaffected) {
  EXPECT_EQ(Reserve("plain", "carol", PresentedPass{}).outcome, ReserveOutcome::kReserved);
  EXPECT_EQ(Count<QueuePassUsed>(), 0);
  Batch([&] {
    EXPECT_EQ(inventory_.JoinQueue("plain", "carol", "t", now_).outcome,
              JoinOutcome::kNoWaitingRoom);
  });
  Batch([&] {
    EXPECT_EQ(inventory_.JoinQueue("nope", "carol", "t", now_).outcome, JoinOutcome::kSkuNotFound);
  });
}

TEST_F(RoomsInLedgerTest, JoinsOpenWithThePreQueueWindow) {
  now_ = kStart - seconds(601);
  Batch([&] {
    EXPECT_EQ(inventory_.JoinQueue("room", "dan", "t-dan", now_).outcome, JoinOutcome::kNotOpenYet);
  });
  now_ = kStart - seconds(600);
  Batch([&] {
    EXPECT_EQ(inventory_.JoinQueue("room", "dan", "t-dan", now_).outcome, JoinOutcome::kJoined);
  });
}

TEST_F(RoomsInLedgerTest, RollbackForgetsARoomCreatedInTheBatch) {
  Sale sale;
  sale.sku_id = "later";
  sale.name = "Later sale";
  sale.currency = "EUR";
  sale.total_stock = 5;
  sale.starts_at = kStart;
  sale.waiting_room = WaitingRoomMode::kOn;
  inventory_.BeginBatch();
  ASSERT_EQ(inventory_.CreateSale(sale, now_).outcome, CreateSaleOutcome::kCreated);
  EXPECT_TRUE(inventory_.HasRoom("later"));
  inventory_.RollbackBatch();
  EXPECT_FALSE(inventory_.HasRoom("later"));
  EXPECT_TRUE(inventory_.HasRoom("room"));
}

TEST(SuggestedPollDelayTest, HalfTheWaitWithinBoundsAndNoneWhenNothingIsAwaited) {
  TicketView view;
  view.status = TicketStatus::kWaiting;
  view.estimated_wait_seconds = 10;
  EXPECT_EQ(SuggestedPollDelay(view), milliseconds(5000));
  view.estimated_wait_seconds = 0;
  EXPECT_EQ(SuggestedPollDelay(view), kPollAfterMin);
  view.estimated_wait_seconds = 3600;
  EXPECT_EQ(SuggestedPollDelay(view), kPollAfterMax);
  view.status = TicketStatus::kSoldOut;
  EXPECT_EQ(SuggestedPollDelay(view), kPollAfterSoldOut);
  for (TicketStatus over : {TicketStatus::kAdmitted, TicketStatus::kExpired, TicketStatus::kUsed,
                            TicketStatus::kClosed}) {
    view.status = over;
    EXPECT_FALSE(SuggestedPollDelay(view).has_value());
  }
}

}  // namespace
}  // namespace fs::core
