// The query string of GET /api/v1/products (catalog.h) as a CatalogQuery: every bad value is
// an error naming its parameter (answered 400 INVALID_REQUEST); unknown parameters are
// ignored.
// Thread-safety: pure function (reads the catalog's cursor key only).
#pragma once

#include <string_view>

#include "base/status.h"
#include "http/catalog.h"

namespace fs::http {

base::Result<CatalogQuery> ParseCatalogQuery(std::string_view target, const Catalog& catalog);

}  // namespace fs::http
