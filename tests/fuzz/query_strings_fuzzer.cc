// Goal: the query strings of the GET routes (the product list and search with its signed
// cursor, the admin audit query, ?wait_seconds of an order read) never crash their parsers,
// every refusal is kInvalidArgument (a 400), and what is accepted is within its documented
// bounds. Round trips: the (name, value) pairs of a query, percent-encoded again, parse back
// into the same pairs; a catalog cursor decodes to the key it was made from.
//
// Input: a request target ("/api/v1/products?q=..."); its bytes also make a cursor key.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "audit/audit_source.h"
#include "base/check.h"
#include "base/status.h"
#include "core/rules.h"
#include "http/admin_parsing.h"
#include "http/catalog.h"
#include "http/catalog_parsing.h"
#include "http/request_parsing.h"
#include "net/http_client.h"

namespace fs::http {
namespace {

template <typename T>
void CheckRefusal(const base::Result<T>& parsed) {
  if (!parsed.has_value()) FS_CHECK(parsed.error().code() == base::StatusCode::kInvalidArgument);
}

void QueryPairs(std::string_view target) {
  const auto pairs = ParseQueryPairs(target);
  CheckRefusal(pairs);
  const auto map = ParseQueryString(target);
  CheckRefusal(map);
  if (!pairs) {
    FS_CHECK(!map.has_value());
    return;
  }
  // encode -> decode -> equal.
  std::string encoded = "/x?";
  for (const auto& [name, value] : *pairs) {
    if (encoded.size() > 3) encoded += '&';
    encoded += net::PercentEncode(name);
    encoded += '=';
    encoded += net::PercentEncode(value);
  }
  const auto again = ParseQueryPairs(encoded);
  FS_CHECK(again.has_value());
  FS_CHECK(*again == *pairs);
  // The map is the pairs when no name repeats.
  if (map) {
    FS_CHECK(map->size() == pairs->size());
    for (const auto& [name, value] : *pairs) FS_CHECK(map->at(name) == value);
  }
}

void AdminAuditQuery(std::string_view target) {
  const auto query = ParseAuditQuery(target);
  CheckRefusal(query);
  if (!query) return;
  FS_CHECK(query->after_id >= 0);
  FS_CHECK(query->limit >= 1);
  FS_CHECK(query->limit <= audit::kAuditPageMax);
}

void ProductsQuery(std::string_view target, const Catalog& catalog) {
  const auto query = ParseCatalogQuery(target, catalog);
  CheckRefusal(query);
  if (!query) return;
  FS_CHECK(query->limit >= 1);
  FS_CHECK(query->limit <= kCatalogPageMax);
}

void WaitSeconds(std::string_view target) {
  const auto wait = ParseWaitSeconds(target);
  CheckRefusal(wait);
  if (!wait) return;
  FS_CHECK(wait->count() >= 0);
  FS_CHECK(wait->count() <= kOrderWaitSecondsMax);
  // Absent means 0; present, QueryParameter finds the very text that was read.
  if (!QueryParameter(target, "wait_seconds")) FS_CHECK(wait->count() == 0);
}

// A key from the input's bytes (any values, any sku text): encode -> decode -> equal; and the
// input itself as a cursor must decode or be refused, never crash.
void Cursor(std::string_view bytes, const Catalog& catalog) {
  (void)catalog.DecodeCursor(bytes);
  CatalogKey key;
  std::int64_t numbers[3] = {0, 0, 0};
  std::memcpy(numbers, bytes.data(), std::min(bytes.size(), sizeof numbers));
  key.sort = static_cast<CatalogSort>(bytes.empty() ? 0 : static_cast<unsigned char>(bytes[0]) % 4);
  key.a = numbers[0];
  key.b = numbers[1];
  key.c = numbers[2];
  // Cursors are made for listed sales only, whose sku ids are valid (core::IsValidSkuId).
  key.sku_id = std::string(bytes.substr(std::min(bytes.size(), sizeof numbers)));
  if (!core::IsValidSkuId(key.sku_id)) key.sku_id = "FUZZ-1";
  const auto decoded = catalog.DecodeCursor(catalog.EncodeCursor(key));
  FS_CHECK(decoded.has_value());
  FS_CHECK(decoded->sort == key.sort);
  FS_CHECK(decoded->a == key.a);
  FS_CHECK(decoded->b == key.b);
  FS_CHECK(decoded->c == key.c);
  FS_CHECK(decoded->sku_id == key.sku_id);
}

}  // namespace
}  // namespace fs::http

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::http;
  static const Catalog catalog("fuzz-cursor-secret");
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  QueryPairs(target);
  AdminAuditQuery(target);
  ProductsQuery(target, catalog);
  WaitSeconds(target);
  Cursor(target, catalog);
  return 0;
}
