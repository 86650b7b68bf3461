// Catalog: the list and search of sales behind GET /api/v1/products, served from memory.
// It keeps every published sale (engine::PublishedSale) and a sorted word index (folded word,
// sale, field weight) over each sale's name, category, tags and description, and answers a query by
// prefix lookups in that index, then filters and sorts the matching sales by their live status.
// Never a store query, never the writer: the engine only tells it which SKUs it published
// (MarkChanged, on the writer thread, an append), and the first search after that re-reads those
// SKUs' snapshots (Refresh), re-indexing words only when a sale's text changed.
//
// Pages use keyset cursors: a cursor holds the sort key of the last item returned, signed
// (HMAC-SHA256 under a key every node derives from the same secret, so any node takes any
// node's cursor); the next page is the items after that key. Walking an unchanged catalog
// returns every match exactly once, and a sale whose key did not change is never repeated
// while the catalog changes.
//
// Thread-safety: MarkChanged and Search may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/thread_annotations.h"
#include "core/types.h"
#include "crypto/sha256.h"
#include "engine/engine.h"

namespace fs::http {

enum class CatalogSort : std::uint8_t { kRelevance, kStartsAt, kPrice, kPriceDescending };

// Where a sale sorts: (a, b, c, sku_id) ascending, the meaning of a, b and c by sort.
struct CatalogKey {
  CatalogSort sort = CatalogSort::kStartsAt;
  std::int64_t a = 0;
  std::int64_t b = 0;
  std::int64_t c = 0;
  std::string sku_id;
  bool operator<(const CatalogKey& other) const;
};

inline constexpr int kCatalogPageDefault = 20;
inline constexpr int kCatalogPageMax = 100;
inline constexpr std::size_t kCatalogQueryBytesMax = 128;

struct CatalogQuery {
  std::vector<std::string> words;          // folded (base::FoldedWords); empty: no search
  std::vector<core::SaleStatus> statuses;  // empty: SCHEDULED, OPEN, SOLD_OUT
  std::optional<std::int64_t> min_price_cents;
  std::optional<std::int64_t> max_price_cents;
  std::optional<base::Time> starts_after;   // starts_at > this
  std::optional<base::Time> starts_before;  // starts_at < this
  std::optional<std::string> category;      // folded (base::FoldedText): exact match
  std::vector<std::string> tags;            // each must be among the sale's tags
  CatalogSort sort = CatalogSort::kStartsAt;
  int limit = kCatalogPageDefault;
  std::optional<CatalogKey> after;  // from the cursor: only items after this key
};

struct CatalogPage {
  std::vector<std::shared_ptr<const engine::PublishedSale>> items;
  std::optional<CatalogKey> next;  // the last item's key when more may follow
};

class Catalog {
 public:
  // `cursor_secret` signs cursors (nodes sharing it take each other's cursors).
  explicit Catalog(std::string_view cursor_secret);

  // The SKUs the engine just published (engine::Options::on_published). Writer thread: only
  // appends to a list.
  void MarkChanged(const std::vector<std::string>& sku_ids);

  // The page of `engine`'s sales matching `query` as of now (the first call indexes every
  // published sale; later ones re-read what was marked changed).
  CatalogPage Search(const engine::Engine& engine, const CatalogQuery& query);

  std::string EncodeCursor(const CatalogKey& key) const;
  // nullopt when `cursor` was not issued by a node with this secret.
  std::optional<CatalogKey> DecodeCursor(std::string_view cursor) const;

  // The catalog's version: it changes whenever a search could answer differently from the
  // same data (a sale added or republished). Re-reads what was marked changed first.
  std::uint64_t Generation(const engine::Engine& engine);

  // For the benchmark: postings in the word index.
  std::size_t word_count();

 private:
  // One sale: its snapshot and its words by field.
  struct Entry {
    std::shared_ptr<const engine::PublishedSale> published;
    std::string folded_category;  // for the category filter
  };
  // (word, entry index, field weight), sorted by word.
  struct Posting {
    std::string word;
    std::uint32_t entry = 0;
    std::uint8_t weight = 0;
  };

  void Refresh(const engine::Engine& engine);
  void RebuildWords();

  const crypto::HmacSha256Key cursor_key_;

  base::Mutex changed_mutex_;
  // SKUs published since the last refresh, each once: bounded by the number of sales however
  // many batches publish while nobody searches.
  std::unordered_set<std::string> changed_ GUARDED_BY(changed_mutex_);
  std::atomic<bool> has_changes_{true};  // the first search loads every sale

  std::shared_mutex index_mutex_;  // entries_, by_sku_, postings_
  std::atomic<std::uint64_t> generation_{0};
  bool loaded_ = false;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::uint32_t> by_sku_;
  std::vector<Posting> postings_;
  // Every entry by the sorts that do not depend on the query: a list page walks one of them
  // from the cursor and stops after a page (starts_at and price never change after creation).
  std::vector<std::uint32_t> by_starts_;
  std::vector<std::uint32_t> by_price_;
};

// Rendered list pages by request target, each valid for one catalog generation and at most
// kCatalogPageCacheTtl (a sale's status also moves with the clock: a start or an end shows
// within that bound, as the answers' own Cache-Control allows clients). The design's reads are
// absorbed by memory: a page many buyers ask for is rendered once per change of the catalog.
// Bounded: at most kCatalogPageCacheMax pages; a full cache starts over.
inline constexpr std::chrono::milliseconds kCatalogPageCacheTtl{100};
inline constexpr std::size_t kCatalogPageCacheMax = 4096;

class CatalogPageCache {
 public:
  struct Page {
    std::string body;
    std::string etag;
  };
  std::shared_ptr<const Page> Find(const std::string& target, std::uint64_t generation,
                                   base::Time now);
  void Put(const std::string& target, std::uint64_t generation, base::Time now,
           std::shared_ptr<const Page> page);

 private:
  struct Entry {
    std::uint64_t generation = 0;
    base::Time rendered_at{};
    std::shared_ptr<const Page> page;
  };
  base::Mutex mutex_;
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mutex_);
};

}  // namespace fs::http
