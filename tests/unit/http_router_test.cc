// Goal: the router maps (method, path) to the right route and parameters, answers 405 with the
// Allow list only when the path exists under other methods, and 404 otherwise; query strings,
// trailing slashes, empty segments and extra segments behave as documented. A match rebased
// onto a copy of its target keeps its route and views the copy.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/router.h"

namespace fs::http {
namespace {

enum : int { kCreate = 1, kGetSku, kReserve, kGetReservation, kDeleteReservation, kHealth };

Router TestRouter() {
  Router router;
  router.Add(Method::kPost, "/admin/v1/skus", kCreate);
  router.Add(Method::kGet, "/admin/v1/skus/{sku}", kGetSku);
  router.Add(Method::kPost, "/api/v1/products/{sku}/reserve", kReserve);
  router.Add(Method::kGet, "/api/v1/reservations/{id}", kGetReservation);
  router.Add(Method::kDelete, "/api/v1/reservations/{id}", kDeleteReservation);
  router.Add(Method::kGet, "/healthz", kHealth);
  return router;
}

struct FoundCase {
  Method method;
  std::string target;
  int route_id;
  std::vector<std::string> params;
};

TEST(HttpRouterTest, MatchesRoutesAndCapturesParameters) {
  const Router router = TestRouter();
  const std::vector<FoundCase> cases = {
      {Method::kPost, "/admin/v1/skus", kCreate, {}},
      {Method::kGet, "/admin/v1/skus/abc", kGetSku, {"abc"}},
      {Method::kPost, "/api/v1/products/sku-1/reserve", kReserve, {"sku-1"}},
      {Method::kGet, "/api/v1/reservations/r1", kGetReservation, {"r1"}},
      {Method::kDelete, "/api/v1/reservations/r1", kDeleteReservation, {"r1"}},
      {Method::kGet, "/healthz", kHealth, {}},
      {Method::kGet, "/healthz?verbose=1", kHealth, {}},
      {Method::kGet, "/admin/v1/skus/a.b_c?x=/y", kGetSku, {"a.b_c"}},
  };
  for (const FoundCase& test : cases) {
    SCOPED_TRACE(test.target);
    const RouteMatch match = router.Match(test.method, test.target);
    ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
    EXPECT_EQ(match.route_id, test.route_id);
    ASSERT_EQ(match.param_count, test.params.size());
    for (std::size_t i = 0; i < test.params.size(); ++i) {
      EXPECT_EQ(match.params[i], test.params[i]);
    }
  }
}

TEST(HttpRouterTest, UnknownPathsAreNotFound) {
  const Router router = TestRouter();
  for (const char* target :
       {"/", "", "healthz", "/healthz/", "/healthzx", "/admin/v1/skus/", "/admin/v1/skus//",
        "/admin/v1/skus/a/b", "/api/v1/products//reserve", "/api/v1/products/x/reserve/extra",
        "//healthz", "/api/v1/reservations", "/API/v1/reservations/r1"}) {
    SCOPED_TRACE(target);
    const RouteMatch match = router.Match(Method::kGet, target);
    EXPECT_EQ(match.kind, RouteMatch::Kind::kNotFound);
    EXPECT_EQ(router.Match(Method::kPost, target).kind, RouteMatch::Kind::kNotFound);
  }
}

TEST(HttpRouterTest, KnownPathWithOtherMethodIsMethodNotAllowed) {
  const Router router = TestRouter();
  struct Case {
    Method method;
    std::string target;
    std::string allow;
  };
  const std::vector<Case> cases = {
      {Method::kGet, "/admin/v1/skus", "POST"},
      {Method::kPut, "/api/v1/reservations/r1", "GET, HEAD, DELETE"},
      {Method::kPost, "/api/v1/reservations/r1", "GET, HEAD, DELETE"},
      {Method::kGet, "/api/v1/products/x/reserve", "POST"},
      {Method::kHead, "/api/v1/products/x/reserve", "POST"},
      {Method::kOther, "/healthz", "GET, HEAD"},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.target);
    const RouteMatch match = router.Match(test.method, test.target);
    EXPECT_EQ(match.kind, RouteMatch::Kind::kMethodNotAllowed);
    EXPECT_EQ(match.allow, test.allow);
  }
}

// HEAD is answered by the GET route of the path (the server drops the body).
TEST(HttpRouterTest, HeadIsServedByTheGetRoute) {
  const Router router = TestRouter();
  const RouteMatch head = router.Match(Method::kHead, "/api/v1/reservations/r1");
  const RouteMatch get = router.Match(Method::kGet, "/api/v1/reservations/r1");
  ASSERT_EQ(head.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(head.route_id, get.route_id);
  EXPECT_EQ(router.Match(Method::kHead, "/healthz").kind, RouteMatch::Kind::kFound);
}

TEST(HttpRouterTest, TemplatesAreDistinctAndIndexedByMatch) {
  const Router router = TestRouter();
  const std::vector<std::string> templates = router.Templates();
  ASSERT_EQ(templates.size(), 5u);  // GET and DELETE share one reservation template
  const RouteMatch get = router.Match(Method::kGet, "/api/v1/reservations/r1");
  const RouteMatch del = router.Match(Method::kDelete, "/api/v1/reservations/r1");
  const RouteMatch wrong = router.Match(Method::kPatch, "/api/v1/reservations/r1");
  EXPECT_EQ(templates[get.template_index], "/api/v1/reservations/{id}");
  EXPECT_EQ(get.template_index, del.template_index);
  EXPECT_EQ(wrong.template_index, get.template_index);
}

TEST(HttpRouterTest, ARebasedMatchViewsTheCopyOfItsTarget) {
  const Router router = TestRouter();
  std::string arrived = "/api/v1/reservations/r-42?verbose=1";
  const RouteMatch match = router.Match(Method::kGet, arrived);
  ASSERT_EQ(match.kind, RouteMatch::Kind::kFound);
  const std::string copy = arrived;
  const RouteMatch rebased = RebaseMatch(match, arrived, copy);
  arrived.assign(arrived.size(), 'x');  // the buffer it arrived in is reused
  EXPECT_EQ(rebased.route_id, kGetReservation);
  EXPECT_EQ(rebased.template_index, match.template_index);
  ASSERT_EQ(rebased.param_count, 1u);
  EXPECT_EQ(rebased.params[0], "r-42");
  EXPECT_EQ(rebased.params[0].data(), copy.data() + copy.find("r-42"));
}

TEST(HttpRouterTest, DuplicateRegistrationIsAnInvariantViolation) {
  Router router;
  router.Add(Method::kGet, "/a", 1);
  EXPECT_DEATH(router.Add(Method::kGet, "/a", 2), "existing.first != method");
}

}  // namespace
}  // namespace fs::http
