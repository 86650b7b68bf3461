#include "redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sys/time.h>

#include <algorithm>

#include "base/check.h"

namespace fs::redis {
namespace {

using SteadyClock = std::chrono::steady_clock;

timeval ToTimeval(std::chrono::milliseconds duration) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
  return tv;
}

redisContext* Context(void* context) { return static_cast<redisContext*>(context); }

struct ReplyDeleter {
  void operator()(void* reply) const { freeReplyObject(reply); }
};
using OwnedReply = std::unique_ptr<void, ReplyDeleter>;

// Sends one command on a blocking context and returns its reply (connect-time setup only).
base::Result<Reply> RunOne(redisContext* context, const std::vector<std::string>& argv) {
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  for (const std::string& arg : argv) {
    pointers.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  void* raw =
      redisCommandArgv(context, static_cast<int>(argv.size()), pointers.data(), lengths.data());
  if (raw == nullptr) return base::Unavailable(std::string("redis: ") + context->errstr);
  OwnedReply owned(raw);
  return ConvertHiredisReply(raw);
}

std::string Sha1Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  FS_CHECK(EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace

std::string_view HealthName(Health health) { return health == Health::kUp ? "up" : "down"; }

Script::Script(std::string body) : body_(std::move(body)), sha1_hex_(Sha1Hex(body_)) {}

RedisClient::RedisClient(ClientOptions options, std::vector<const Script*> scripts,
                         HealthHook on_health)
    : options_(std::move(options)), scripts_(std::move(scripts)), on_health_(std::move(on_health)) {
  FS_CHECK(options_.pipeline_max >= 1);
  FS_CHECK(options_.queue_max >= 1);
  FS_CHECK(options_.reconnect_backoff_min.count() >= 1);
  thread_ = std::thread([this] { Run(); });
}

RedisClient::~RedisClient() { Stop(); }

void RedisClient::Stop() {
  {
    base::MutexLock lock(mutex_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

void RedisClient::Execute(std::vector<std::string> argv, ReplyCallback done) {
  Pending pending;
  pending.argv = std::move(argv);
  pending.done = std::move(done);
  Enqueue(std::move(pending));
}

void RedisClient::EvalSha(const Script& script, std::vector<std::string> keys,
                          std::vector<std::string> args, ReplyCallback done) {
  Pending pending;
  pending.argv.reserve(3 + keys.size() + args.size());
  pending.argv.push_back("EVALSHA");
  pending.argv.push_back(script.sha1_hex());
  pending.argv.push_back(std::to_string(keys.size()));
  for (std::string& key : keys) pending.argv.push_back(std::move(key));
  for (std::string& arg : args) pending.argv.push_back(std::move(arg));
  pending.done = std::move(done);
  pending.script = &script;
  Enqueue(std::move(pending));
}

void RedisClient::Enqueue(Pending pending) {
  pending.enqueued = SteadyClock::now();
  std::optional<base::Status> refused = TryQueue(pending);
  if (!refused) return cv_.NotifyOne();
  stats_.errors.Increment();
  pending.done(std::move(*refused));
}

std::optional<base::Status> RedisClient::TryQueue(Pending& pending) {
  base::MutexLock lock(mutex_);
  // Checked under the lock the client thread takes to go down, so a command is either
  // refused here or failed by that transition, never stranded in the queue.
  if (stopping_) return base::Unavailable("redis client stopping");
  if (!up_.load(std::memory_order_relaxed)) return base::Unavailable("redis is down");
  if (queue_.size() >= options_.queue_max) return base::ResourceExhausted("redis queue full");
  queue_.push_back(std::move(pending));
  return std::nullopt;
}

void RedisClient::Complete(Pending& pending, base::Result<Reply> result) {
  stats_.latency.Observe(SteadyClock::now() - pending.enqueued);
  if (!result || result->is_error()) {
    stats_.errors.Increment();
  } else {
    stats_.commands.Increment();
  }
  pending.done(std::move(result));
}

void RedisClient::SetHealth(Health health, const base::Status& reason) {
  if (health == Health::kDown) {
    std::deque<Pending> failed;
    {
      base::MutexLock lock(mutex_);
      up_.store(false, std::memory_order_release);
      failed.swap(queue_);
    }
    for (Pending& pending : failed) Complete(pending, base::Unavailable("redis is down"));
  } else {
    base::MutexLock lock(mutex_);
    up_.store(true, std::memory_order_release);
  }
  if (reported_ == health) return;
  reported_ = health;
  if (on_health_) on_health_(health, reason);
}

void RedisClient::FailQueued(const base::Status& status) {
  std::deque<Pending> failed;
  {
    base::MutexLock lock(mutex_);
    failed.swap(queue_);
  }
  for (Pending& pending : failed) Complete(pending, status);
}

base::Status RedisClient::Connect() {
  redisContext* context = redisConnectWithTimeout(options_.url.host.c_str(), options_.url.port,
                                                  ToTimeval(options_.connect_timeout));
  if (context == nullptr) return base::Unavailable("redis: out of memory");
  if (context->err != 0) {
    base::Status status = base::Unavailable(std::string("redis connect: ") + context->errstr);
    redisFree(context);
    return status;
  }
  context_ = context;
  if (redisSetTimeout(context, ToTimeval(options_.command_timeout)) != REDIS_OK) {
    Disconnect();
    return base::Unavailable("redis: cannot set the command timeout");
  }
  std::vector<std::vector<std::string>> setup;
  // AUTH first: nothing else is allowed before it on a server with a password.
  if (!options_.url.password.empty()) {
    if (options_.url.username.empty()) {
      setup.push_back({"AUTH", options_.url.password});
    } else {
      setup.push_back({"AUTH", options_.url.username, options_.url.password});
    }
  }
  if (options_.url.database != 0) {
    setup.push_back({"SELECT", std::to_string(options_.url.database)});
  }
  for (const Script* script : scripts_) setup.push_back({"SCRIPT", "LOAD", script->body()});
  for (const auto& command : setup) {
    auto reply = RunOne(context, command);
    if (!reply || reply->is_error()) {
      base::Status status =
          reply ? base::Unavailable("redis " + command[0] + ": " + reply->text) : reply.error();
      Disconnect();
      return status;
    }
  }
  if (connected_once_) stats_.reconnects.Increment();
  connected_once_ = true;
  return base::Status::Ok();
}

void RedisClient::Disconnect() {
  if (context_ != nullptr) redisFree(Context(context_));
  context_ = nullptr;
}

base::Status RedisClient::RunPipeline(std::vector<Pending>& batch) {
  redisContext* context = Context(context_);
  for (const Pending& pending : batch) {
    std::vector<const char*> pointers;
    std::vector<std::size_t> lengths;
    pointers.reserve(pending.argv.size());
    lengths.reserve(pending.argv.size());
    for (const std::string& arg : pending.argv) {
      pointers.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    // Only appends to the output buffer; the first redisGetReply writes it all at once.
    FS_CHECK(redisAppendCommandArgv(context, static_cast<int>(pending.argv.size()), pointers.data(),
                                    lengths.data()) == REDIS_OK);
  }
  std::vector<Pending> retry;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      base::Status status = base::Unavailable(std::string("redis: ") +
                                              (context->err != 0 ? context->errstr : "no reply"));
      for (std::size_t j = i; j < batch.size(); ++j) Complete(batch[j], status);
      return status;
    }
    OwnedReply owned(raw);
    base::Result<Reply> reply = ConvertHiredisReply(raw);
    Pending& pending = batch[i];
    if (reply && IsNoScriptError(*reply) && pending.script != nullptr && !pending.retried) {
      pending.retried = true;
      retry.push_back(std::move(pending));
      continue;
    }
    Complete(pending, std::move(reply));
  }
  if (!retry.empty()) {
    // Loaded and retried in the next pipeline, ahead of everything queued since.
    base::MutexLock lock(mutex_);
    for (auto it = retry.rbegin(); it != retry.rend(); ++it) {
      stats_.script_reloads.Increment();
      const Script* script = it->script;
      queue_.push_front(std::move(*it));
      Pending load;
      load.argv = {"SCRIPT", "LOAD", script->body()};
      load.done = [](const base::Result<Reply>&) {};  // the retried EVALSHA reports any failure
      load.enqueued = SteadyClock::now();
      queue_.push_front(std::move(load));
    }
  }
  return base::Status::Ok();
}

bool RedisClient::WaitUntilStopping(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  base::MutexLock lock(mutex_);
  while (!stopping_) {
    if (!cv_.WaitUntil(mutex_, deadline)) break;
  }
  return stopping_;
}

void RedisClient::Run() {
  std::chrono::milliseconds backoff = options_.reconnect_backoff_min;
  while (true) {
    if (context_ == nullptr) {
      const base::Status connected = Connect();
      if (!connected.ok()) {
        SetHealth(Health::kDown, connected);
        if (WaitUntilStopping(backoff)) break;
        backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
        continue;
      }
      backoff = options_.reconnect_backoff_min;
      SetHealth(Health::kUp, base::Status::Ok());
    }
    std::vector<Pending> batch;
    {
      base::MutexLock lock(mutex_);
      const auto deadline = SteadyClock::now() + options_.health_check_interval;
      bool woken = true;
      while (woken && !stopping_ && queue_.empty()) woken = cv_.WaitUntil(mutex_, deadline);
      if (!stopping_ && queue_.empty()) {
        Pending ping;
        ping.argv = {"PING"};
        ping.done = [](const base::Result<Reply>&) {};  // a failure marks the client down below
        ping.enqueued = SteadyClock::now();
        queue_.push_back(std::move(ping));
      }
      if (queue_.empty()) break;  // stopping and drained
      const std::size_t take = std::min(queue_.size(), options_.pipeline_max);
      batch.reserve(take);
      for (std::size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const base::Status status = RunPipeline(batch);
    if (!status.ok()) {
      Disconnect();
      SetHealth(Health::kDown, status);
    }
  }
  Disconnect();
  {
    base::MutexLock lock(mutex_);
    up_.store(false, std::memory_order_release);
  }
  FailQueued(base::Unavailable("redis client stopped"));
}

}  // namespace fs::redis
