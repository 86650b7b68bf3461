#include "http/audit_read_pool.h"

#include <exception>
#include <utility>

#include "base/check.h"
#include "log/log_output.h"

namespace fs::http {
namespace {

// Runs the read; an exception (a bug or bad_alloc) is a failed read, not a dead thread.
base::Status ReadGuarded(const AuditReadPool::Job& job, audit::AuditSource& source) {
  try {
    return job.read(source);
  } catch (const std::exception& error) {
    log::Logger("http")->error("audit read threw: {}", error.what());
    return base::Internal("audit read failed");
  }
}

}  // namespace

AuditReadPool::AuditReadPool(Opener opener, AuditReadPoolOptions options)
    : opener_(std::move(opener)), options_(options) {
  FS_CHECK(options_.threads > 0);
  FS_CHECK(options_.queue_max > 0);
  threads_.reserve(options_.threads);
  for (std::size_t index = 0; index < options_.threads; ++index) {
    threads_.emplace_back([this] { Run(); });
  }
}

AuditReadPool::~AuditReadPool() { Stop(); }

bool AuditReadPool::Submit(Job job) {
  {
    base::MutexLock lock(mutex_);
    if (stopping_) return false;
    if (queue_.size() >= options_.queue_max) return false;
    queue_.push_back(std::move(job));
  }
  wake_.NotifyOne();
  return true;
}

void AuditReadPool::Stop() {
  std::deque<Job> not_started;
  {
    base::MutexLock lock(mutex_);
    stopping_ = true;
    not_started.swap(queue_);
  }
  wake_.NotifyAll();
  for (Job& job : not_started) job.failed(base::Unavailable("the server is stopping"));
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

std::optional<AuditReadPool::Job> AuditReadPool::Next() {
  base::MutexLock lock(mutex_);
  while (queue_.empty() && !stopping_) wake_.Wait(mutex_);
  if (queue_.empty()) return std::nullopt;
  Job job = std::move(queue_.front());
  queue_.pop_front();
  return job;
}

void AuditReadPool::Run() {
  Reader reader;
  while (std::optional<Job> job = Next()) RunJob(reader, *job);
}

void AuditReadPool::RunJob(Reader& reader, Job& job) {
  const bool reusable =
      reader.source != nullptr &&
      std::chrono::steady_clock::now() - reader.opened_at < options_.source_age_max;
  if (!reusable) reader.source.reset();
  // A read that fails on a reused source is tried once more on a fresh one.
  const int attempts = reusable ? 2 : 1;
  base::Status status = base::Status::Ok();
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (reader.source == nullptr) {
      auto opened = opener_();
      if (!opened) return job.failed(opened.error());
      reader.source = std::move(*opened);
      reader.opened_at = std::chrono::steady_clock::now();
    }
    status = ReadGuarded(job, *reader.source);
    if (status.ok()) return;
    reader.source.reset();  // the connection may be the cause: the next read opens a new one
  }
  job.failed(status);
}

}  // namespace fs::http
