// Clang thread-safety annotations (-Wthread-safety) and a mutex that carries them.
// Mutex-protected state is declared GUARDED_BY(its_mutex_); functions that expect a lock held
// say REQUIRES(mutex). Under GCC the macros expand to nothing; the clang build in CI
// (scripts/check-style.sh) proves the locking discipline.
// Thread-safety: Mutex, MutexLock and CondVar are as safe as std::mutex and
// std::condition_variable.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define FS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define FS_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) FS_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY FS_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) FS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) FS_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) FS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) FS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) FS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) FS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) FS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) FS_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) FS_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS FS_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace fs::base {

// std::mutex with the annotations the analysis needs (libstdc++'s has none).
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mutex_.lock(); }
  void Unlock() RELEASE() { mutex_.unlock(); }
  bool TryLock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mutex_;
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_.Lock(); }
  ~MutexLock() RELEASE() { mutex_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mutex_;
};

// A condition variable waited on with a held Mutex (the wait releases and retakes it).
class CondVar {
 public:
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

  void Wait(Mutex& mutex) REQUIRES(mutex) {
    std::unique_lock<std::mutex> lock(mutex.mutex_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns false on timeout.
  template <typename Rep, typename Period>
  bool WaitFor(Mutex& mutex, std::chrono::duration<Rep, Period> timeout) REQUIRES(mutex) {
    std::unique_lock<std::mutex> lock(mutex.mutex_, std::adopt_lock);
    const bool woken = cv_.wait_for(lock, timeout) == std::cv_status::no_timeout;
    lock.release();
    return woken;
  }
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex& mutex, std::chrono::time_point<Clock, Duration> deadline) REQUIRES(mutex) {
    std::unique_lock<std::mutex> lock(mutex.mutex_, std::adopt_lock);
    const bool woken = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return woken;
  }

 private:
  std::condition_variable cv_;
};

}  // namespace fs::base
