// RedisClient: a small pipelining Redis client on hiredis with one connection and one thread.
//
// Callers (HTTP I/O threads, the engine's writer) never block on Redis. Execute() puts the
// command in a bounded queue and returns; the client thread takes everything queued (up to
// `pipeline_max`), writes it in one go, reads the replies in order, and completes each
// command's callback. So a burst of N concurrent checks costs one write and one read wakeup
// per pipeline, and one connection keeps the commands of a node in FIFO order (a DEL queued
// before a GET is seen by Redis before it).
//
// Failure: connecting and every reply are bounded by `connect_timeout` / `command_timeout`
// (default 50 ms). A timeout, an I/O error or a protocol error closes the connection, fails
// the unanswered commands with kUnavailable and marks the client down; an idle connection is
// PINGed every `health_check_interval` so an outage is noticed without traffic. While down,
// Execute() fails at once (kUnavailable, on the caller's thread) so callers fall back without
// waiting, and the thread reconnects with exponential backoff (`reconnect_backoff_min` doubling up
// to `reconnect_backoff_max`). Health transitions (up/down) are reported once each to the hook.
//
// Scripts: EvalSha() sends EVALSHA; on a NOSCRIPT error (Redis restarted or flushed its script
// cache) the client sends SCRIPT LOAD and the EVALSHA again, once, in the next pipeline.
// Registered scripts are loaded on every (re)connect so NOSCRIPT is rare.
//
// Thread-safety: every public method is safe from any thread. Callbacks run on the client
// thread (or on the caller's thread when the command fails at once) and must not block: post
// the result to the caller's own executor. The client must outlive nothing it calls back into
// after Stop() returned: Stop() completes or fails every queued command before it returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "metrics/prometheus.h"
#include "redis/redis_url.h"
#include "redis/reply.h"

namespace fs::redis {

struct ClientOptions {
  RedisUrl url;
  // A connect and each reply wait at most this long. 50 ms is ~100 round trips on a LAN: a
  // Redis slower than that is treated as down and the node serves from local state instead
  // of making every request wait.
  std::chrono::milliseconds connect_timeout{50};
  std::chrono::milliseconds command_timeout{50};
  // Reconnect attempts start this far apart and double up to the maximum, so a dead Redis
  // costs one failed connect every 2 s, not a storm of them.
  std::chrono::milliseconds reconnect_backoff_min{50};
  std::chrono::milliseconds reconnect_backoff_max{2000};
  // An idle connection is PINGed this often, so a Redis that went away is noticed (and
  // reported in /readyz and metrics) within about this long even without traffic.
  std::chrono::milliseconds health_check_interval{500};
  // Commands waiting at most; beyond it Execute() fails with kResourceExhausted. 100k is
  // several seconds of a node's peak load: past that Redis is not keeping up anyway.
  std::size_t queue_max = 100'000;
  // Commands written in one pipeline at most (bounds the reply wait of the last one).
  std::size_t pipeline_max = 1024;
};

enum class Health : std::uint8_t { kDown = 0, kUp = 1 };
std::string_view HealthName(Health health);

// A Lua script known by its SHA-1 (what EVALSHA names).
class Script {
 public:
  explicit Script(std::string body);
  const std::string& body() const { return body_; }
  const std::string& sha1_hex() const { return sha1_hex_; }

 private:
  std::string body_;
  std::string sha1_hex_;
};

// Command latency buckets, seconds: a healthy local Redis answers in 0.1-1 ms; the top
// buckets catch pipelines waiting on the 50 ms timeout.
inline constexpr std::array<double, 10> kRedisLatencyBucketsSeconds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1};

struct ClientStats {
  ClientStats() : latency(kRedisLatencyBucketsSeconds) {}
  metrics::Counter commands;        // completed with a reply (errors included)
  metrics::Counter errors;          // failed: down, timeout, I/O, full queue, error replies
  metrics::Counter reconnects;      // connections made after the first
  metrics::Counter script_reloads;  // NOSCRIPT answered by SCRIPT LOAD
  metrics::Histogram latency;       // from Execute() to the reply
};

using ReplyCallback = std::function<void(base::Result<Reply>)>;
using HealthHook = std::function<void(Health health, const base::Status& reason)>;

class RedisClient {
 public:
  // Starts the client thread, which connects in the background (the client is down until the
  // first connect succeeds). `scripts` are loaded on every connect and must outlive the
  // client. `on_health` runs on the client thread at each transition; may be empty.
  RedisClient(ClientOptions options, std::vector<const Script*> scripts, HealthHook on_health);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Queues `argv` (argv[0] is the command). `done` runs exactly once.
  void Execute(std::vector<std::string> argv, ReplyCallback done);
  // EVALSHA script.sha1 numkeys keys... args... with one reload-and-retry on NOSCRIPT.
  // REQUIRES: `script` outlives the client.
  void EvalSha(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
               ReplyCallback done);

  Health health() const {
    return up_.load(std::memory_order_acquire) ? Health::kUp : Health::kDown;
  }
  const ClientStats& stats() const { return stats_; }
  const ClientOptions& options() const { return options_; }

  // Completes what is queued (if connected), fails the rest, joins the thread. Idempotent.
  void Stop();

 private:
  struct Pending {
    std::vector<std::string> argv;
    ReplyCallback done;
    const Script* script = nullptr;  // set for EVALSHA: reload and retry once on NOSCRIPT
    bool retried = false;
    std::chrono::steady_clock::time_point enqueued;
  };

  void Enqueue(Pending pending);
  void Run();
  // Connects, selects the database and loads the scripts; sets context_ on success.
  base::Status Connect();
  void Disconnect();
  // Writes the batch, reads its replies and completes them. Not ok: the connection broke;
  // the commands not answered were failed with kUnavailable.
  base::Status RunPipeline(std::vector<Pending>& batch);
  // Queues `pending` (moved from) or says why not (`pending` untouched).
  std::optional<base::Status> TryQueue(Pending& pending);
  void Complete(Pending& pending, base::Result<Reply> result);
  void SetHealth(Health health, const base::Status& reason);
  // Fails everything queued with `status` (client thread, while down or stopping).
  void FailQueued(const base::Status& status);
  // Sleeps up to `timeout` or until Stop(); true when stopping.
  bool WaitUntilStopping(std::chrono::milliseconds timeout);

  const ClientOptions options_;
  const std::vector<const Script*> scripts_;
  const HealthHook on_health_;
  ClientStats stats_;
  std::atomic<bool> up_{false};

  base::Mutex mutex_;
  base::CondVar cv_;
  std::deque<Pending> queue_ GUARDED_BY(mutex_);
  bool stopping_ GUARDED_BY(mutex_) = false;

  // Client thread only.
  void* context_ = nullptr;  // redisContext*
  std::optional<Health> reported_;
  bool connected_once_ = false;
  std::thread thread_;
};

}  // namespace fs::redis
