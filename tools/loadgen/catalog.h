// The search scenario's catalog and queries, generated from a fixed seed so every run offers
// the same work: `count` sales (1 % OPEN, 9 % SCHEDULED, the rest SOLD_OUT or CLOSED) with
// names, descriptions, categories and tags drawn from small vocabularies (some accented), and
// a cycle of realistic GET /api/v1/products targets: list pages, one and two words, prefixes,
// accents, and filters.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace fs::loadgen {

// The POST /admin/v1/skus body of catalog sale `index` (sku "cat-<index>"). Times are
// relative to `now_ms` (Unix milliseconds): scheduled sales start 1-30 days later, closed ones
// ended an hour before.
std::string CatalogSaleBody(std::uint64_t index, std::uint64_t count, std::int64_t now_ms);

// The target of search job `index`.
std::string SearchTarget(std::uint64_t index);

}  // namespace fs::loadgen
