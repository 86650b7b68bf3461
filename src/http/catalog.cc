#include "http/catalog.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <mutex>
#include <string_view>
#include <tuple>
#include <utility>

#include "base/text_fold.h"
#include "core/rules.h"

namespace fs::http {
namespace {

// A word in a sale's name outranks one in its category or tags, which outranks one in its
// description.
constexpr std::uint8_t kNameWeight = 4;
constexpr std::uint8_t kLabelWeight = 2;  // category and tags
constexpr std::uint8_t kDescriptionWeight = 1;

// The text the word index is built from: a change of it re-sorts the index.
bool SameText(const core::Sale& a, const core::Sale& b) {
  return a.name == b.name && a.details == b.details;
}

// Ties of the relevance sort: OPEN, SCHEDULED, SOLD_OUT, CLOSED.
std::int64_t StatusRank(core::SaleStatus status) {
  switch (status) {
    case core::SaleStatus::kOpen:
      return 0;
    case core::SaleStatus::kScheduled:
      return 1;
    case core::SaleStatus::kSoldOut:
      return 2;
    case core::SaleStatus::kClosed:
      return 3;
  }
  return 4;
}

// A match's place in the order: (a, b, c, sku) as CatalogKey, without copying the sku (a key
// is made only for the cursor).
struct Place {
  std::int64_t a = 0;
  std::int64_t b = 0;
  std::int64_t c = 0;
  const std::string* sku = nullptr;
  std::uint32_t entry = 0;
};

bool Before(const Place& x, const Place& y) {
  return std::tie(x.a, x.b, x.c, *x.sku) < std::tie(y.a, y.b, y.c, *y.sku);
}

bool After(const Place& place, const CatalogKey& key) {
  return std::tie(key.a, key.b, key.c, key.sku_id) <
         std::tie(place.a, place.b, place.c, *place.sku);
}

Place PlaceOf(CatalogSort sort, std::int64_t score, core::SaleStatus status, const core::Sale& sale,
              std::uint32_t entry) {
  Place place;
  place.sku = &sale.sku_id;
  place.entry = entry;
  const bool has_start = sale.starts_at.has_value();
  const std::int64_t start_ms = has_start ? base::ToMillis(*sale.starts_at) : 0;
  switch (sort) {
    case CatalogSort::kRelevance:
      place.a = -score;
      place.b = StatusRank(status);
      place.c = has_start ? start_ms : INT64_MIN;
      break;
    case CatalogSort::kStartsAt:  // sales without starts_at first
      place.a = has_start ? 1 : 0;
      place.b = start_ms;
      break;
    case CatalogSort::kPrice:
      place.a = sale.price_cents;
      break;
    case CatalogSort::kPriceDescending:
      place.a = -sale.price_cents;
      break;
  }
  return place;
}

bool Contains(const std::vector<core::SaleStatus>& statuses, core::SaleStatus status) {
  return std::find(statuses.begin(), statuses.end(), status) != statuses.end();
}

crypto::Sha256Digest CursorKey(std::string_view secret) {
  return crypto::HmacSha256Key(secret).Sign("flashsale catalog cursor v1");
}

std::string_view DigestView(const crypto::Sha256Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

// The first 16 bytes of the signature, hex: enough that a forged cursor is refused.
std::string Signature(const crypto::HmacSha256Key& key, std::string_view payload) {
  return crypto::ToHex(key.Sign(payload)).substr(0, 32);
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

bool CatalogKey::operator<(const CatalogKey& other) const {
  return std::tie(a, b, c, sku_id) < std::tie(other.a, other.b, other.c, other.sku_id);
}

Catalog::Catalog(std::string_view cursor_secret)
    : cursor_key_(DigestView(CursorKey(cursor_secret))) {}

void Catalog::MarkChanged(const std::vector<std::string>& sku_ids) {
  base::MutexLock lock(changed_mutex_);
  changed_.insert(sku_ids.begin(), sku_ids.end());
  has_changes_.store(true, std::memory_order_release);
}

void Catalog::Refresh(const engine::Engine& engine) {
  std::unordered_set<std::string> changed;
  {
    base::MutexLock lock(changed_mutex_);
    changed.swap(changed_);
    has_changes_.store(false, std::memory_order_release);
  }
  std::unique_lock lock(index_mutex_);
  bool words_changed = false;
  const auto put = [&](std::shared_ptr<const engine::PublishedSale> published) {
    const auto [it, inserted] =
        by_sku_.emplace(published->sale.sku_id, static_cast<std::uint32_t>(entries_.size()));
    if (inserted) {
      std::string category = base::FoldedText(published->sale.details.category);
      entries_.push_back({std::move(published), std::move(category)});
      words_changed = true;
      return;
    }
    Entry& entry = entries_[it->second];
    if (!SameText(entry.published->sale, published->sale)) {
      entry.folded_category = base::FoldedText(published->sale.details.category);
      words_changed = true;
    }
    entry.published = std::move(published);
  };
  if (!loaded_) {
    for (auto& published : engine.AllSales()) put(std::move(published));
    loaded_ = true;
  }
  for (const std::string& sku_id : changed) {
    if (auto published = engine.FindSale(sku_id)) put(std::move(published));
  }
  if (words_changed) RebuildWords();
  generation_.fetch_add(1, std::memory_order_release);
}

std::uint64_t Catalog::Generation(const engine::Engine& engine) {
  if (has_changes_.load(std::memory_order_acquire)) Refresh(engine);
  return generation_.load(std::memory_order_acquire);
}

void Catalog::RebuildWords() {
  postings_.clear();
  for (std::uint32_t i = 0; i < entries_.size(); ++i) {
    const core::Sale& sale = entries_[i].published->sale;
    const auto add = [&](std::string_view text, std::uint8_t weight) {
      for (std::string& word : base::FoldedWords(text)) {
        postings_.push_back({std::move(word), i, weight});
      }
    };
    add(sale.name, kNameWeight);
    add(sale.details.category, kLabelWeight);
    for (const std::string& tag : sale.details.tags) add(tag, kLabelWeight);
    add(sale.details.description, kDescriptionWeight);
  }
  std::sort(postings_.begin(), postings_.end(), [](const Posting& x, const Posting& y) {
    return std::tie(x.word, x.entry, x.weight) < std::tie(y.word, y.entry, y.weight);
  });
  // One posting per (word, sale): the best field.
  const auto last = std::unique(
      postings_.rbegin(), postings_.rend(),
      [](const Posting& x, const Posting& y) { return x.word == y.word && x.entry == y.entry; });
  postings_.erase(postings_.begin(), last.base());
  // The query-independent orders (Place of each sort, sku last).
  const auto order_by = [this](std::vector<std::uint32_t>& order, CatalogSort sort) {
    order.resize(entries_.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [this, sort](std::uint32_t x, std::uint32_t y) {
      const core::Sale& a = entries_[x].published->sale;
      const core::Sale& b = entries_[y].published->sale;
      return Before(PlaceOf(sort, 0, core::SaleStatus::kOpen, a, x),
                    PlaceOf(sort, 0, core::SaleStatus::kOpen, b, y));
    });
  };
  order_by(by_starts_, CatalogSort::kStartsAt);
  order_by(by_price_, CatalogSort::kPrice);
}

CatalogPage Catalog::Search(const engine::Engine& engine, const CatalogQuery& query) {
  if (has_changes_.load(std::memory_order_acquire)) Refresh(engine);
  std::shared_lock lock(index_mutex_);
  const base::Time now = engine.clock().Now();
  const std::size_t n = entries_.size();
  const bool searching = !query.words.empty();
  // Every word of the query must prefix a word of the sale; its best field counts.
  std::vector<std::int32_t> score;
  std::vector<std::uint32_t> hits;
  if (searching) {
    score.assign(n, 0);
    hits.assign(n, 0);
    std::vector<std::uint8_t> best(n, 0);
    std::vector<std::uint32_t> touched;
    for (std::uint32_t w = 0; w < query.words.size(); ++w) {
      const std::string& word = query.words[w];
      touched.clear();
      auto it = std::lower_bound(
          postings_.begin(), postings_.end(), word,
          [](const Posting& posting, const std::string& value) { return posting.word < value; });
      for (; it != postings_.end() && it->word.starts_with(word); ++it) {
        if (best[it->entry] == 0) touched.push_back(it->entry);
        best[it->entry] = std::max(best[it->entry], it->weight);
      }
      for (const std::uint32_t entry : touched) {
        if (hits[entry] == w) {
          ++hits[entry];
          score[entry] += best[entry];
        }
        best[entry] = 0;
      }
    }
  }
  static const std::vector<core::SaleStatus> kDefaultStatuses = {
      core::SaleStatus::kScheduled, core::SaleStatus::kOpen, core::SaleStatus::kSoldOut};
  const std::vector<core::SaleStatus>& statuses =
      query.statuses.empty() ? kDefaultStatuses : query.statuses;
  // Whether entry i passes the filters; its status through `status_out`.
  const auto passes = [&](std::uint32_t i, core::SaleStatus& status_out) {
    if (searching && hits[i] != query.words.size()) return false;
    const engine::PublishedSale& published = *entries_[i].published;
    const core::Sale& sale = published.sale;
    const core::SaleStatus status = core::ComputeSaleStatus(sale, published.counters, now);
    status_out = status;
    if (!Contains(statuses, status)) return false;
    if (query.min_price_cents && sale.price_cents < *query.min_price_cents) return false;
    if (query.max_price_cents && sale.price_cents > *query.max_price_cents) return false;
    if (query.starts_after && !(sale.starts_at && *sale.starts_at > *query.starts_after)) {
      return false;
    }
    if (query.starts_before && !(sale.starts_at && *sale.starts_at < *query.starts_before)) {
      return false;
    }
    if (query.category && entries_[i].folded_category != *query.category) return false;
    const auto has_tag = [&sale](const std::string& tag) {
      return std::find(sale.details.tags.begin(), sale.details.tags.end(), tag) !=
             sale.details.tags.end();
    };
    return std::all_of(query.tags.begin(), query.tags.end(), has_tag);
  };
  const std::size_t limit = static_cast<std::size_t>(query.limit);
  std::vector<Place> best;
  best.reserve(limit + 1);
  core::SaleStatus status{};
  if (!searching && query.sort != CatalogSort::kRelevance) {
    // A list page: walk the sort's order from the cursor, stop after one more than a page.
    const bool descending = query.sort == CatalogSort::kPriceDescending;
    const std::vector<std::uint32_t>& order =
        query.sort == CatalogSort::kStartsAt ? by_starts_ : by_price_;
    const auto place_of = [&](std::uint32_t i) {
      return PlaceOf(query.sort, 0, core::SaleStatus::kOpen, entries_[i].published->sale, i);
    };
    const auto visit = [&](std::uint32_t i) {
      const Place place = place_of(i);
      if (query.after && !After(place, *query.after)) return true;
      if (passes(i, status)) best.push_back(place);
      return best.size() <= limit;
    };
    if (descending) {
      // -price: the price order backwards, ties (equal price) by sku ascending within.
      for (std::size_t end = order.size(); end > 0 && best.size() <= limit;) {
        std::size_t begin = end - 1;
        const std::int64_t price = entries_[order[begin]].published->sale.price_cents;
        while (begin > 0 && entries_[order[begin - 1]].published->sale.price_cents == price) {
          --begin;
        }
        for (std::size_t k = begin; k < end && visit(order[k]);) ++k;
        end = begin;
      }
    } else {
      for (const std::uint32_t i : order) {
        if (!visit(i)) break;
      }
    }
    std::sort(best.begin(), best.end(), Before);
    if (best.size() > limit + 1) best.resize(limit + 1);
    std::make_heap(best.begin(), best.end(), Before);
  } else {
    // A search (or relevance without words): every match scored, the first ones kept in a
    // max-heap: no list of every match, and one more than a page tells whether one follows.
    for (std::uint32_t i = 0; i < n; ++i) {
      if (!passes(i, status)) continue;
      const Place place =
          PlaceOf(query.sort, searching ? score[i] : 0, status, entries_[i].published->sale, i);
      if (query.after && !After(place, *query.after)) continue;
      if (best.size() <= limit) {
        best.push_back(place);
        std::push_heap(best.begin(), best.end(), Before);
      } else if (Before(place, best.front())) {
        std::pop_heap(best.begin(), best.end(), Before);
        best.back() = place;
        std::push_heap(best.begin(), best.end(), Before);
      }
    }
  }
  std::sort_heap(best.begin(), best.end(), Before);
  CatalogPage page;
  for (std::size_t i = 0; i < std::min(best.size(), limit); ++i) {
    page.items.push_back(entries_[best[i].entry].published);
  }
  if (best.size() > limit) {
    const Place& last = best[limit - 1];
    page.next = CatalogKey{query.sort, last.a, last.b, last.c, *last.sku};
  }
  return page;
}

std::string Catalog::EncodeCursor(const CatalogKey& key) const {
  std::string payload = std::to_string(static_cast<int>(key.sort)) + "~" + std::to_string(key.a) +
                        "~" + std::to_string(key.b) + "~" + std::to_string(key.c) + "~" +
                        key.sku_id;
  return payload + "~" + Signature(cursor_key_, payload);
}

std::optional<CatalogKey> Catalog::DecodeCursor(std::string_view cursor) const {
  const std::size_t last = cursor.rfind('~');
  if (last == std::string_view::npos) return std::nullopt;
  const std::string_view payload = cursor.substr(0, last);
  if (cursor.substr(last + 1) != Signature(cursor_key_, payload)) return std::nullopt;
  std::vector<std::string_view> parts;
  std::string_view rest = payload;
  for (int i = 0; i < 4; ++i) {
    const std::size_t tilde = rest.find('~');
    if (tilde == std::string_view::npos) return std::nullopt;
    parts.push_back(rest.substr(0, tilde));
    rest.remove_prefix(tilde + 1);
  }
  const auto sort = ParseInt(parts[0]);
  const auto a = ParseInt(parts[1]);
  const auto b = ParseInt(parts[2]);
  const auto c = ParseInt(parts[3]);
  if (!sort || !a || !b || !c || *sort < 0 || *sort > 3 || rest.empty()) return std::nullopt;
  CatalogKey key;
  key.sort = static_cast<CatalogSort>(*sort);
  key.a = *a;
  key.b = *b;
  key.c = *c;
  key.sku_id = std::string(rest);
  return key;
}

std::size_t Catalog::word_count() {
  std::shared_lock lock(index_mutex_);
  return postings_.size();
}

std::shared_ptr<const CatalogPageCache::Page> CatalogPageCache::Find(const std::string& target,
                                                                     std::uint64_t generation,
                                                                     base::Time now) {
  base::MutexLock lock(mutex_);
  const auto it = entries_.find(target);
  if (it == entries_.end() || it->second.generation != generation ||
      now - it->second.rendered_at >= kCatalogPageCacheTtl || now < it->second.rendered_at) {
    return nullptr;
  }
  return it->second.page;
}

void CatalogPageCache::Put(const std::string& target, std::uint64_t generation, base::Time now,
                           std::shared_ptr<const Page> page) {
  base::MutexLock lock(mutex_);
  if (entries_.size() >= kCatalogPageCacheMax && entries_.count(target) == 0) entries_.clear();
  entries_[target] = Entry{generation, now, std::move(page)};
}

}  // namespace fs::http
