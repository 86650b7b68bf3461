// Goal: the operator CLI (`flashsale admin ...`) against the real server, and the offline
// post-event tools against its database. Through the binary's own subcommands: a sale is
// created, shown, closed (a reserve is then refused), reopened and restocked; orders that
// need attention are listed and settled; reconcile and audit verify agree with the API; --json
// prints the API's JSON. Every exit code is exercised: 2 for usage errors and a missing token,
// 4 for a refusal (wrong token, unknown sale, a second create, an order not resolvable) with
// the server's error code on stderr, 1 for a URL where nothing listens, 3 when the audit chain
// was tampered with. Offline: `reconcile --json`, `audit export --json --manifest` (its sha256
// is the file's, its chain head the last line's) and `report` in text and JSON count what a
// little traffic did (units sold, orders by status, revenue, refusals, throttled attempts).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/sha256.h"
#include "support/cli_run.h"
#include "support/free_port.h"
#include "support/server_test.h"

namespace fs::itest {
namespace {

constexpr char kSku[] = "sneaker";
constexpr std::int64_t kPrice = 2'500;

ServerOptions SagaOptions() {
  ServerOptions options;
  options.extra_args = {"--payment-retry-schedule", "20ms,40ms"};
  return options;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AdminCliTest : public ServerTest {
 protected:
  explicit AdminCliTest(ServerOptions options = SagaOptions()) : ServerTest(std::move(options)) {}

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

  // `flashsale admin args...` against this test's server with the right token.
  CliRun Admin(std::vector<std::string> args, CliEnv env = {}) {
    args.insert(args.begin(), "admin");
    env.emplace_back("FLASHSALE_URL", Url());
    bool token_given = false;
    for (const auto& [name, value] : env) {
      token_given = token_given || name.starts_with("FLASHSALE_ADMIN_TOKEN");
    }
    if (!token_given) env.emplace_back("FLASHSALE_ADMIN_TOKEN", kAdminToken);
    return RunFlashsale(args, env);
  }

  // The offline tool `flashsale args... --data-dir DIR`.
  CliRun Offline(std::vector<std::string> args) {
    args.push_back("--data-dir");
    args.push_back(server_.data_dir().string());
    return RunFlashsale(args);
  }

  std::string ReserveOk(const std::string& sku, const std::string& user) {
    return itest::ReserveOk(client(), ReserveRequest().Sku(sku).User(user));
  }

  // POST /api/v1/checkout; the order id (the order is settled asynchronously).
  std::string CheckoutOk(const std::string& user, const std::string& reservation_id,
                         const std::string& payment_method) {
    const HttpResponse response =
        CheckoutReservation(client(), user, reservation_id, payment_method);
    EXPECT_EQ(response.status, 202) << response.Describe();
    return BodyField(response, "order_id");
  }

  std::string SettledStatus(const std::string& order_id, const std::string& user) {
    return SettledOrderStatus(client(), order_id, user);
  }

  CliRun CreateSneaker(std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"sales",
                                     "create",
                                     kSku,
                                     "--name",
                                     "Limited sneaker",
                                     "--price-cents",
                                     std::to_string(kPrice),
                                     "--currency",
                                     "EUR",
                                     "--total-stock",
                                     "10"};
    args.insert(args.end(), more.begin(), more.end());
    return Admin(args);
  }
};

TEST_F(AdminCliTest, SalesLifecycleThroughTheCli) {
  const CliRun created =
      CreateSneaker({"--per-user-limit", "2", "--tag", "shoes", "--category", "Shoes"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(created.out.find("status     OPEN"), std::string::npos) << created.out;
  EXPECT_NE(created.out.find("2500 cents EUR"), std::string::npos) << created.out;

  const CliRun shown = Admin({"sales", "show", kSku, "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const auto sale = ParseJson(shown.out);
  ASSERT_TRUE(sale && sale->IsObject()) << shown.out;
  EXPECT_EQ(IntField(*sale, "total_stock"), 10);
  EXPECT_EQ(IntField(*sale, "per_user_limit"), 2);
  EXPECT_EQ(StringField(*sale, "category"), "Shoes");
  ASSERT_TRUE((*sale)["tags"].IsArray() && (*sale)["tags"].Size() == 1);
  EXPECT_EQ(std::string((*sale)["tags"][0].GetString()), "shoes");

  const CliRun closed = Admin({"--json", "sales", "close", kSku});
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  EXPECT_EQ(StringField(*ParseJson(closed.out), "status"), "CLOSED");
  EXPECT_TRUE(
      IsError(Reserve(client(), ReserveRequest().Sku(kSku).User("alice")), 409, "SALE_CLOSED"));
  const CliRun opened = Admin({"sales", "open", kSku, "--json"});
  ASSERT_EQ(opened.exit_code, 0) << opened.err;
  EXPECT_EQ(StringField(*ParseJson(opened.out), "status"), "OPEN");
  ReserveOk(kSku, "alice");

  const CliRun restocked = Admin({"sales", "stock", kSku, "--delta", "-3", "--json"});
  ASSERT_EQ(restocked.exit_code, 0) << restocked.err;
  EXPECT_EQ(IntField(*ParseJson(restocked.out), "total_stock"), 7);
  const auto counters = GetAdminCounters(client(), kSku);
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->total_stock, 7);
  EXPECT_EQ(counters->available, 6);
  const CliRun text = Admin({"sales", "show", kSku});
  EXPECT_NE(text.out.find("total 7, available 6, reserved 1, sold 0"), std::string::npos)
      << text.out;

  // Below held + sold: refused by the server, nothing changes.
  const CliRun below = Admin({"sales", "stock", kSku, "--delta=-7"});
  EXPECT_EQ(below.exit_code, 4);
  EXPECT_NE(below.err.find("STOCK_BELOW_COMMITTED"), std::string::npos) << below.err;
  EXPECT_EQ(GetAdminCounters(client(), kSku)->total_stock, 7);
  const CliRun again = CreateSneaker();
  EXPECT_EQ(again.exit_code, 4);
  EXPECT_NE(again.err.find("SKU_EXISTS"), std::string::npos) << again.err;
  const CliRun unknown = Admin({"sales", "show", "no-such-sale"});
  EXPECT_EQ(unknown.exit_code, 4);
  EXPECT_NE(unknown.err.find("SKU_NOT_FOUND"), std::string::npos) << unknown.err;
  EXPECT_TRUE(unknown.out.empty()) << unknown.out;
}

TEST_F(AdminCliTest, OrdersNeedingAttentionAreListedAndResolved) {
  ASSERT_EQ(CreateSneaker().exit_code, 0);
  const std::string first = CheckoutOk("dave", ReserveOk(kSku, "dave"), "pm_card_timeout");
  const std::string second = CheckoutOk("erin", ReserveOk(kSku, "erin"), "pm_card_timeout");
  ASSERT_EQ(SettledStatus(first, "dave"), "NEEDS_ATTENTION");
  ASSERT_EQ(SettledStatus(second, "erin"), "NEEDS_ATTENTION");

  const CliRun listed = Admin({"orders", "list", "--status", "NEEDS_ATTENTION", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const auto json = ParseJson(listed.out);
  ASSERT_TRUE(json && json->HasMember("orders") && (*json)["orders"].IsArray()) << listed.out;
  std::vector<std::string> ids;
  for (const auto& order : (*json)["orders"].GetArray()) {
    ids.push_back(StringField(order, "order_id").value_or(""));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{first, second}));
  const CliRun table = Admin({"orders", "list", "--status", "NEEDS_ATTENTION"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find(first), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("2 orders"), std::string::npos) << table.out;

  const CliRun paid = Admin({"orders", "resolve", first, "--outcome", "paid"});
  ASSERT_EQ(paid.exit_code, 0) << paid.err;
  EXPECT_EQ(paid.out, "order " + first + ": PAID\n");
  const CliRun failed = Admin({"orders", "resolve", second, "--outcome", "failed", "--json"});
  ASSERT_EQ(failed.exit_code, 0) << failed.err;
  EXPECT_EQ(StringField(*ParseJson(failed.out), "status"), "FAILED");
  EXPECT_EQ(GetAdminCounters(client(), kSku)->sold, 1);

  const CliRun twice = Admin({"orders", "resolve", first, "--outcome", "failed"});
  EXPECT_EQ(twice.exit_code, 4);
  EXPECT_NE(twice.err.find("ORDER_NOT_RESOLVABLE"), std::string::npos) << twice.err;
  const CliRun paid_list = Admin({"orders", "list", "--status", "PAID", "--json"});
  ASSERT_EQ(paid_list.exit_code, 0) << paid_list.err;
  const auto paid_json = ParseJson(paid_list.out);
  ASSERT_TRUE(paid_json && (*paid_json)["orders"].IsArray());
  ASSERT_EQ((*paid_json)["orders"].Size(), 1u);
  EXPECT_EQ(StringField((*paid_json)["orders"][0], "order_id"), first);
  EXPECT_EQ(Admin({"orders", "list", "--status", "LOST"}).exit_code, 2);
  EXPECT_EQ(Admin({"orders", "resolve", first, "--outcome", "maybe"}).exit_code, 2);
}

TEST_F(AdminCliTest, ReconcileAndAuditVerifyAgreeWithTheApiThenSeeTampering) {
  ASSERT_EQ(CreateSneaker().exit_code, 0);
  ReserveOk(kSku, "alice");
  ReserveOk(kSku, "bob");

  const CliRun reconciled = Admin({"reconcile", "--sku", kSku, "--json"});
  ASSERT_EQ(reconciled.exit_code, 0) << reconciled.err;
  const auto books = ParseJson(reconciled.out);
  ASSERT_TRUE(books && books->IsObject()) << reconciled.out;
  EXPECT_TRUE((*books)["consistent"].GetBool());
  EXPECT_EQ(IntField((*books)["counters"], "held"), 2);
  EXPECT_EQ(IntField((*books)["recounted"], "held"), 2);
  const CliRun reconciled_text = Admin({"reconcile", "--sku", kSku});
  EXPECT_EQ(reconciled_text.exit_code, 0);
  EXPECT_NE(reconciled_text.out.find("result: consistent"), std::string::npos)
      << reconciled_text.out;

  const HttpResponse endpoint = client().Get("/admin/v1/audit/verify", AdminAuth());
  ASSERT_EQ(endpoint.status, 200);
  const CliRun verified = Admin({"audit", "verify", "--json"});
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  const auto chain = ParseJson(verified.out);
  ASSERT_TRUE(chain && chain->IsObject()) << verified.out;
  EXPECT_TRUE((*chain)["valid"].GetBool());
  EXPECT_EQ(IntField(*chain, "events"), IntField(*ParseJson(endpoint.body), "events"));
  EXPECT_EQ(IntField(*chain, "events"), 3);  // the sale's creation and two reserves
  const CliRun verified_text = Admin({"audit", "verify"});
  EXPECT_NE(verified_text.out.find("audit chain: valid, 3 events"), std::string::npos)
      << verified_text.out;

  ASSERT_TRUE(ExecSql(server_.database_path(),
                      "DROP TRIGGER audit_events_no_update;"
                      " UPDATE audit_events SET user_id = 'mallory' WHERE event_id = 2"));
  const CliRun broken = Admin({"audit", "verify"});
  EXPECT_EQ(broken.exit_code, 3) << broken.out << broken.err;
  EXPECT_NE(broken.out.find("BROKEN at event 2"), std::string::npos) << broken.out;
  const CliRun broken_books = Admin({"reconcile", "--sku", kSku, "--json"});
  EXPECT_EQ(broken_books.exit_code, 3);
  EXPECT_FALSE((*ParseJson(broken_books.out))["consistent"].GetBool());
  EXPECT_EQ(Offline({"reconcile", "--json"}).exit_code, 3);
}

TEST_F(AdminCliTest, ExitCodesForUsageRefusalsAndTransport) {
  ASSERT_EQ(CreateSneaker().exit_code, 0);
  // 2: usage errors, before any request.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"sales"},
           {"sales", "show"},
           {"sales", "stock", kSku},
           {"sales", "stock", kSku, "--delta", "many"},
           {"sales", "create", "x", "--name", "X"},
           {"reconcile"},
           {"audit", "verify", "--no-such-flag"},
       }) {
    const CliRun run = Admin(args);
    EXPECT_EQ(run.exit_code, 2) << ::testing::PrintToString(args) << run.err;
    EXPECT_FALSE(run.err.empty());
  }
  const CliRun no_token = RunFlashsale({"admin", "audit", "verify"}, {{"FLASHSALE_URL", Url()}});
  EXPECT_EQ(no_token.exit_code, 2);
  EXPECT_NE(no_token.err.find("FLASHSALE_ADMIN_TOKEN"), std::string::npos) << no_token.err;
  EXPECT_EQ(Admin({"--url", "ftp://127.0.0.1/", "audit", "verify"}).exit_code, 2);

  // 4: the server refused; its code on stderr.
  const CliRun wrong =
      Admin({"audit", "verify"}, {{"FLASHSALE_ADMIN_TOKEN", "not-the-token-not-the-token-0000"}});
  EXPECT_EQ(wrong.exit_code, 4);
  EXPECT_NE(wrong.err.find("401 UNAUTHENTICATED"), std::string::npos) << wrong.err;
  EXPECT_TRUE(wrong.out.empty());

  // The token from a file, by flag or variable; both a variable and a file: usage error.
  const std::filesystem::path token_file = server_.data_dir().parent_path() / "admin-token";
  std::ofstream(token_file) << kAdminToken << "\n";
  const CliRun by_flag =
      RunFlashsale({"admin", "--admin-token-file", token_file.string(), "sales", "show", kSku},
                   {{"FLASHSALE_URL", Url()}});
  EXPECT_EQ(by_flag.exit_code, 0) << by_flag.err;
  const CliRun by_variable =
      RunFlashsale({"admin", "sales", "show", kSku},
                   {{"FLASHSALE_URL", Url()}, {"FLASHSALE_ADMIN_TOKEN_FILE", token_file.string()}});
  EXPECT_EQ(by_variable.exit_code, 0) << by_variable.err;
  EXPECT_EQ(Admin({"audit", "verify"}, {{"FLASHSALE_ADMIN_TOKEN", kAdminToken},
                                        {"FLASHSALE_ADMIN_TOKEN_FILE", token_file.string()}})
                .exit_code,
            2);

  // 1: nothing listens at the URL (--url wins over FLASHSALE_URL).
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(FreePort());
  const CliRun unreachable = Admin({"--url", nowhere, "audit", "verify"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.err.find(nowhere), std::string::npos) << unreachable.err;
}

TEST_F(AdminCliTest, OfflineReconcileJsonAndAuditExportManifest) {
  ASSERT_EQ(CreateSneaker().exit_code, 0);
  ReserveOk(kSku, "alice");
  ReserveOk(kSku, "bob");
  ReserveOk(kSku, "carol");

  const CliRun reconciled = Offline({"reconcile", "--json"});
  ASSERT_EQ(reconciled.exit_code, 0) << reconciled.err;
  const auto books = ParseJson(reconciled.out);
  ASSERT_TRUE(books && books->IsObject()) << reconciled.out;
  EXPECT_TRUE((*books)["consistent"].GetBool());
  ASSERT_TRUE((*books)["skus"].IsArray() && (*books)["skus"].Size() == 1);
  EXPECT_EQ(StringField((*books)["skus"][0], "sku_id"), kSku);
  EXPECT_EQ(IntField((*books)["skus"][0]["counters"], "held"), 3);
  EXPECT_EQ(IntField((*books)["audit"], "events"), 4);

  const std::filesystem::path dir = server_.data_dir().parent_path();
  const std::string trail = (dir / "audit.jsonl").string();
  const std::string manifest_path = (dir / "audit.manifest.json").string();
  const CliRun exported =
      Offline({"audit", "export", "--output", trail, "--json", "--manifest", manifest_path});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const auto manifest = ParseJson(exported.out);
  ASSERT_TRUE(manifest && manifest->IsObject()) << exported.out;
  EXPECT_EQ(ReadFile(manifest_path), exported.out);
  const std::string file = ReadFile(trail);
  const std::vector<std::string> lines = OutputLines(file);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(StringField(*manifest, "file"), trail);
  EXPECT_EQ(IntField(*manifest, "events"), 4);
  EXPECT_EQ(StringField(*manifest, "sha256"), crypto::Sha256Hex(file));
  const auto last = ParseJson(lines.back());
  ASSERT_TRUE(last);
  EXPECT_EQ(IntField((*manifest)["chain_head"], "id"), 4);
  EXPECT_EQ(StringField((*manifest)["chain_head"], "hash"), StringField(*last, "event_hash"));
  // Without --json only the file and the manifest file; --manifest without --output is usage.
  const CliRun quiet = Offline({"audit", "export", "--output", trail});
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_TRUE(quiet.out.empty()) << quiet.out;
  EXPECT_EQ(Offline({"audit", "export", "--manifest", manifest_path}).exit_code, 2);
}

TEST_F(AdminCliTest, ReportCountsWhatTheTrafficDid) {
  ASSERT_EQ(CreateSneaker().exit_code, 0);
  ASSERT_EQ(Admin({"sales", "create", "gone", "--name", "Gone", "--price-cents", "100",
                   "--currency", "EUR", "--total-stock", "0"})
                .exit_code,
            0);
  const std::string paid = CheckoutOk("alice", ReserveOk(kSku, "alice"), "pm_card_visa");
  const std::string declined = CheckoutOk("bob", ReserveOk(kSku, "bob"), "pm_card_chargeDeclined");
  ReserveOk(kSku, "carol");
  EXPECT_TRUE(
      IsError(Reserve(client(), ReserveRequest().Sku(kSku).User("carol")), 409, "LIMIT_EXCEEDED"));
  EXPECT_TRUE(IsError(Reserve(client(), ReserveRequest().Sku(kSku).User("dave").Quantity(20)), 409,
                      "LIMIT_EXCEEDED"));
  EXPECT_TRUE(
      IsError(Reserve(client(), ReserveRequest().Sku("gone").User("dave")), 409, "SOLD_OUT"));
  ASSERT_EQ(SettledStatus(paid, "alice"), "PAID");
  ASSERT_EQ(SettledStatus(declined, "bob"), "FAILED");

  // Every sale.
  const CliRun json_run = Offline({"report", "--json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  const auto report = ParseJson(json_run.out);
  ASSERT_TRUE(report && report->IsObject()) << json_run.out;
  ASSERT_TRUE((*report)["sales"].IsArray());
  EXPECT_EQ((*report)["sales"].Size(), 2u);
  EXPECT_EQ(IntField(*report, "units_sold"), 1);
  EXPECT_EQ(IntField((*report)["orders_by_status"]["PAID"], "orders"), 1);
  EXPECT_EQ(IntField((*report)["orders_by_status"]["FAILED"], "orders"), 1);
  EXPECT_FALSE((*report)["orders_by_status"].HasMember("PENDING"));
  EXPECT_EQ(IntField((*report)["revenue_cents"], "EUR"), kPrice);
  EXPECT_EQ(IntField(*report, "reserve_attempts"), 6);
  EXPECT_EQ(IntField(*report, "reserve_succeeded"), 3);
  EXPECT_EQ(IntField((*report)["refusals_by_reason"], "LIMIT_EXCEEDED"), 2);
  EXPECT_EQ(IntField((*report)["refusals_by_reason"], "SOLD_OUT"), 1);
  EXPECT_EQ(IntField(*report, "throttled"), 0);
  const HttpResponse verify = client().Get("/admin/v1/audit/verify", AdminAuth());
  const auto chain = ParseJson(verify.body);
  ASSERT_TRUE(chain);
  EXPECT_EQ(StringField((*report)["audit"]["head"], "event_hash"),
            StringField((*chain)["head"], "event_hash"));

  // One sale: the other's refusal is not counted.
  const CliRun text = Offline({"report", "--sku", kSku});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* expected :
       {"report: sneaker", "units sold: 1", "FAILED 1", "PAID 1", "25.00 EUR",
        "reserve attempts: 5, reserved 3", "LIMIT_EXCEEDED 2", "audit chain: valid"}) {
    EXPECT_NE(text.out.find(expected), std::string::npos) << expected << "\n" << text.out;
  }
  EXPECT_EQ(text.out.find("SOLD_OUT"), std::string::npos) << text.out;
  const CliRun other = Offline({"report", "--sku", "no-such-sale"});
  EXPECT_EQ(other.exit_code, 1);
}

// Refill of one request per minute: the number of 429s depends only on the requests sent.
ServerOptions RateLimitedOptions() {
  ServerOptions options;
  options.extra_args = {"--rate-limit", "on", "--rate-limit-tiers",
                        "bot=1:2,new=1:3,normal=1:3,premium=1:3"};
  return options;
}

class AdminCliThrottleTest : public AdminCliTest {
 protected:
  AdminCliThrottleTest() : AdminCliTest(RateLimitedOptions()) {}
};

TEST_F(AdminCliThrottleTest, ReportCountsThrottledAttempts) {
  SaleSpec sale = BigSale("flood");
  ASSERT_TRUE(CreateSaleOk(client(), sale));
  int throttled = 0;
  int reserved = 0;
  for (int i = 0; i < 8; ++i) {
    const HttpResponse response = Reserve(client(), ReserveRequest().Sku("flood").User("eve"));
    if (response.status == 429) ++throttled;
    if (response.status == 201) ++reserved;
  }
  ASSERT_GT(throttled, 0);
  ASSERT_EQ(throttled + reserved, 8);
  // Throttled attempts reach the audit trail through a side channel: wait until all are there.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::int64_t audited = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    audited = static_cast<std::int64_t>(AuditEvents(client(), "sku_id=flood").size());
    if (audited >= 1 + 8) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(audited, 1 + 8);
  const CliRun run = Offline({"report", "--sku", "flood", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto report = ParseJson(run.out);
  ASSERT_TRUE(report) << run.out;
  EXPECT_EQ(IntField(*report, "reserve_attempts"), 8);
  EXPECT_EQ(IntField(*report, "throttled"), throttled);
  EXPECT_NEAR((*report)["throttled_share"].GetDouble(), throttled / 8.0, 0.001);
}

}  // namespace
}  // namespace fs::itest
