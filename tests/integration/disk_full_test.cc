// Goal: a full disk is visible and survivable. The server's data directory is a small tmpfs
// with a ballast file; reserves are sent until the store refuses a commit. Then: that request
// got 503, /readyz answers 503 naming the refusal, the log has a "commit failed" line with the
// store's error; once the ballast is deleted the next reserve commits and /readyz is 200
// again; and every reservation that was acknowledged with 201 is in the database.
// Mounting a tmpfs needs root (CI runs as root); elsewhere the test is skipped.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/database.h"
#include "support/flashsale_api.h"
#include "support/server_process.h"

namespace fs::itest {
namespace {

// Mounts a tmpfs of `megabytes` on `dir` for the scope; unmounts (lazily) on exit.
class TmpfsMount {
 public:
  TmpfsMount(const std::filesystem::path& dir, int megabytes) : dir_(dir) {
    const std::string command = "mount -t tmpfs -o size=" + std::to_string(megabytes) +
                                "m flashsale-test '" + dir_.string() + "'";
    mounted_ = std::system(command.c_str()) == 0;
  }
  ~TmpfsMount() {
    if (!mounted_) return;
    const std::string command = "umount -l '" + dir_.string() + "'";
    if (std::system(command.c_str()) != 0) ADD_FAILURE() << "could not unmount " << dir_;
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
};

TEST(DiskFullTest, WritesRefusedThenResumedWithNothingAcknowledgedLost) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  ServerOptions options;
  options.extra_args = {"--rate-limit", "off"};
  ServerProcess server(options);
  const std::filesystem::path dir = server.data_dir();
  TmpfsMount tmpfs(dir, 8);
  ASSERT_TRUE(tmpfs.mounted());
  {
    std::ofstream ballast(dir / "ballast", std::ios::binary);
    const std::string megabyte(1 << 20, 'b');
    ballast << megabyte << megabyte;
    ASSERT_TRUE(ballast.good());
  }
  ASSERT_TRUE(server.Start());
  HttpClient client(server.port());
  SaleSpec sale = BigSale("disk");
  sale.total_stock = 1'000'000;
  ASSERT_TRUE(CreateSaleOk(client, sale));

  int acknowledged = 0;
  HttpResponse refused;
  for (int i = 0; i < 200'000; ++i) {
    const HttpResponse response =
        Reserve(client, ReserveRequest().Sku("disk").User("filler-" + std::to_string(i)));
    if (response.status == 201) {
      ++acknowledged;
      continue;
    }
    refused = response;
    break;
  }
  ASSERT_EQ(refused.status, 503) << refused.Describe();
  ASSERT_GT(acknowledged, 0);
  std::printf("acknowledged before the disk filled: %d\n", acknowledged);
  const HttpResponse unready = client.Get("/readyz");
  EXPECT_EQ(unready.status, 503);
  EXPECT_NE(unready.body.find("refuses writes"), std::string::npos) << unready.body;
  EXPECT_TRUE(server.WaitForStderr("commit failed"));

  std::filesystem::remove(dir / "ballast");
  bool resumed = false;
  for (int attempt = 0; attempt < 100 && !resumed; ++attempt) {
    const HttpResponse response =
        Reserve(client, ReserveRequest().Sku("disk").User("after-" + std::to_string(attempt)));
    if (response.status == 201) {
      ++acknowledged;
      resumed = true;
    }
  }
  ASSERT_TRUE(resumed);
  EXPECT_EQ(client.Get("/readyz").status, 200);

  ASSERT_TRUE(server.Stop());
  auto database = Database::OpenReadOnly(server.database_path());
  ASSERT_TRUE(database.has_value()) << database.error().ToString();
  auto rows = (*database)->ReadSku("disk");
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  EXPECT_EQ(rows->rows.size(), static_cast<std::size_t>(acknowledged));
}

}  // namespace
}  // namespace fs::itest
