// KafkaSink (--events kafka): publishes each event to a topic with librdkafka, keyed by SKU so
// one SKU's events land in one partition in order. The producer is idempotent
// (enable.idempotence=true, which implies acks=all and in-order retries): a retry inside the
// client never duplicates or reorders. Publish() produces the batch and flushes; it returns Ok
// only when every message was acknowledged by all in-sync replicas, else kUnavailable and the
// relay retries the batch (duplicates across such retries are possible: at least once).
// Thread-safety: the relay's thread only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "events/sink.h"

namespace fs::events {

struct KafkaOptions {
  std::string brokers;  // bootstrap.servers, e.g. "127.0.0.1:9092"
  std::string topic = "flashsale.events";
  // One Publish() waits at most this long for its acknowledgements.
  std::chrono::milliseconds flush_timeout{10'000};
  // Extra librdkafka properties (tests: none needed beyond brokers of a mock cluster).
  std::map<std::string, std::string> extra;
};

// kInvalidArgument when librdkafka refuses a property; kInternal when the client cannot start.
base::Result<std::unique_ptr<EventSink>> NewKafkaSink(KafkaOptions options);

}  // namespace fs::events
