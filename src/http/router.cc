#include "http/router.h"

#include <functional>

#include "base/check.h"

namespace fs::http {
namespace {

// The path without its query string.
std::string_view PathOf(std::string_view target) {
  const std::size_t query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

}  // namespace

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kPatch:
      return "PATCH";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      return "OTHER";
  }
  return "OTHER";
}

std::vector<Router::Segment> Router::Split(std::string_view path_template) {
  FS_CHECK(!path_template.empty());
  FS_CHECK(path_template.front() == '/');
  std::vector<Segment> segments;
  std::size_t start = 1;
  while (start <= path_template.size()) {
    std::size_t end = path_template.find('/', start);
    if (end == std::string_view::npos) end = path_template.size();
    const std::string_view part = path_template.substr(start, end - start);
    const bool parameter = part.size() >= 2 && part.front() == '{' && part.back() == '}';
    segments.push_back({parameter ? std::string() : std::string(part), parameter});
    start = end + 1;
  }
  return segments;
}

void Router::Add(Method method, std::string_view path_template, int route_id) {
  for (PathEntry& entry : entries_) {
    if (entry.path_template != path_template) continue;
    for (const auto& existing : entry.methods) FS_CHECK(existing.first != method);
    entry.methods.emplace_back(method, route_id);
    return;
  }
  PathEntry entry{std::string(path_template), Split(path_template), {{method, route_id}}};
  std::size_t parameters = 0;
  for (const Segment& segment : entry.segments) parameters += segment.is_parameter ? 1 : 0;
  FS_CHECK(parameters <= kPathParamsMax);
  entries_.push_back(std::move(entry));
}

std::optional<Router::Captures> Router::MatchSegments(const PathEntry& entry,
                                                      std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  Captures captures;
  std::size_t start = 1;
  for (const Segment& segment : entry.segments) {
    if (start > path.size()) return std::nullopt;  // the path has fewer segments
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (segment.is_parameter) {
      if (part.empty()) return std::nullopt;
      captures.params[captures.count++] = part;
    } else if (part != segment.literal) {
      return std::nullopt;
    }
    start = end + 1;
  }
  if (start <= path.size()) return std::nullopt;  // the path has more segments
  return captures;
}

RouteMatch Router::Match(Method method, std::string_view target) const {
  const std::string_view path = PathOf(target);
  // A path fitting a template under another method is only 405 if no template takes the
  // method: keep looking after the first method mismatch.
  std::optional<std::size_t> mismatched;
  for (std::size_t index = 0; index < entries_.size(); ++index) {
    const PathEntry& entry = entries_[index];
    const std::optional<Captures> captures = MatchSegments(entry, path);
    if (!captures) continue;
    for (const auto& [entry_method, route_id] : entry.methods) {
      // HEAD is served by the GET route (the server sends its answer without the body).
      const bool head_of_get = method == Method::kHead && entry_method == Method::kGet;
      if (entry_method != method && !head_of_get) continue;
      RouteMatch match;
      match.kind = RouteMatch::Kind::kFound;
      match.route_id = route_id;
      match.template_index = index;
      match.params = captures->params;
      match.param_count = captures->count;
      return match;
    }
    if (!mismatched) mismatched = index;
  }
  RouteMatch match;
  if (!mismatched) return match;
  match.kind = RouteMatch::Kind::kMethodNotAllowed;
  match.template_index = *mismatched;
  for (const auto& entry_method : entries_[*mismatched].methods) {
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += MethodName(entry_method.first);
    if (entry_method.first == Method::kGet) match.allow += ", HEAD";
  }
  return match;
}

std::vector<std::string> Router::Templates() const {
  std::vector<std::string> templates;
  templates.reserve(entries_.size());
  for (const PathEntry& entry : entries_) templates.push_back(entry.path_template);
  return templates;
}

RouteMatch RebaseMatch(const RouteMatch& match, std::string_view matched_target,
                       std::string_view copy) {
  FS_CHECK(copy.size() == matched_target.size());
  RouteMatch rebased = match;
  // Pointers into different buffers: compared through std::less_equal, which orders them.
  const std::less_equal<const char*> not_after;
  const char* const begin = matched_target.data();
  for (std::size_t index = 0; index < match.param_count; ++index) {
    const std::string_view param = match.params[index];
    FS_CHECK(not_after(begin, param.data()));
    FS_CHECK(not_after(param.data() + param.size(), begin + matched_target.size()));
    const auto offset = static_cast<std::size_t>(param.data() - begin);
    rebased.params[index] = copy.substr(offset, param.size());
  }
  return rebased;
}

}  // namespace fs::http
