#include "web/web_assets.h"

#include <algorithm>
#include <array>
#include <utility>

#include "web/embedded_files.h"

namespace fs::web {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kMediaTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
}};

std::string_view MediaTypeOf(std::string_view path) {
  for (const auto& [suffix, type] : kMediaTypes) {
    if (path.size() > suffix.size() && path.ends_with(suffix)) return type;
  }
  return {};
}

}  // namespace

std::optional<WebAsset> FindWebAsset(std::string_view path) {
  const std::string_view type = MediaTypeOf(path);
  if (type.empty()) return std::nullopt;
  const auto files = EmbeddedFiles();
  const auto found = std::lower_bound(
      files.begin(), files.end(), path,
      [](const EmbeddedFile& file, std::string_view wanted) { return file.path < wanted; });
  if (found == files.end() || found->path != path) return std::nullopt;
  return WebAsset{found->bytes, type, "\"" + std::string(found->sha256.substr(0, 16)) + "\""};
}

}  // namespace fs::web
