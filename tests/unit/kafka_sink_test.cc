// Goal: the Kafka event sink against librdkafka's built-in mock cluster (no broker can be
// installed here): events published through an idempotent producer keyed by SKU are consumed
// back complete, once each, and in per-SKU order; an unreachable cluster fails Publish() so
// the relay retries instead of advancing its cursor.
#include "events/kafka_sink.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fs::events {
namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* kafka) const { rd_kafka_destroy(kafka); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

std::vector<store::StoredEvent> MakeEvents(int skus, int per_sku) {
  std::vector<store::StoredEvent> events;
  std::int64_t id = 0;
  for (int seq = 1; seq <= per_sku; ++seq) {
    for (int sku = 0; sku < skus; ++sku) {
      store::StoredEvent stored;
      stored.id = ++id;
      stored.event.sku_id = "sku-" + std::to_string(sku);
      stored.event.sequence = seq;
      stored.event.event_id = stored.event.sku_id + ":" + std::to_string(seq);
      stored.event.type = "reservation.created";
      stored.event.user_id = "u";
      // Every other event names the request behind it (the X-Request-Id header).
      stored.event.payload_json =
          seq % 2 == 0 ? "{\"request_id\":\"req-" + std::to_string(seq) + "\"}" : "{}";
      events.push_back(std::move(stored));
    }
  }
  return events;
}

std::int64_t SequenceOf(const std::string& value) {
  const std::string key = "\"sequence\":";
  const std::size_t at = value.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(value.substr(at + key.size()));
}

constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// The value of header `name` of `message`, or "" when it has none.
std::string HeaderOf(rd_kafka_message_t* message, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return "";
  const void* value = nullptr;
  std::size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "";
  }
  return std::string(static_cast<const char*>(value), size);
}

TEST(KafkaSinkTest, PublishesKeyedBySkuAndConsumesBackInOrder) {
  char error[512];
  KafkaHandle mock_owner(
      rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), error, sizeof(error)));
  ASSERT_NE(mock_owner, nullptr) << error;
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(mock_owner.get(), 3);
  ASSERT_NE(cluster, nullptr);
  const std::string brokers = rd_kafka_mock_cluster_bootstraps(cluster);
  const std::string topic = "flashsale.events";
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster, topic.c_str(), 4, 3), RD_KAFKA_RESP_ERR_NO_ERROR);

  {
    auto sink = NewKafkaSink({brokers, topic, std::chrono::milliseconds(10'000), {}});
    ASSERT_TRUE(sink.has_value()) << sink.error().ToString();
    const auto events = MakeEvents(3, 10);
    ASSERT_TRUE((*sink)->Publish({events.begin(), events.begin() + 12}, "").ok());
    const auto status = (*sink)->Publish({events.begin() + 12, events.end()}, kTraceparent);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [key, value] :
       std::map<std::string, std::string>{{"bootstrap.servers", brokers},
                                          {"group.id", "test"},
                                          {"auto.offset.reset", "earliest"},
                                          {"enable.partition.eof", "false"}}) {
    ASSERT_EQ(rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)),
              RD_KAFKA_CONF_OK)
        << error;
  }
  KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error)));
  ASSERT_NE(consumer, nullptr) << error;
  rd_kafka_poll_set_consumer(consumer.get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(consumer.get(), topics), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);

  std::map<std::string, std::vector<std::int64_t>> by_sku;
  std::map<std::string, std::int32_t> partition_of;
  std::size_t received = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (received < 30 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 200);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const std::string key(static_cast<const char*>(message->key), message->key_len);
      const std::string value(static_cast<const char*>(message->payload), message->len);
      const std::int64_t sequence = SequenceOf(value);
      by_sku[key].push_back(sequence);
      // The request id and the publish's traceparent travel as headers: events 13-30 (from
      // sequence 5 on) were published with a traceparent, the first 12 without.
      EXPECT_EQ(HeaderOf(message, "X-Request-Id"),
                sequence % 2 == 0 ? "req-" + std::to_string(sequence) : "");
      EXPECT_EQ(HeaderOf(message, "traceparent"), sequence >= 5 ? kTraceparent : "");
      // One SKU, one partition: that is what keeps its events in order.
      auto [it, inserted] = partition_of.emplace(key, message->partition);
      EXPECT_EQ(it->second, message->partition) << key;
      ++received;
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(consumer.get());
  EXPECT_EQ(received, 30u);
  ASSERT_EQ(by_sku.size(), 3u);
  const std::vector<std::int64_t> expected = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  for (const auto& [sku, sequences] : by_sku) EXPECT_EQ(sequences, expected) << sku;
  consumer.reset();
  rd_kafka_mock_cluster_destroy(cluster);
}

TEST(KafkaSinkTest, UnreachableClusterFailsThePublish) {
  // Nothing listens on port 1: the flush times out and Publish reports it.
  auto sink = NewKafkaSink({"127.0.0.1:1", "t", std::chrono::milliseconds(500), {}});
  ASSERT_TRUE(sink.has_value()) << sink.error().ToString();
  const auto status = (*sink)->Publish(MakeEvents(1, 1), "");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), base::StatusCode::kUnavailable);
}

TEST(KafkaSinkTest, RefusesUnknownProperties) {
  auto sink = NewKafkaSink(
      {"127.0.0.1:9092", "t", std::chrono::milliseconds(500), {{"no.such.property", "1"}}});
  ASSERT_FALSE(sink.has_value());
  EXPECT_EQ(sink.error().code(), base::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fs::events
