// Reading a request Beast parsed: its method as ours and its header values, shared by the
// server (server.cc) and the in-process HTTP fuzz target, which must see requests exactly as
// the server does.
// Thread-safety: pure functions; the views point into `message` (or `storage`).
#pragma once

#include <boost/beast/http.hpp>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "http/exchange.h"

namespace fs::http {

inline Method ToMethod(boost::beast::http::verb method) {
  using boost::beast::http::verb;
  switch (method) {
    case verb::get:
      return Method::kGet;
    case verb::head:
      return Method::kHead;
    case verb::post:
      return Method::kPost;
    case verb::put:
      return Method::kPut;
    case verb::delete_:
      return Method::kDelete;
    case verb::patch:
      return Method::kPatch;
    case verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

inline std::optional<std::string_view> HeaderValue(
    const boost::beast::http::request<boost::beast::http::string_body>& message,
    std::string_view name) {
  const auto field = message.find(name);
  if (field == message.end()) return std::nullopt;
  return field->value();
}

// Every field line of `name` combined in order into one comma-separated value (RFC 9110
// 5.3): a proxy that appends its own X-Forwarded-For line must not leave the client's line
// to be believed alone. One line is returned as it is; several are joined into `storage`.
inline std::optional<std::string_view> CombinedHeaderValue(
    const boost::beast::http::request<boost::beast::http::string_body>& message,
    std::string_view name, std::string& storage) {
  const auto [first, last] = message.equal_range(name);
  if (first == last) return std::nullopt;
  if (std::next(first) == last) return first->value();
  storage.clear();
  for (auto field = first; field != last; ++field) {
    if (!storage.empty()) storage += ", ";
    storage += field->value();
  }
  return std::string_view(storage);
}

}  // namespace fs::http
