// ServerTest: the GoogleTest fixture for black-box tests. Each test gets a fresh server process
// on a fresh data dir (started in SetUp), an HttpClient connected to it, and helpers to read the
// server's database. Derived fixtures pass ServerOptions for extra flags.
// Thread-safety: the fixture belongs to the test's main thread.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string_view>
#include <utility>

#include "support/database.h"
#include "support/flashsale_api.h"
#include "support/http_client.h"
#include "support/server_process.h"

namespace fs::itest {

class ServerTest : public ::testing::Test {
 protected:
  explicit ServerTest(ServerOptions options = {}) : server_(std::move(options)) {}

  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    Reconnect();
  }

  // A new client for the server's current port (call after Restart()).
  void Reconnect() { client_ = std::make_unique<HttpClient>(server_.port()); }
  HttpClient& client() { return *client_; }

  // Reads one SKU's counters and rows from the database; records a failure on error.
  SkuSnapshot ReadSku(std::string_view sku_id) {
    auto db = Database::OpenReadOnly(server_.database_path());
    if (!db) {
      ADD_FAILURE() << "opening the database: " << db.error().ToString();
      return {};
    }
    auto snapshot = (*db)->ReadSku(sku_id);
    if (!snapshot) {
      ADD_FAILURE() << "reading the database: " << snapshot.error().ToString();
      return {};
    }
    return std::move(*snapshot);
  }

  ServerProcess server_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace fs::itest
