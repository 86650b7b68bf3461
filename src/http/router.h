// Router: maps (method, path) to a route id and its path parameters. Paths are templates of
// literal segments and `{name}` parameters matching one non-empty segment. A path that matches
// a template but not its method yields kMethodNotAllowed with the Allow list (405); anything
// else kNotFound (404). The query string is ignored.
// Thread-safety: build with Add() on one thread; Match() is const and safe from any thread
// afterwards.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/exchange.h"

namespace fs::http {

inline constexpr std::size_t kPathParamsMax = 2;

struct RouteMatch {
  enum class Kind : std::uint8_t { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  int route_id = -1;               // kFound: the id given to Add()
  std::size_t template_index = 0;  // kFound / kMethodNotAllowed: which path template
  std::array<std::string_view, kPathParamsMax> params{};  // views into the matched path
  std::size_t param_count = 0;
  std::string allow;  // kMethodNotAllowed: "GET, DELETE"
};

class Router {
 public:
  // REQUIRES: `path_template` starts with '/', has at most kPathParamsMax parameters, and the
  // (method, template) pair was not added before.
  void Add(Method method, std::string_view path_template, int route_id);

  RouteMatch Match(Method method, std::string_view target) const;

  // Distinct templates in the order first added; RouteMatch::template_index indexes this.
  std::vector<std::string> Templates() const;

 private:
  struct Segment {
    std::string literal;  // empty for a parameter
    bool is_parameter = false;
  };
  struct PathEntry {
    std::string path_template;
    std::vector<Segment> segments;
    std::vector<std::pair<Method, int>> methods;
  };

  struct Captures {
    std::array<std::string_view, kPathParamsMax> params{};
    std::size_t count = 0;
  };

  static std::vector<Segment> Split(std::string_view path_template);
  // The parameters when `path` fits the entry's template.
  static std::optional<Captures> MatchSegments(const PathEntry& entry, std::string_view path);

  std::vector<PathEntry> entries_;
};

// `match` with its parameters viewing `copy` instead of `matched_target`, the target it was
// matched in: for a request copied to outlive the buffer it arrived in, so that its route
// need not be matched again. REQUIRES: `copy` holds the same text as `matched_target`.
RouteMatch RebaseMatch(const RouteMatch& match, std::string_view matched_target,
                       std::string_view copy);

}  // namespace fs::http
