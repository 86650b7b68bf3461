// Goal: the offline tools read a cluster's PostgreSQL database with --store, through the same
// AuditSource as the admin endpoints, while a node keeps running on it. After more reserves
// than one page of the chain walk (so the export streams several pages of one snapshot):
// `flashsale audit verify --store URL` is valid with the event count and head of
// GET /admin/v1/audit/verify and of the SQL table; `audit export` writes one JSON line per
// event, in id order, the last one carrying the head hash (also with --output FILE);
// `reconcile` exits 0 for every sale and for one. FLASHSALE_STORE works like --store. An
// attacker who disables the append-only trigger and edits one row: verify exits 3 naming that
// event and reconcile exits 3. A bad URL or an unreachable server: exit 1 with a message on
// stderr, no crash; --data-dir beside --store: exit 2.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "pg_environment.h"
#include "support/cli_run.h"
#include "support/flashsale_api.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/reserve_load.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

// More than one page (5,000 events) of the PostgreSQL chain walk.
constexpr std::int64_t kReserves = 5'300;

struct ToolRun {
  int exit_code = -1;  // -1: did not exit normally (e.g. a crash)
  std::string out;
  std::string err;
};

// Runs `env flashsale args...` and captures stdout and stderr (into a file beside the test).
ToolRun RunTool(const std::string& args, const std::string& env = "") {
  ToolRun run;
  const std::filesystem::path err_path = std::filesystem::temp_directory_path() /
                                         ("flashsale-tool-" + std::to_string(::getpid()) + ".err");
  const std::string command =
      env + " " + std::string(FLASHSALE_BINARY) + " " + args + " 2>" + err_path.string();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[65536];
  std::size_t size = 0;
  while ((size = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, size);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  run.err = text.str();
  std::filesystem::remove(err_path);
  return run;
}

class ClusterToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = FreshDatabaseUrl();
    ServerOptions options;
    options.extra_args = {"--store", url_, "--threads", "2"};
    node_ = std::make_unique<ServerProcess>(options);
    ASSERT_TRUE(node_->Start());
    client_ = std::make_unique<HttpClient>(node_->port());
  }

  std::string url_;
  std::unique_ptr<ServerProcess> node_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ClusterToolsTest, VerifyExportAndReconcileReadThePostgresStore) {
  SaleSpec sale;
  sale.sku_id = "tools";
  sale.total_stock = kReserves + 1'000;
  sale.reservation_ttl_seconds = 3600;  // nothing expires (and is audited) during the test
  ASSERT_TRUE(CreateSaleOk(*client_, sale));
  LoadOptions load_options;
  load_options.sku_id = sale.sku_id;
  load_options.user_prefix = "buyer";
  load_options.thread_count = 8;
  load_options.release_every = 50;  // a few RELEASE events too
  ReserveLoad load(node_->port(), load_options);
  const bool enough = load.WaitForAcknowledged(kReserves, std::chrono::minutes(4));
  load.RequestStop();
  const LoadResult result = load.Join();
  ASSERT_TRUE(enough) << "only " << result.acknowledged.size() << " reservations";

  // The node is idle now: the table, the endpoint and the tools must all see the same chain.
  const std::int64_t events = std::stoll(QueryCurrentDatabase("SELECT COUNT(*) FROM audit_events"));
  ASSERT_GT(events, 5'000);
  const std::string head_id = QueryCurrentDatabase("SELECT MAX(event_id) FROM audit_events");
  const std::string head_hash =
      QueryCurrentDatabase("SELECT event_hash FROM audit_events ORDER BY event_id DESC LIMIT 1");
  const HttpResponse endpoint = client_->Get("/admin/v1/audit/verify", AdminAuth());
  ASSERT_EQ(endpoint.status, 200) << endpoint.Describe();
  const auto endpoint_json = ParseJson(endpoint.body);
  ASSERT_TRUE(endpoint_json.has_value() && endpoint_json->IsObject()) << endpoint.body;
  ASSERT_TRUE((*endpoint_json)["valid"].GetBool());
  EXPECT_EQ((*endpoint_json)["events"].GetInt64(), events);
  EXPECT_EQ((*endpoint_json)["head"]["event_hash"].GetString(), head_hash);

  const ToolRun verify = RunTool("audit verify --store " + url_);
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  const auto lines = OutputLines(verify.out);
  ASSERT_EQ(lines.size(), 1u) << verify.out;
  const auto report = ParseJson(lines[0]);
  ASSERT_TRUE(report.has_value() && report->IsObject()) << verify.out;
  EXPECT_TRUE((*report)["valid"].GetBool());
  EXPECT_EQ((*report)["events"].GetInt64(), events);
  EXPECT_EQ(std::to_string((*report)["head"]["event_id"].GetInt64()), head_id);
  EXPECT_EQ((*report)["head"]["event_hash"].GetString(), head_hash);

  // The same through FLASHSALE_STORE (beside a FLASHSALE_DATA_DIR that must not be read).
  const ToolRun from_env =
      RunTool("audit verify", "FLASHSALE_STORE='" + url_ + "' FLASHSALE_DATA_DIR=/nonexistent");
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_EQ(from_env.out, verify.out);

  // Export: every event once, in id order, the chain intact up to the head.
  const ToolRun exported = RunTool("audit export --store " + url_);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const auto event_lines = OutputLines(exported.out);
  ASSERT_EQ(static_cast<std::int64_t>(event_lines.size()), events);
  std::int64_t previous_id = 0;
  std::string previous_hash;
  std::int64_t out_of_order = 0;
  std::int64_t unlinked = 0;
  for (const std::string& line : event_lines) {
    const auto event = ParseJson(line);
    ASSERT_TRUE(event.has_value() && event->IsObject()) << line;
    const std::int64_t id = (*event)["event_id"].GetInt64();
    if (id <= previous_id) ++out_of_order;
    if (!previous_hash.empty() && previous_hash != (*event)["prev_hash"].GetString()) ++unlinked;
    previous_id = id;
    previous_hash = (*event)["event_hash"].GetString();
  }
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(unlinked, 0);
  EXPECT_EQ(std::to_string(previous_id), head_id);
  EXPECT_EQ(previous_hash, head_hash);
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("flashsale-export-" + std::to_string(::getpid()) + ".jsonl");
  const ToolRun to_file = RunTool("audit export --store " + url_ + " --output " + file.string());
  EXPECT_EQ(to_file.exit_code, 0) << to_file.err;
  std::ifstream written(file);
  std::stringstream written_text;
  written_text << written.rdbuf();
  EXPECT_EQ(written_text.str(), exported.out);
  std::filesystem::remove(file);

  const ToolRun books = RunTool("reconcile --store " + url_);
  EXPECT_EQ(books.exit_code, 0) << books.out << books.err;
  EXPECT_NE(books.out.find(sale.sku_id), std::string::npos) << books.out;
  EXPECT_EQ(RunTool("reconcile --store " + url_ + " --sku " + sale.sku_id).exit_code, 0);
  EXPECT_EQ(RunTool("reconcile --store " + url_ + " --sku nope").exit_code, 1);

  // The attacker: disable the append-only guard and rewrite one event in the middle.
  const std::string tampered = QueryCurrentDatabase(
      "SELECT event_id FROM audit_events WHERE event_type = 'RESERVE_ATTEMPT'"
      " ORDER BY event_id OFFSET 2500 LIMIT 1");
  ASSERT_FALSE(tampered.empty());
  QueryCurrentDatabase("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update");
  QueryCurrentDatabase(
      "UPDATE audit_events SET user_id = 'someone-else'"
      " WHERE event_id = " +
      tampered + " RETURNING event_id");
  const ToolRun broken = RunTool("audit verify --store " + url_);
  EXPECT_EQ(broken.exit_code, 3) << broken.out << broken.err;
  const auto broken_report =
      ParseJson(OutputLines(broken.out).empty() ? "" : OutputLines(broken.out)[0]);
  ASSERT_TRUE(broken_report.has_value() && broken_report->IsObject()) << broken.out;
  EXPECT_FALSE((*broken_report)["valid"].GetBool());
  ASSERT_TRUE(broken_report->HasMember("broken_event_id")) << broken.out;
  EXPECT_EQ(std::to_string((*broken_report)["broken_event_id"].GetInt64()), tampered);
  EXPECT_EQ(RunTool("reconcile --store " + url_).exit_code, 3);
}

TEST_F(ClusterToolsTest, UnreadableStoresFailCleanly) {
  // Nothing listens on a fresh free port: refused at once.
  const std::string unreachable =
      "postgres://postgres@127.0.0.1:" + std::to_string(FreePort()) + "/flashsale";
  for (const std::string tool : {"audit verify", "audit export", "reconcile"}) {
    SCOPED_TRACE(tool);
    const ToolRun run = RunTool(tool + " --store " + unreachable);
    EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
    EXPECT_EQ(run.out, "");
    EXPECT_NE(run.err.find("flashsale:"), std::string::npos) << run.err;
    // A malformed URL, and a database that does not exist on a live server.
    const ToolRun malformed = RunTool(tool + " --store 'postgres://127.0.0.1:notaport/x'");
    EXPECT_EQ(malformed.exit_code, 1) << malformed.err;
    EXPECT_FALSE(malformed.err.empty());
    const ToolRun missing = RunTool(tool + " --store " + TestPostgres().Url("no_such_database"));
    EXPECT_EQ(missing.exit_code, 1) << missing.err;
    EXPECT_NE(missing.err.find("no_such_database"), std::string::npos) << missing.err;
    // Two databases named at once: a usage error.
    const ToolRun both = RunTool(tool + " --data-dir /tmp --store " + url_);
    EXPECT_EQ(both.exit_code, 2) << both.err;
    EXPECT_NE(both.err.find("--data-dir"), std::string::npos) << both.err;
  }
}

}  // namespace
}  // namespace fs::itest
