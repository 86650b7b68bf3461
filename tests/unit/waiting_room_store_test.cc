// Goal: the SQLite store keeps the waiting room (rooms, tickets, the draw, admissions and pass
// uses) across a reopen so the rebuilt room has the same order and state, and the database's
// own guards refuse a second ticket for a user, a pass used twice or for another user's
// reservation, a second admission and a second draw.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/temp_database_test.h"
#include "core/ledger.h"
#include "core/waiting_room.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::store {
namespace {

using std::chrono::seconds;

class WaitingRoomStoreTest : public test_common::TempDatabaseTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());
    auto store = SqliteStore::Open(path_, {});
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
    ASSERT_TRUE(Batch([&] {
                  core::Sale sale;
                  sale.sku_id = "drop";
                  sale.name = "Drop";
                  sale.currency = "EUR";
                  sale.total_stock = 10;
                  sale.waiting_room = core::WaitingRoomMode::kOn;
                  inventory_.CreateSale(sale, now_);  // and its room
                }).ok());
  }
  void TearDown() override {
    store_.reset();
    TempDatabaseTest::TearDown();
  }
  template <typename Commands>
  base::Status Batch(Commands commands) {
    inventory_.BeginBatch();
    commands();
    const base::Status status = store_->Commit(inventory_.mutations());
    if (status.ok()) {
      inventory_.CommitBatch();
    } else {
      inventory_.RollbackBatch();
    }
    return status;
  }
  // Commits one raw mutation (bypassing the writer's rules, as a bug would).
  base::Status Raw(core::Mutation mutation) {
    core::Mutations mutations;
    mutations.push_back(std::move(mutation));
    return store_->Commit(mutations);
  }
  core::PresentedPass PassOf(const core::TicketView& view) {
    core::PresentedPass pass;
    pass.kind = core::PresentedPass::Kind::kSigned;
    pass.ticket_id = view.ticket.ticket_id;
    pass.user_id = view.ticket.user_id;
    pass.sku_id = view.ticket.sku_id;
    pass.expires_at = *view.ticket.pass_expires_at;
    return pass;
  }

  std::unique_ptr<SqliteStore> store_;
  core::WaitingRoomPolicy policy_{seconds(600), 2, seconds(30)};
  core::Ledger inventory_{policy_};
  base::Rng rng_{5};
  base::Time now_ = base::TimeFromMillis(1'800'000'000'000);
};

TEST_F(WaitingRoomStoreTest, TheRoomSurvivesAReopenAndTheGuardsHold) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Batch([&] {
                  inventory_.JoinQueue("drop", "u" + std::to_string(i), "t" + std::to_string(i),
                                       now_);
                }).ok());
  }
  ASSERT_TRUE(Batch([&] { inventory_.TickRooms(now_, rng_); }).ok());  // draw + admit 2
  std::vector<core::TicketView> admitted;
  for (int i = 0; i < 5; ++i) {
    auto view =
        inventory_.FindTicket("drop", "t" + std::to_string(i), "u" + std::to_string(i), now_);
    ASSERT_TRUE(view.has_value());
    if (view->status == core::TicketStatus::kAdmitted) admitted.push_back(*view);
  }
  ASSERT_EQ(admitted.size(), 2u);
  const core::TicketView& a = admitted[0];
  ASSERT_TRUE(
      Batch([&] {
        auto r = inventory_.Reserve({"drop", a.ticket.user_id, 1, ""}, PassOf(a), "res-1", now_);
        EXPECT_EQ(r.outcome, core::ReserveOutcome::kReserved);
      }).ok());
  ASSERT_TRUE(Batch([&] {
                auto r = inventory_.Reserve({"drop", admitted[1].ticket.user_id, 1, ""},
                                            core::PresentedPass{}, "res-2", now_);
                EXPECT_EQ(r.outcome, core::ReserveOutcome::kQueuePassRequired);
              }).ok());

  // The guards.
  core::QueueTicket duplicate;
  duplicate.ticket_id = "t-dup";
  duplicate.sku_id = "drop";
  duplicate.user_id = "u0";
  duplicate.join_seq = 6;
  duplicate.joined_at = now_;
  EXPECT_EQ(Raw(core::QueueTicketIssued{duplicate}).code(),
            base::StatusCode::kInvalidArgument);  // a unique key: one command's data
  EXPECT_EQ(Raw(core::QueuePassUsed{"drop", a.ticket.ticket_id, "res-1", now_}).code(),
            base::StatusCode::kInternal);  // used twice
  EXPECT_EQ(Raw(core::QueuePassUsed{"drop", admitted[1].ticket.ticket_id, "res-1", now_}).code(),
            base::StatusCode::kInternal);  // another user's reservation
  EXPECT_EQ(
      Raw(core::QueueTicketAdmitted{"drop", a.ticket.ticket_id, now_, now_ + seconds(5)}).code(),
      base::StatusCode::kInternal);  // admitted twice
  EXPECT_EQ(Raw(core::WaitingRoomDrawn{"drop", 1, 5, now_}).code(), base::StatusCode::kInternal);

  // Reopen: the same rooms and tickets come back, and rebuild the same views.
  store_.reset();
  auto reopened = SqliteStore::Open(path_, {});
  ASSERT_TRUE(reopened.has_value());
  auto loaded = (*reopened)->Load(now_);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  ASSERT_EQ(loaded->waiting_rooms.size(), 1u);
  ASSERT_EQ(loaded->queue_tickets.size(), 5u);
  core::Ledger rebuilt(policy_);
  for (const auto& room : loaded->waiting_rooms) rebuilt.LoadRoom(room);
  for (const auto& sale : loaded->sales) rebuilt.LoadSale(sale);
  for (const auto& ticket : loaded->queue_tickets) rebuilt.LoadTicket(ticket);
  ASSERT_EQ(rebuilt.FinishLoad(now_), "");
  for (const auto& reservation : loaded->reservations) rebuilt.LoadReservation(reservation);
  for (int i = 0; i < 5; ++i) {
    const std::string ticket = "t" + std::to_string(i);
    const std::string user = "u" + std::to_string(i);
    const auto before = inventory_.FindTicket("drop", ticket, user, now_);
    const auto after = rebuilt.FindTicket("drop", ticket, user, now_);
    ASSERT_TRUE(before && after);
    EXPECT_EQ(before->status, after->status) << ticket;
    EXPECT_EQ(before->position, after->position) << ticket;
    EXPECT_EQ(before->ticket.pass_expires_at, after->ticket.pass_expires_at) << ticket;
  }
}

}  // namespace
}  // namespace fs::store
