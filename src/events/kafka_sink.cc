// Adapter around librdkafka's C API: every failure becomes a Status here.
#include "events/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <string>

namespace fs::events {
namespace {

struct DeliveryCounts {
  std::atomic<std::size_t> delivered{0};
  std::atomic<std::size_t> failed{0};
  std::string last_error;  // written by the delivery callback (inside flush/poll on our thread)
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* counts = static_cast<DeliveryCounts*>(opaque);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    counts->failed.fetch_add(1);
    counts->last_error = rd_kafka_err2str(message->err);
  } else {
    counts->delivered.fetch_add(1);
  }
}

struct KafkaDeleter {
  void operator()(rd_kafka_t* kafka) const { rd_kafka_destroy(kafka); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
};

class KafkaSink final : public EventSink {
 public:
  KafkaSink(KafkaOptions options, std::unique_ptr<DeliveryCounts> counts,
            std::unique_ptr<rd_kafka_t, KafkaDeleter> producer)
      : options_(std::move(options)),
        counts_(std::move(counts)),
        producer_(std::move(producer)),
        topic_(rd_kafka_topic_new(producer_.get(), options_.topic.c_str(), nullptr)) {}

  bool ok() const { return topic_ != nullptr; }

  ~KafkaSink() override {
    // Best effort: deliveries still in flight at shutdown are republished by the next run.
    rd_kafka_flush(producer_.get(), 2000);
    topic_.reset();  // before the producer
  }

  std::string_view name() const override { return "kafka"; }

  base::Status Publish(const std::vector<store::StoredEvent>& events,
                       std::string_view traceparent) override {
    counts_->delivered.store(0);
    counts_->failed.store(0);
    for (const auto& stored : events) {
      const std::string value = RenderEventJson(stored.event);
      const std::string request_id = RequestIdOfEvent(stored.event);
      const rd_kafka_resp_err_t err = Produce(stored.event.sku_id, value, request_id, traceparent);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_flush(producer_.get(), static_cast<int>(options_.flush_timeout.count()));
        return base::Unavailable(std::string("kafka produce: ") + rd_kafka_err2str(err));
      }
      rd_kafka_poll(producer_.get(), 0);
    }
    const rd_kafka_resp_err_t flushed =
        rd_kafka_flush(producer_.get(), static_cast<int>(options_.flush_timeout.count()));
    if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return base::Unavailable(std::string("kafka flush: ") + rd_kafka_err2str(flushed));
    }
    if (counts_->failed.load() > 0 || counts_->delivered.load() != events.size()) {
      return base::Unavailable("kafka: " + std::to_string(counts_->failed.load()) +
                               " deliveries failed: " + counts_->last_error);
    }
    return base::Status::Ok();
  }

 private:
  // One message keyed by the SKU (RD_KAFKA_PARTITION_UA: the partitioner hashes the key to a
  // partition), with the headers X-Request-Id (the request behind the event) and traceparent
  // (the relay's publish span) when there are. The array form of produce, not producev: that
  // one's macros are C casts that -Werror refuses. librdkafka copies value, key and headers.
  rd_kafka_resp_err_t Produce(const std::string& key, const std::string& value,
                              const std::string& request_id, std::string_view traceparent) {
    std::array<rd_kafka_vu_t, 7> fields{};
    std::size_t count = 0;
    fields[count].vtype = RD_KAFKA_VTYPE_RKT;
    fields[count++].u.rkt = topic_.get();
    fields[count].vtype = RD_KAFKA_VTYPE_PARTITION;
    fields[count++].u.i32 = RD_KAFKA_PARTITION_UA;
    fields[count].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    fields[count++].u.i = RD_KAFKA_MSG_F_COPY;
    fields[count].vtype = RD_KAFKA_VTYPE_VALUE;
    fields[count].u.mem.ptr = const_cast<char*>(value.data());
    fields[count++].u.mem.size = value.size();
    fields[count].vtype = RD_KAFKA_VTYPE_KEY;
    fields[count].u.mem.ptr = const_cast<char*>(key.data());
    fields[count++].u.mem.size = key.size();
    if (!request_id.empty()) {
      fields[count].vtype = RD_KAFKA_VTYPE_HEADER;
      fields[count].u.header.name = "X-Request-Id";
      fields[count].u.header.val = request_id.data();
      fields[count++].u.header.size = static_cast<ssize_t>(request_id.size());
    }
    if (!traceparent.empty()) {
      fields[count].vtype = RD_KAFKA_VTYPE_HEADER;
      fields[count].u.header.name = "traceparent";
      fields[count].u.header.val = traceparent.data();
      fields[count++].u.header.size = static_cast<ssize_t>(traceparent.size());
    }
    rd_kafka_error_t* error = rd_kafka_produceva(producer_.get(), fields.data(), count);
    if (error == nullptr) return RD_KAFKA_RESP_ERR_NO_ERROR;
    const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    return code;
  }

  const KafkaOptions options_;
  std::unique_ptr<DeliveryCounts> counts_;
  std::unique_ptr<rd_kafka_t, KafkaDeleter> producer_;
  std::unique_ptr<rd_kafka_topic_t, TopicDeleter> topic_;
};

}  // namespace

base::Result<std::unique_ptr<EventSink>> NewKafkaSink(KafkaOptions options) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> settings = {
      {"bootstrap.servers", options.brokers},
      // Durability and order are set explicitly: no loss once acknowledged, no duplicates or
      // reordering from the client's own retries.
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"max.in.flight.requests.per.connection", "5"},
      {"linger.ms", "5"},
      {"message.timeout.ms", std::to_string(options.flush_timeout.count())},
  };
  for (const auto& [key, value] : options.extra) settings[key] = value;
  char error[512];
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return base::InvalidArgument("kafka property " + key + ": " + error);
    }
  }
  auto counts = std::make_unique<DeliveryCounts>();
  rd_kafka_conf_set_dr_msg_cb(conf, &OnDelivery);
  rd_kafka_conf_set_opaque(conf, counts.get());
  // rd_kafka_new takes ownership of conf on success only.
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (producer == nullptr) {
    rd_kafka_conf_destroy(conf);
    return base::Internal(std::string("kafka producer: ") + error);
  }
  auto sink = std::make_unique<KafkaSink>(std::move(options), std::move(counts),
                                          std::unique_ptr<rd_kafka_t, KafkaDeleter>(producer));
  if (!sink->ok()) {
    return base::Internal(std::string("kafka topic: ") + rd_kafka_err2str(rd_kafka_last_error()));
  }
  return std::unique_ptr<EventSink>(std::move(sink));
}

}  // namespace fs::events
