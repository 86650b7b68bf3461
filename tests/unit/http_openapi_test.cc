// Goal: the route table (src/http/route_table.h) and the contract (docs/openapi.yaml) name the
// same operations: the test fails when a method and path is served but not documented, or
// documented but not served. It also checks the table's own rules: each row's template is
// one the router accepts, no (method, path) appears twice, and a rate-limited route needs a
// user. The spec is read from the source tree with a small scan of its `paths:` section (no
// YAML library): a path is a two-space-indented key starting with '/', an operation a
// four-space-indented HTTP method key under it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "http/route_table.h"

namespace fs::http {
namespace {

namespace fsys = std::filesystem;

constexpr std::string_view kSpecPath = "docs/openapi.yaml";

// The source tree: $FLASHSALE_SOURCE_DIR, else the first directory holding docs/openapi.yaml
// above the test binary or the working directory (build directories live inside the tree).
std::optional<fsys::path> SourceTree() {
  if (const char* configured = std::getenv("FLASHSALE_SOURCE_DIR")) return fsys::path(configured);
  std::vector<fsys::path> starts;
  std::error_code error;
  const fsys::path binary = fsys::read_symlink("/proc/self/exe", error);
  if (!error) starts.push_back(binary.parent_path());
  starts.push_back(fsys::current_path(error));
  for (fsys::path directory : starts) {
    for (; !directory.empty(); directory = directory.parent_path()) {
      if (fsys::exists(directory / kSpecPath) && fsys::exists(directory / "src/http")) {
        return directory;
      }
      if (directory == directory.parent_path()) break;
    }
  }
  return std::nullopt;
}

std::string Upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

std::size_t IndentOf(const std::string& line) { return line.find_first_not_of(' '); }

// The key of a `key:` line (nothing after the colon but a comment), else nullopt.
std::optional<std::string> KeyOf(const std::string& line, std::size_t indent) {
  if (line.size() <= indent || IndentOf(line) != indent) return std::nullopt;
  const std::size_t colon = line.find(':', indent);
  if (colon == std::string::npos) return std::nullopt;
  const std::string rest = line.substr(colon + 1);
  const std::size_t after = rest.find_first_not_of(' ');
  if (after != std::string::npos && rest[after] != '#') return std::nullopt;
  std::string key = line.substr(indent, colon - indent);
  if (key.size() >= 2 && (key.front() == '\'' || key.front() == '"')) {
    key = key.substr(1, key.size() - 2);
  }
  return key;
}

// "METHOD /path" for every operation under the spec's `paths:`.
std::set<std::string> SpecOperations(std::istream& spec) {
  static const std::set<std::string> kMethods = {"get",   "put",  "post",   "delete",
                                                 "patch", "head", "options"};
  std::set<std::string> operations;
  bool in_paths = false;
  std::string path;
  for (std::string line; std::getline(spec, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.find_first_not_of(' ') == std::string::npos) continue;
    if (IndentOf(line) == 0) {
      in_paths = line.rfind("paths:", 0) == 0;
      continue;
    }
    if (!in_paths) continue;
    if (auto key = KeyOf(line, 2)) {
      path = key->front() == '/' ? *key : "";
      continue;
    }
    auto key = KeyOf(line, 4);
    if (!key || path.empty() || kMethods.count(*key) == 0) continue;
    operations.insert(Upper(*key) + " " + path);
  }
  return operations;
}

std::set<std::string> TableOperations() {
  std::set<std::string> operations;
  for (const Route& route : Routes()) {
    operations.insert(std::string(MethodName(route.method)) + " " +
                      std::string(route.path_template));
  }
  return operations;
}

std::vector<std::string> Missing(const std::set<std::string>& from,
                                 const std::set<std::string>& in) {
  std::vector<std::string> missing;
  std::set_difference(from.begin(), from.end(), in.begin(), in.end(), std::back_inserter(missing));
  return missing;
}

std::string Lines(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += "  " + item + "\n";
  return text;
}

TEST(HttpOpenApiTest, RouteTableAndSpecNameTheSameOperations) {
  const std::optional<fsys::path> tree = SourceTree();
  ASSERT_TRUE(tree.has_value()) << "cannot find " << kSpecPath
                                << " above the test binary or the working directory; set "
                                   "FLASHSALE_SOURCE_DIR to the source tree";
  std::ifstream spec(*tree / kSpecPath);
  ASSERT_TRUE(spec.is_open()) << (*tree / kSpecPath);
  const std::set<std::string> documented = SpecOperations(spec);
  const std::set<std::string> served = TableOperations();
  ASSERT_GE(documented.size(), 20u) << "the scan of paths: found too little; did the layout "
                                       "of docs/openapi.yaml change?";
  EXPECT_EQ(Missing(served, documented), std::vector<std::string>{})
      << "served (src/http/route_table.cc) but not in docs/openapi.yaml:\n"
      << Lines(Missing(served, documented));
  EXPECT_EQ(Missing(documented, served), std::vector<std::string>{})
      << "in docs/openapi.yaml but not served (src/http/route_table.cc):\n"
      << Lines(Missing(documented, served));
}

TEST(HttpOpenApiTest, SpecScanFindsOperationsAndSkipsEverythingElse) {
  std::istringstream spec(
      "openapi: 3.0.3\n"
      "paths:\n"
      "  /a/{id}:\n"
      "    parameters:\n"
      "      - name: id\n"
      "    get:\n"
      "      responses:\n"
      "        '200':\n"
      "          description: ok\n"
      "    delete:   # a comment\n"
      "      summary: x\n"
      "  '/b':\n"
      "    post:\n"
      "      requestBody:\n"
      "        content:\n"
      "          get:\n"
      "components:\n"
      "  /not-a-path:\n"
      "    get:\n");
  EXPECT_EQ(SpecOperations(spec),
            (std::set<std::string>{"DELETE /a/{id}", "GET /a/{id}", "POST /b"}));
}

TEST(HttpOpenApiTest, RouteRowsAreConsistent) {
  std::set<std::string> seen;
  for (const Route& route : Routes()) {
    const std::string name =
        std::string(MethodName(route.method)) + " " + std::string(route.path_template);
    EXPECT_TRUE(seen.insert(name).second) << "twice in the route table: " << name;
    EXPECT_NE(route.handler, nullptr) << name;
    if (route.rate_limit != RateLimitClass::kNone) {
      EXPECT_EQ(route.auth, AuthKind::kUser) << "limits key on the user: " << name;
    }
    if (route.kind == RouteKind::kReserve) {
      EXPECT_EQ(route.auth, AuthKind::kUser) << name;
    }
  }
  // Every row is reachable through the router built from the table, as its own id.
  const Router router = BuildRouter();
  const std::span<const Route> routes = Routes();
  for (std::size_t index = 0; index < routes.size(); ++index) {
    std::string path(routes[index].path_template);
    std::string concrete;
    for (std::size_t at = 0; at < path.size(); ++at) {
      if (path[at] != '{') {
        concrete += path[at];
        continue;
      }
      concrete += "x";
      at = path.find('}', at);
    }
    const RouteMatch match = router.Match(routes[index].method, concrete);
    ASSERT_EQ(match.kind, RouteMatch::Kind::kFound) << concrete;
    EXPECT_EQ(match.route_id, static_cast<int>(index)) << concrete;
  }
}

}  // namespace
}  // namespace fs::http
