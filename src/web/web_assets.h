// The web pages as the server answers them: a file of web/ by its path, with its media type
// and an entity tag, ready to become a response.
// Thread-safety: lookups read constant data; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fs::web {

struct WebAsset {
  std::string_view body;
  std::string_view content_type;  // static: "text/html; charset=utf-8", ...
  std::string etag;               // "\"<first 16 hex digits of the SHA-256>\""
};

// The file at `path` (relative to web/, no leading '/'), or nullopt when there is none or its
// media type is not one the server serves. Never resolves "..", "." or empty segments.
std::optional<WebAsset> FindWebAsset(std::string_view path);

}  // namespace fs::web
