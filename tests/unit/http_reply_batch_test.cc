// Goal: between Begin() and Flush() replies are held and then handed to each I/O thread as
// one operation that runs them in order; outside a batch a reply is posted at once; and the
// gathering state of one thread does not capture another thread's replies.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <thread>
#include <utility>  // before Asio (Boost 1.74)
#include <vector>

#include "http/reply_batch.h"

namespace fs::http {
namespace {

TEST(ReplyBatchTest, GathersPerExecutorAndFlushesOneOperationEach) {
  boost::asio::io_context a(1);
  boost::asio::io_context b(1);
  std::vector<std::string> ran;
  ReplyBatch::Begin();
  for (int i = 0; i < 3; ++i) {
    ReplyBatch::Post(a.get_executor(), [&ran, i] { ran.push_back("a" + std::to_string(i)); });
  }
  for (int i = 0; i < 2; ++i) {
    ReplyBatch::Post(b.get_executor(), [&ran, i] { ran.push_back("b" + std::to_string(i)); });
  }
  EXPECT_EQ(a.poll(), 0U) << "nothing may run before the flush";
  EXPECT_EQ(b.poll(), 0U);
  a.restart();
  b.restart();
  ReplyBatch::Flush();
  EXPECT_EQ(a.poll(), 1U) << "one operation for the three replies";
  EXPECT_EQ(b.poll(), 1U);
  EXPECT_EQ(ran, (std::vector<std::string>{"a0", "a1", "a2", "b0", "b1"}));

  // After the flush, and for the next batch, the same executors work again.
  ran.clear();
  a.restart();
  ReplyBatch::Begin();
  ReplyBatch::Post(a.get_executor(), [&ran] { ran.push_back("next"); });
  ReplyBatch::Flush();
  EXPECT_EQ(a.poll(), 1U);
  EXPECT_EQ(ran, (std::vector<std::string>{"next"}));
}

TEST(ReplyBatchTest, PostsAtOnceOutsideABatch) {
  boost::asio::io_context context(1);
  int ran = 0;
  ReplyBatch::Post(context.get_executor(), [&ran] { ++ran; });
  EXPECT_EQ(context.poll(), 1U);
  EXPECT_EQ(ran, 1);
}

TEST(ReplyBatchTest, AnotherThreadsBatchDoesNotHoldMyReplies) {
  boost::asio::io_context context(1);
  ReplyBatch::Begin();  // this thread gathers...
  int ran = 0;
  std::thread other([&] { ReplyBatch::Post(context.get_executor(), [&ran] { ++ran; }); });
  other.join();
  EXPECT_EQ(context.poll(), 1U) << "...but the other thread's reply went out at once";
  EXPECT_EQ(ran, 1);
  ReplyBatch::Flush();
  EXPECT_EQ(context.poll(), 0U);
}

}  // namespace
}  // namespace fs::http
