// Microbenchmarks (Google Benchmark) of the hot path's parts, each alone and in memory:
//   - engine decisions: core::Ledger reserve (granted, committed in batches of 256) and
//     reserve refused because sold out (the path every late request takes);
//   - the hand-off from I/O threads to the writer through the engine's inbox, with a store
//     that does nothing (no SQLite), so only queueing, deciding and the callback are measured;
//   - JSON decode of a reserve body and encode of the reservation and availability answers
//     (the http module's own functions), and HS256 JWT verification;
//   - the audit hash: SHA-256 of a ~200-byte canonical event (OpenSSL EVP);
//   - the catalog over 10,000 sales: a search, a list page, and the update after a published
//     snapshot (counters only, or a sale's text);
//   - the fair waiting room with 1,000,000 tickets: a join, a status query (position), and
//     an admission, each O(1) whatever the room's size.
// Usage: flashsale-micro-bench [--benchmark_min_time=0.5] [--benchmark_format=json]
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/jwt.h"
#include "base/clock.h"
#include "base/text_fold.h"
#include "base/time_format.h"
#include "core/ledger.h"
#include "core/waiting_room.h"
#include "crypto/sha256.h"
#include "engine/engine.h"
#include "http/catalog.h"
#include "http/json_render.h"
#include "http/request_parsing.h"

namespace fs {
namespace {

core::Sale BenchSale(std::int64_t stock) {
  core::Sale sale;
  sale.sku_id = "bench";
  sale.name = "bench";
  sale.currency = "USD";
  sale.price_cents = 100;
  sale.total_stock = stock;
  sale.per_user_limit = 1;
  return sale;
}

// Granted reserves: distinct users and ids, 256 per committed batch, as the writer does.
// Argument 1: with audit events (chained and hashed as the writer does), 0: without.
void BM_InventoryReserveGranted(benchmark::State& state) {
  core::Ledger inventory;
  if (state.range(0) == 1) inventory.EnableAudit(&crypto::Sha256Hex, core::AuditHead{});
  const base::Time now{std::chrono::milliseconds(1'700'000'000'000)};
  inventory.BeginBatch();
  (void)inventory.CreateSale(BenchSale(1'000'000'000), now);
  inventory.CommitBatch();
  std::uint64_t n = 0;
  inventory.BeginBatch();
  for (auto _ : state) {
    const std::string id = std::to_string(n++);
    core::ReserveCommand command{"bench", "u" + id, 1, ""};
    benchmark::DoNotOptimize(inventory.Reserve(command, {}, "r" + id, now));
    if (n % 256 == 0) {
      inventory.CommitBatch();
      inventory.BeginBatch();
    }
  }
  inventory.CommitBatch();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
// Bounded: every granted reserve stays in memory.
BENCHMARK(BM_InventoryReserveGranted)->Arg(0)->Arg(1)->Iterations(1'000'000);

void BM_InventoryReserveSoldOut(benchmark::State& state) {
  core::Ledger inventory;
  const base::Time now{std::chrono::milliseconds(1'700'000'000'000)};
  inventory.BeginBatch();
  (void)inventory.CreateSale(BenchSale(1), now);
  (void)inventory.Reserve({"bench", "first", 1, ""}, {}, "r-first", now);
  inventory.CommitBatch();
  const core::ReserveCommand command{"bench", "late-user", 1, ""};
  inventory.BeginBatch();
  for (auto _ : state) {
    benchmark::DoNotOptimize(inventory.Reserve(command, {}, "r-late", now));
  }
  inventory.CommitBatch();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_InventoryReserveSoldOut);

// A store that keeps nothing: the engine's own costs without SQLite.
class NullStore : public store::Store {
 public:
  base::Result<store::LoadedState> Load(base::Time) override { return store::LoadedState{}; }
  base::Status Commit(const core::Mutations&) override { return base::Status::Ok(); }
  base::Result<std::vector<store::StoredCounters>> ReadCounters() override {
    return std::vector<store::StoredCounters>{};
  }
};

// Commands handed from the calling (I/O) thread to the writer and completed back: a lookup
// of an unknown reservation, so the writer decides nothing and commits nothing. At most
// kInFlightMax commands outstanding per producer, so the bounded inbox never rejects.
void BM_EngineInboxHandoff(benchmark::State& state) {
  static base::SystemClock clock;
  static std::unique_ptr<engine::Engine> engine = [] {
    auto opened = engine::Engine::Open(engine::Options{}, std::make_unique<NullStore>(), clock);
    return std::move(opened).value();
  }();
  constexpr std::int64_t kInFlightMax = 4096;
  std::atomic<std::int64_t> outstanding{0};
  const std::string reservation_id = "00000000-0000-0000-0000-000000000000";
  const std::string user_id = "handoff-user";
  for (auto _ : state) {
    while (outstanding.load(std::memory_order_relaxed) >= kInFlightMax) std::this_thread::yield();
    outstanding.fetch_add(1, std::memory_order_relaxed);
    engine->Submit(engine::GetReservation{reservation_id, user_id},
                   [&outstanding](const engine::ReplyOf<engine::GetReservation>&) {
                     outstanding.fetch_sub(1, std::memory_order_release);
                   });
  }
  while (outstanding.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_EngineInboxHandoff)->Threads(1)->Threads(2)->UseRealTime();

// The catalog (GET /api/v1/products) over 10,000 sales in memory, without HTTP: a word-prefix
// search, a default list page, a search that matches nothing (the floor), the same after one
// sale's snapshot was republished (counters only: one pointer swapped), and after one sale's
// text changed (the word index re-sorted; includes the engine's PATCH round trip).
struct CatalogBench {
  base::SystemClock clock;
  http::Catalog catalog{"bench-catalog-secret-0123456789abcdef"};
  std::unique_ptr<engine::Engine> engine;
  CatalogBench() {
    engine::Options options;
    options.on_published = [this](const std::vector<std::string>& skus) {
      catalog.MarkChanged(skus);
    };
    engine = engine::Engine::Open(std::move(options), std::make_unique<NullStore>(), clock).value();
    constexpr int kSales = 10'000;
    const char* nouns[] = {"Sneaker", "Hoodie", "Backpack", "Watch", "Jacket", "Lamp"};
    const char* colors[] = {"Red", "Blue", "Café", "Olive", "Ivory"};
    std::atomic<int> left{kSales};
    for (int i = 0; i < kSales; ++i) {
      core::Sale sale;
      sale.sku_id = "cat-" + std::to_string(i);
      sale.name = std::string(colors[i % 5]) + " " + nouns[(i / 5) % 6] + " " + std::to_string(i);
      sale.price_cents = 100 + i;
      sale.currency = "EUR";
      sale.total_stock = i % 2 == 0 ? 10 : 0;
      sale.details.description = "Made for long days; crafted from recycled materials.";
      sale.details.category = i % 3 == 0 ? "Shoes" : "Clothing";
      sale.details.tags = {"limited", i % 2 == 0 ? "drop" : "classic"};
      engine->Submit(engine::CreateSale{sale},
                     [&left](const engine::ReplyOf<engine::CreateSale>&) { --left; });
    }
    while (left.load() > 0) std::this_thread::yield();
    catalog.Search(*engine, Query(""));  // the first search builds the index
  }
  http::CatalogQuery Query(const std::string& q) const {
    http::CatalogQuery query;
    query.words = base::FoldedWords(q);
    query.sort = q.empty() ? http::CatalogSort::kStartsAt : http::CatalogSort::kRelevance;
    return query;
  }
};

CatalogBench& Catalog() {
  static CatalogBench bench;
  return bench;
}

void BM_CatalogSearchWordPrefix(benchmark::State& state) {
  CatalogBench& bench = Catalog();
  const http::CatalogQuery query = bench.Query("sneak");
  for (auto _ : state) benchmark::DoNotOptimize(bench.catalog.Search(*bench.engine, query));
  state.counters["postings"] = static_cast<double>(bench.catalog.word_count());
}
BENCHMARK(BM_CatalogSearchWordPrefix);

void BM_CatalogListPage(benchmark::State& state) {
  CatalogBench& bench = Catalog();
  const http::CatalogQuery query = bench.Query("");
  for (auto _ : state) benchmark::DoNotOptimize(bench.catalog.Search(*bench.engine, query));
}
BENCHMARK(BM_CatalogListPage);

void BM_CatalogSearchNoMatch(benchmark::State& state) {
  CatalogBench& bench = Catalog();
  const http::CatalogQuery query = bench.Query("zzzz");
  for (auto _ : state) benchmark::DoNotOptimize(bench.catalog.Search(*bench.engine, query));
}
BENCHMARK(BM_CatalogSearchNoMatch);

void BM_CatalogAfterCountersChanged(benchmark::State& state) {
  CatalogBench& bench = Catalog();
  const http::CatalogQuery query = bench.Query("zzzz");
  const std::vector<std::string> changed = {"cat-42"};
  for (auto _ : state) {
    bench.catalog.MarkChanged(changed);
    benchmark::DoNotOptimize(bench.catalog.Search(*bench.engine, query));
  }
}
BENCHMARK(BM_CatalogAfterCountersChanged);

void BM_CatalogAfterTextChanged(benchmark::State& state) {
  CatalogBench& bench = Catalog();
  const http::CatalogQuery query = bench.Query("zzzz");
  int round = 0;
  for (auto _ : state) {
    core::SalePatch patch;
    patch.description = "Edition " + std::to_string(++round);
    std::atomic<bool> done{false};
    bench.engine->Submit(engine::UpdateSale{"cat-42", patch},
                         [&done](const engine::ReplyOf<engine::UpdateSale>&) { done = true; });
    while (!done.load()) std::this_thread::yield();
    benchmark::DoNotOptimize(bench.catalog.Search(*bench.engine, query));
  }
}
BENCHMARK(BM_CatalogAfterTextChanged)->UseRealTime();

void BM_JsonParseReserveBody(benchmark::State& state) {
  const std::string body = R"({"quantity":1,"idempotency_key":"4f9d1c2e-7b1a-4c55-9d1e"})";
  for (auto _ : state) benchmark::DoNotOptimize(http::ParseReserveBody(body));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_JsonParseReserveBody);

void BM_JsonRenderReservation(benchmark::State& state) {
  core::Reservation reservation;
  reservation.reservation_id = "0190f1e2-3c4d-7e5f-8a9b-0c1d2e3f4a5b";
  reservation.sku_id = "demo-sku";
  reservation.user_id = "user-123456";
  reservation.quantity = 1;
  reservation.expires_at = base::Time{std::chrono::milliseconds(1'700'000'120'000)};
  for (auto _ : state) benchmark::DoNotOptimize(http::RenderReservation(reservation));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_JsonRenderReservation);

void BM_JsonRenderAvailability(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(http::RenderAvailability("demo-sku", 9876, core::SaleStatus::kOpen));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_JsonRenderAvailability);

void BM_JwtVerifyHs256(benchmark::State& state) {
  const std::string secret = "bench-secret-0123456789abcdef";
  auth::Claims claims;
  claims.subject = "user-123456";
  claims.expires_at_seconds = 4'000'000'000;
  const std::string token = auth::SignHs256(claims, secret);
  const base::Time now{std::chrono::milliseconds(1'700'000'000'000)};
  for (auto _ : state) benchmark::DoNotOptimize(auth::VerifyHs256(token, secret, now));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_JwtVerifyHs256);

// What the server pays per request: the secret's HMAC pads are prepared once.
void BM_JwtVerifierPrepared(benchmark::State& state) {
  const std::string secret = "bench-secret-0123456789abcdef";
  auth::Claims claims;
  claims.subject = "user-123456";
  claims.expires_at_seconds = 4'000'000'000;
  const std::string token = auth::SignHs256(claims, secret);
  const base::Time now{std::chrono::milliseconds(1'700'000'000'000)};
  const auth::JwtVerifier verifier(secret);
  for (auto _ : state) benchmark::DoNotOptimize(verifier.Verify(token, now));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_JwtVerifierPrepared);

void BM_FormatRfc3339(benchmark::State& state) {
  const base::Time t{std::chrono::milliseconds(1'800'000'000'123)};
  for (auto _ : state) benchmark::DoNotOptimize(base::FormatRfc3339(t));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_FormatRfc3339);

// The audit chain's per-event cost: SHA-256 over ~200 bytes (event + previous hash).
const std::string kAuditHashInput =
    "v1|0190f1e2-3c4d-7e5f-8a9b-0c1d2e3f4a5b|reservation.attempt|user-123456|demo-sku|"
    "SUCCESS||2026-11-24T01:00:00.123Z|203.0.113.7|fp-9a8b7c6d|{\"quantity\":1}|"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// One-shot EVP_Digest: OpenSSL 3 looks the algorithm up and allocates a context per call.
void BM_AuditHashSha256(benchmark::State& state) {
  const std::string& event = kAuditHashInput;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_bytes = 0;
  for (auto _ : state) {
    EVP_Digest(event.data(), event.size(), digest, &digest_bytes, EVP_sha256(), nullptr);
    benchmark::DoNotOptimize(digest);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * event.size()));
}
BENCHMARK(BM_AuditHashSha256);

// The writer's hasher, crypto::Sha256Hex: OpenSSL's SHA-256 without the EVP layer, the digest
// as 64 hex characters.
void BM_AuditHashSha256Hex(benchmark::State& state) {
  for (auto _ : state) {
    std::string hex = crypto::Sha256Hex(kAuditHashInput);
    benchmark::DoNotOptimize(hex);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kAuditHashInput.size()));
}
BENCHMARK(BM_AuditHashSha256Hex);
// A drawn room of 1,000,000 tickets (built once per benchmark, outside the timing).
constexpr int kRoomTickets = 1'000'000;
const core::Time kRoomStart = base::TimeFromMillis(1'800'000'000'000);

// A room and the journal its changes are recorded in, committed every few thousand changes.
struct BenchRoom {
  core::Journal journal;
  std::unique_ptr<core::WaitingRoom> room;
  void Commit() {
    journal.Commit();
    journal.Begin();
  }
};

std::unique_ptr<BenchRoom> MillionTicketRoom(const core::WaitingRoomPolicy& policy) {
  core::WaitingRoomRecord record;
  record.sku_id = "bench";
  auto bench = std::make_unique<BenchRoom>();
  bench->journal.Begin();
  bench->room = std::make_unique<core::WaitingRoom>(record, policy, bench->journal);
  for (int i = 0; i < kRoomTickets; ++i) {
    bench->room->Join("user-" + std::to_string(i), "ticket-" + std::to_string(i), kRoomStart);
    if (i % 4096 == 0) bench->Commit();
  }
  bench->Commit();
  return bench;
}

core::SaleState RoomSaleState(std::int64_t stock) {
  core::SaleState state;
  state.phase = core::SalePhase::kStarted;
  state.counters.total = stock;
  return state;
}

// Late joins into a room that already holds a million tickets.
void BM_WaitingRoomJoin(benchmark::State& state) {
  const core::WaitingRoomPolicy policy;
  auto bench = MillionTicketRoom(policy);
  auto& room = bench->room;
  base::Rng rng(1);
  room->Tick(kRoomStart, RoomSaleState(0), rng);  // drawn, nobody admitted (no stock)
  bench->Commit();
  int next = kRoomTickets;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        room->Join("late-" + std::to_string(next), "late-t-" + std::to_string(next), kRoomStart));
    if (++next % 4096 == 0) bench->Commit();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_WaitingRoomJoin)->Iterations(200'000);

// Status queries (position and estimate) of random tickets in a drawn million-ticket room.
void BM_WaitingRoomStatus(benchmark::State& state) {
  const core::WaitingRoomPolicy policy;
  auto bench = MillionTicketRoom(policy);
  auto& room = bench->room;
  base::Rng rng(2);
  const core::SaleState sale = RoomSaleState(0);
  room->Tick(kRoomStart, sale, rng);
  bench->Commit();
  std::vector<std::pair<std::string, std::string>> asked;
  for (int i = 0; i < 4096; ++i) {
    const auto n = std::to_string(rng.Uniform(kRoomTickets));
    asked.emplace_back("ticket-" + n, "user-" + n);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& [ticket, user] = asked[i++ % asked.size()];
    benchmark::DoNotOptimize(room->Find(ticket, user, kRoomStart, sale));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_WaitingRoomStatus);

// Admissions from the head of a drawn million-ticket room, a second's bucket at a time.
void BM_WaitingRoomAdmit(benchmark::State& state) {
  core::WaitingRoomPolicy policy;
  policy.admit_per_second = 1000;
  auto bench = MillionTicketRoom(policy);
  auto& room = bench->room;
  base::Rng rng(3);
  const core::SaleState sale = RoomSaleState(kRoomTickets);
  core::Time now = kRoomStart;
  std::int64_t admitted = 0;
  for (auto _ : state) {
    admitted += static_cast<std::int64_t>(room->Tick(now, sale, rng).size());
    bench->Commit();
    now += std::chrono::seconds(1);
  }
  state.SetItemsProcessed(admitted);
}
BENCHMARK(BM_WaitingRoomAdmit)->Iterations(500);

}  // namespace
}  // namespace fs

BENCHMARK_MAIN();
