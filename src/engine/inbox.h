// Inbox: the bounded multi-producer, single-consumer queue that hands commands from the I/O
// threads to the engine's one writer thread.
//
// A ring of `capacity` slots allocated once, each with a sequence number (the bounded queue
// of D. Vyukov): a producer claims a position with one compare-and-swap on the tail and
// publishes its item by advancing the slot's sequence; the consumer reads the slots in
// position order with plain loads and stores. No lock on either path, no allocation after
// construction (moving an item into a slot moves the pointers it owns, not what they own).
// Positions are 64-bit counters, so they never wrap in practice.
//
// Wake-ups: the consumer sleeps only when nothing is queued, and first says so in a flag; a
// producer wakes it only if it finds the flag set. A busy consumer thus costs producers no
// system call, and a sleeping one is woken once per sleep, not once per item. The flag and
// the tail are both sequentially consistent: either the consumer's last look before sleeping
// sees the producer's claim, or the producer sees the flag (no lost wake-up).
//
// Closing: Close() sets a bit in the tail. From then on Push() refuses, and every item pushed
// before stays queued for the consumer, which knows it has seen the last one from Drained().
//
// Memory: capacity * sizeof(Slot) bytes from construction on, touched at once (the sequence
// numbers are written), so what the inbox costs is known at start and never grows.
//
// Thread-safety: Push(), Close() and size() from any thread; PopInto(), Ready(), Drained() and
// WaitFor() from the one consumer thread only. The destructor needs every other thread done.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/thread_annotations.h"

namespace fs::engine {

enum class PushOutcome {
  kPushed,
  kFull,    // `capacity` items are queued
  kClosed,  // Close() was called
};

template <typename T>
class Inbox {
  // A producer that claimed a slot must fill it, or the consumer would wait for it forever.
  static_assert(std::is_nothrow_move_constructible_v<T>);

 public:
  // REQUIRES: capacity > 0.
  explicit Inbox(std::size_t capacity)
      : capacity_(capacity), slots_(std::make_unique<Slot[]>(capacity)) {
    FS_CHECK(capacity > 0);
    for (std::size_t i = 0; i < capacity; ++i)
      slots_[i].sequence.store(i, std::memory_order_relaxed);
  }

  // Destroys the items still queued (none once the consumer saw Drained()).
  ~Inbox() {
    const std::uint64_t tail = tail_.load(std::memory_order_acquire) & ~kClosedBit;
    for (std::uint64_t position = head_; position != tail; ++position) {
      Slot& slot = slots_[position % capacity_];
      if (slot.sequence.load(std::memory_order_acquire) == position + 1)
        std::destroy_at(&slot.item);
    }
  }

  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Moves `item` to the back of the queue (kPushed). Otherwise (kFull, kClosed) `item` is left
  // untouched, so the caller can still answer it. Never blocks; any thread.
  [[nodiscard]] PushOutcome Push(T& item) {
    std::uint64_t position = tail_.load(std::memory_order_relaxed);
    Slot* slot = nullptr;
    for (;;) {
      if ((position & kClosedBit) != 0) return PushOutcome::kClosed;
      slot = &slots_[position % capacity_];
      const std::uint64_t sequence = slot->sequence.load(std::memory_order_acquire);
      const auto lag = static_cast<std::int64_t>(sequence - position);
      if (lag < 0) return PushOutcome::kFull;  // the slot still holds the item of a lap ago
      if (lag > 0) {
        position = tail_.load(std::memory_order_relaxed);  // another producer took it
        continue;
      }
      // seq_cst: ordered before the load of sleeping_ below (see the header comment).
      if (tail_.compare_exchange_weak(position, position + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
        break;
      }
    }
    std::construct_at(&slot->item, std::move(item));
    slot->sequence.store(position + 1, std::memory_order_release);
    if (sleeping_.load(std::memory_order_seq_cst)) Wake();
    return PushOutcome::kPushed;
  }

  // Refuses every later Push() and wakes the consumer. Idempotent; any thread.
  void Close() {
    tail_.fetch_or(kClosedBit, std::memory_order_seq_cst);
    { base::MutexLock lock(mutex_); }
    wake_.NotifyAll();
  }

  // Moves up to `count_max` items, oldest first, to the end of `batch`; returns how many. It
  // stops early at a position claimed by a producer that has not filled it yet. `batch` is the
  // consumer's own vector, reused so that taking a batch allocates nothing. Consumer only.
  std::size_t PopInto(std::vector<T>& batch, std::size_t count_max) {
    std::size_t taken = 0;
    while (taken < count_max) {
      Slot& slot = slots_[head_index_];
      if (slot.sequence.load(std::memory_order_acquire) != head_ + 1) break;
      batch.push_back(std::move(slot.item));
      std::destroy_at(&slot.item);
      // Free for the producer of the next lap.
      slot.sequence.store(head_ + capacity_, std::memory_order_release);
      ++head_;
      head_index_ = head_index_ + 1 == capacity_ ? 0 : head_index_ + 1;
      ++taken;
    }
    if (taken > 0) head_seen_.store(head_, std::memory_order_relaxed);
    return taken;
  }

  // True when an item was pushed and not popped yet (it may still be being filled), or the
  // inbox is closed. Consumer only.
  bool Ready() const {
    const std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
    return (tail & kClosedBit) != 0 || tail != head_;
  }

  // True once the inbox is closed and every item pushed before has been popped: no item can
  // come any more. Consumer only.
  bool Drained() const {
    const std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
    return (tail & kClosedBit) != 0 && (tail & ~kClosedBit) == head_;
  }

  // Sleeps until Ready() or `timeout` passed, whichever is first. Consumer only.
  void WaitFor(std::chrono::nanoseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    base::MutexLock lock(mutex_);
    // seq_cst: ordered before Ready()'s load of the tail (see the header comment).
    sleeping_.store(true, std::memory_order_seq_cst);
    while (!Ready()) {
      if (!wake_.WaitUntil(mutex_, deadline)) break;  // timed out
    }
    sleeping_.store(false, std::memory_order_relaxed);
  }

  // Items pushed and not popped yet; a gauge, exact only when no thread pushes or pops.
  std::size_t size() const {
    // The head first: it never passes the tail read after it.
    const std::uint64_t head = head_seen_.load(std::memory_order_relaxed);
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed) & ~kClosedBit;
    return static_cast<std::size_t>(tail - head);
  }

  std::size_t capacity() const { return capacity_; }

 private:
  // Producers and the consumer write different cache lines (64 bytes on x86-64 and most
  // ARM cores; std::hardware_destructive_interference_size warns in headers with GCC).
  static constexpr std::size_t kCacheLineBytes = 64;
  // The tail's top bit: closed. 2^63 pushes never happen.
  static constexpr std::uint64_t kClosedBit = std::uint64_t{1} << 63;

  struct alignas(kCacheLineBytes) Slot {
    Slot() {}   // the item is constructed by Push()
    ~Slot() {}  // and destroyed by PopInto() or ~Inbox()
    // position + 1: filled for `position`; position: free for a producer of `position`.
    std::atomic<std::uint64_t> sequence{0};
    union {
      T item;
    };
  };

  void Wake() {
    // The first producer to see the flag wakes the consumer; the others need not.
    if (!sleeping_.exchange(false, std::memory_order_seq_cst)) return;
    // Taking the mutex orders the notify after the consumer's wait began or after its check
    // of Ready(), which then sees this push.
    { base::MutexLock lock(mutex_); }
    wake_.NotifyOne();
  }

  const std::size_t capacity_;
  const std::unique_ptr<Slot[]> slots_;
  // The next position to claim, and kClosedBit. Written by producers.
  alignas(kCacheLineBytes) std::atomic<std::uint64_t> tail_{0};
  // The next position to pop and its slot. Consumer only.
  alignas(kCacheLineBytes) std::uint64_t head_ = 0;
  std::size_t head_index_ = 0;
  // head_ for size(), stored once per PopInto().
  std::atomic<std::uint64_t> head_seen_{0};
  // Set by the consumer before it sleeps; read by every push, written rarely.
  alignas(kCacheLineBytes) std::atomic<bool> sleeping_{false};
  base::Mutex mutex_;  // only to sleep and wake; guards nothing else
  base::CondVar wake_;
};

}  // namespace fs::engine
