// ThreadRole: an always-on check that code meant for one thread (the engine's writer) runs
// on it. Bind() on the owning thread, then AssertCurrent() at the top of every method only
// that thread may call; a call from any other thread fails FS_CHECK (a data race on the
// writer's state could sell a unit twice). The check is one thread-id comparison.
// Thread-safety: Bind() and Unbind() happen-before the calls they govern (thread start and
// join order them); AssertCurrent() is safe from any thread.
#pragma once

#include <atomic>
#include <thread>

#include "base/check.h"

namespace fs::base {

class ThreadRole {
 public:
  // The calling thread becomes the owner.
  void Bind() { owner_.store(std::this_thread::get_id(), std::memory_order_release); }
  // No thread owns the role (before the owner starts, after it is joined): any caller passes
  // while nothing else can run concurrently, e.g. recovery before the writer starts.
  void Unbind() { owner_.store(std::thread::id{}, std::memory_order_release); }

  void AssertCurrent() const {
    const std::thread::id owner = owner_.load(std::memory_order_acquire);
    FS_CHECK(owner == std::thread::id{} || owner == std::this_thread::get_id());
  }

 private:
  std::atomic<std::thread::id> owner_{};
};

}  // namespace fs::base
