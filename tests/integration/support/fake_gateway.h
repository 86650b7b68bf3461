// FakeGateway: a Stripe-style payment gateway on 127.0.0.1 for black-box tests of
// --payment-gateway=http. POST /v1/payment_intents with an Idempotency-Key charges once per
// key, like Stripe: a repeated key gets the first answer again and charges nothing. It can
// inject failures: answer 500 to the first N requests of every key, or charge and then stall
// the answer past the client's timeout on the first M requests of every key (the dangerous
// case: the charge happened but the client never heard). Every request and every real charge
// is recorded. Test cards beside success and pm_card_chargeDeclined (402) answer 200 with a
// PaymentIntent that is not `succeeded`: pm_card_requiresPaymentMethod (requires_payment_method,
// decline_code generic_decline), pm_card_requiresAction (requires_action, every time) and
// pm_card_processing (processing, and that first answer is what its key replays, as at
// Stripe; GET /v1/payment_intents/{id} shows it succeeded since); pm_card_rateLimited answers
// 429 with Retry-After: 1 once, then succeeds. requires_action is never stored: every POST and
// every GET of such an intent says requires_action.
//
// Thread-safety: all public methods are safe from any thread. Requests are served on the
// fake's own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fs::itest {

struct FakeGatewayOptions {
  int errors_per_key = 0;  // first N requests of each key: 500, no charge
  int stalls_per_key = 0;  // next M requests: charge (once), then stall the answer
  std::chrono::milliseconds stall{400};
  // Any other POST (a webhook) is recorded; the first N of them get 500 (to test retries).
  int webhook_errors = 0;
};

struct RecordedPost {
  std::string path;
  std::string signature;    // the X-Flashsale-Signature header, "" when absent
  std::string event_id;     // the X-Flashsale-Event-Id header, "" when absent
  std::string request_id;   // the X-Request-Id header, "" when absent
  std::string traceparent;  // the traceparent header, "" when absent
  std::string body;
  int answered = 0;  // the status the fake answered
};

class FakeGateway {
 public:
  explicit FakeGateway(FakeGatewayOptions options);
  ~FakeGateway();
  FakeGateway(const FakeGateway&) = delete;
  FakeGateway& operator=(const FakeGateway&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Real charges (not replays) per idempotency key.
  std::map<std::string, int> ChargesByKey() const;
  // Requests received per idempotency key (retries included).
  std::map<std::string, int> RequestsByKey() const;
  // Every POST to another path than /v1/payment_intents, in arrival order.
  std::vector<RecordedPost> Posts() const;
  // GET /v1/payment_intents/{id} per idempotency key (the intent id is "pi_" + key).
  std::map<std::string, int> IntentReadsByKey() const;
  // Requests that came without an Idempotency-Key header or with a malformed body.
  int malformed_count() const;
  // The Authorization header of the last payment request ("" when absent).
  std::string last_authorization() const;
  // The X-Request-Id header of the last payment request per idempotency key ("" when absent).
  std::map<std::string, std::string> RequestIdsByKey() const;
  // The traceparent header of the last payment request per idempotency key ("" when absent).
  std::map<std::string, std::string> TraceparentsByKey() const;

 private:
  void Accept();
  void Serve(int fd);
  // The answer to GET /v1/payment_intents/{id}.
  std::pair<int, std::string> ReadIntent(const std::string& intent_id);
  // The status and body for one request (records it).
  std::pair<int, std::string> Decide(const std::string& key, const std::string& body, bool& stall,
                                     const std::string& authorization);

  const FakeGatewayOptions options_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  mutable std::mutex mutex_;
  std::vector<std::thread> connections_;                        // guarded by mutex_
  std::map<std::string, int> requests_;                         // guarded by mutex_
  std::map<std::string, int> charges_;                          // guarded by mutex_
  std::map<std::string, std::string> methods_;                  // guarded by mutex_
  std::map<std::string, int> reads_;                            // guarded by mutex_
  std::map<std::string, std::pair<int, std::string>> answers_;  // guarded by mutex_
  int malformed_ = 0;                                           // guarded by mutex_
  std::vector<RecordedPost> posts_;                             // guarded by mutex_
  std::string last_authorization_;                              // guarded by mutex_
  std::map<std::string, std::string> request_ids_;              // guarded by mutex_
  std::map<std::string, std::string> traceparents_;             // guarded by mutex_
};

// The server flags that make `fake` its payment gateway and its event webhook (unsigned POSTs
// to /events, recorded by Posts()).
std::vector<std::string> GatewayAndWebhookFlags(const FakeGateway& fake);

}  // namespace fs::itest
