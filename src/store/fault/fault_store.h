// FaultStore wraps a real Store and fails commits on command, for tests and simulation of
// failing disks: the writer must answer 503 and leave memory unchanged.
// Thread-safety: the fault switches are atomic; the Store calls follow the Store rules.
#pragma once

#include <atomic>
#include <memory>

#include "store/store.h"

namespace fs::store {

class FaultStore final : public Store {
 public:
  explicit FaultStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}

  // The next `count` commits fail with `code` without touching the inner store.
  void FailNextCommits(int count, base::StatusCode code = base::StatusCode::kUnavailable) {
    fail_code_.store(code);
    fail_count_.store(count);
  }
  int commit_count() const { return commit_count_.load(); }

  base::Result<LoadedState> Load(base::Time idempotency_since) override {
    return inner_->Load(idempotency_since);
  }
  base::Status Commit(const core::Mutations& mutations) override {
    commit_count_.fetch_add(1);
    if (fail_count_.load() > 0) {
      fail_count_.fetch_sub(1);
      return base::Status(fail_code_.load(), "injected commit failure");
    }
    return inner_->Commit(mutations);
  }
  base::Result<std::vector<StoredCounters>> ReadCounters() override {
    return inner_->ReadCounters();
  }

 private:
  std::unique_ptr<Store> inner_;
  std::atomic<int> fail_count_{0};
  std::atomic<base::StatusCode> fail_code_{base::StatusCode::kUnavailable};
  std::atomic<int> commit_count_{0};
};

}  // namespace fs::store
