#include "redis/shared_rate_limiter.h"

#include <memory>

#include "log/log_output.h"
#include "redis/rate_limit_script.h"

namespace fs::redis {

SharedRateLimiter::SharedRateLimiter(RedisClient& client, ratelimit::RateLimiter& local,
                                     const base::Clock& clock)
    : client_(client), local_(local), clock_(clock) {}

const Script& SharedRateLimiter::CheckScript() {
  static const Script script(RateLimitScriptBody());
  return script;
}

ratelimit::Decision SharedRateLimiter::Fallback(const ratelimit::RequestIdentity& identity) {
  fallbacks_.fetch_add(1, std::memory_order_relaxed);
  return local_.Check(identity);
}

void SharedRateLimiter::Check(ratelimit::RequestIdentity identity,
                              ratelimit::DecisionCallback done) {
  if (client_.health() == Health::kDown) return done(Fallback(identity));
  ScriptCall call = BuildRateLimitCall(identity, local_.options(), base::ToMillis(clock_.Now()));
  auto held = std::make_shared<ratelimit::RequestIdentity>(std::move(identity));
  client_.EvalSha(CheckScript(), std::move(call.keys), std::move(call.args),
                  [this, held, done = std::move(done)](base::Result<Reply> reply) {
                    if (!reply)
                      return done(Fallback(*held));  // down or timed out: logged by the client
                    auto outcome = ParseRateLimitReply(*reply);
                    if (!outcome) {
                      // A script error is a bug or a misconfigured Redis, not an outage: say it
                      // once.
                      if (!reported_bad_reply_.exchange(true, std::memory_order_relaxed)) {
                        log::Logger("redis")->error(
                            "redis rate-limit check failed ({}); using local buckets for such "
                            "requests (logged once)",
                            outcome.error().message());
                      }
                      return done(Fallback(*held));
                    }
                    done(local_.Record(*held, *outcome));
                  });
}

}  // namespace fs::redis
