// GateStore: wraps a store so a test can hold the writer inside a commit (Close), queue
// commands meanwhile, and release them as one batch (Open). Everything else is forwarded,
// the shared-store calls included, so it wraps SQLite and PostgreSQL alike.
// HeldBatch: runs a list of reserves as one batch through such a gate and returns the answers.
// Thread-safety: Close/Open from the test thread; Commit runs on the engine's writer.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "store/store.h"

namespace fs::test_common {

class GateStore final : public store::Store {
 public:
  explicit GateStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}
  void Close() { closed_.store(true); }
  void Open() {
    closed_.store(false);
    closed_.notify_all();
  }
  // Commits begun so far (a waiting one included).
  std::atomic<int> waiting{0};

  base::Result<store::LoadedState> Load(base::Time since) override { return inner_->Load(since); }
  base::Status Commit(const core::Mutations& mutations) override {
    waiting.fetch_add(1);
    waiting.notify_all();
    closed_.wait(true);
    return inner_->Commit(mutations);
  }
  base::Result<std::vector<store::StoredCounters>> ReadCounters() override {
    return inner_->ReadCounters();
  }
  bool shared() const override { return inner_->shared(); }
  base::Result<store::ClusterChanges> BeginBatch(std::int64_t synced_through) override {
    return inner_->BeginBatch(synced_through);
  }
  void AbortBatch() override { inner_->AbortBatch(); }
  base::Result<store::ClusterChanges> ReadChanges(std::int64_t synced_through) override {
    return inner_->ReadChanges(synced_through);
  }

 private:
  std::unique_ptr<store::Store> inner_;
  std::atomic<bool> closed_{false};
};

// Holds the writer in the commit of `first`, queues `commands`, then opens the gate: the
// writer takes every queued command as one batch. Returns their answers in order (the
// first's answer is checked to be a reservation).
inline std::vector<engine::ReplyOf<engine::Reserve>> HeldBatch(
    engine::Engine& engine, GateStore& gate, const core::ReserveCommand& first,
    const std::vector<core::ReserveCommand>& commands) {
  const int commits_before = gate.waiting.load();
  gate.Close();
  std::promise<engine::ReplyOf<engine::Reserve>> first_reply;
  engine.Submit(engine::Reserve{first},
                [&](engine::ReplyOf<engine::Reserve> r) { first_reply.set_value(std::move(r)); });
  for (int seen = gate.waiting.load(); seen <= commits_before; seen = gate.waiting.load()) {
    gate.waiting.wait(seen);
  }
  std::vector<std::shared_ptr<std::promise<engine::ReplyOf<engine::Reserve>>>> promises;
  std::vector<std::future<engine::ReplyOf<engine::Reserve>>> futures;
  for (const core::ReserveCommand& command : commands) {
    promises.push_back(std::make_shared<std::promise<engine::ReplyOf<engine::Reserve>>>());
    futures.push_back(promises.back()->get_future());
    engine.Submit(engine::Reserve{command},
                  [promise = promises.back()](engine::ReplyOf<engine::Reserve> r) {
                    promise->set_value(std::move(r));
                  });
  }
  gate.Open();
  EXPECT_EQ(first_reply.get_future().get().value.outcome, core::ReserveOutcome::kReserved);
  std::vector<engine::ReplyOf<engine::Reserve>> replies;
  for (auto& future : futures) replies.push_back(future.get());
  return replies;
}

}  // namespace fs::test_common
