#include "http/reply_batch.h"

#include <boost/asio/post.hpp>
#include <vector>

namespace fs::http {
namespace {

struct Pending {
  boost::asio::any_io_executor executor;
  std::vector<std::function<void()>> handlers;
};

struct ThreadState {
  bool gathering = false;
  // One entry per I/O thread seen in this batch: a handful, so a linear search is cheapest.
  std::vector<Pending> pending;
};

ThreadState& State() {
  thread_local ThreadState state;
  return state;
}

}  // namespace

void ReplyBatch::Begin() { State().gathering = true; }

void ReplyBatch::Flush() {
  ThreadState& state = State();
  state.gathering = false;
  for (Pending& entry : state.pending) {
    if (entry.handlers.empty()) continue;
    boost::asio::post(entry.executor, [handlers = std::move(entry.handlers)]() mutable {
      for (auto& handler : handlers) handler();
    });
    entry.handlers = {};
  }
  // The entries (executors) stay for the next batch: the I/O threads do not change.
}

void ReplyBatch::Post(const boost::asio::any_io_executor& executor, std::function<void()> handler) {
  ThreadState& state = State();
  if (!state.gathering) {
    boost::asio::post(executor, std::move(handler));
    return;
  }
  for (Pending& entry : state.pending) {
    if (entry.executor == executor) {
      entry.handlers.push_back(std::move(handler));
      return;
    }
  }
  state.pending.push_back(Pending{executor, {}});
  state.pending.back().handlers.push_back(std::move(handler));
}

}  // namespace fs::http
