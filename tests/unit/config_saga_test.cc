// Goal: the checkout-saga and event flags of `flashsale serve` parse to the
// documented defaults and values, and invalid combinations exit with code 2 and a reason.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "app/config.h"

namespace fs::app {
namespace {

CommandLine Serve(std::vector<std::string> args) {
  std::vector<std::string> full = {"flashsale",     "serve",
                                   "--jwt-secret",  "test-jwt-secret-0123456789abcdef0",
                                   "--admin-token", "test-admin-token-0123456789abcdef"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& arg : full) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(ConfigSagaTest, Defaults) {
  const CommandLine parsed = Serve({});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const Config& config = parsed.config;
  EXPECT_EQ(config.payment_gateway, PaymentGatewayKind::kSimulated);
  EXPECT_EQ(config.payment_retry_schedule.delays, core::DefaultRetrySchedule().delays);
  EXPECT_EQ(config.payment_simulated_latency.count(), 0);
  EXPECT_EQ(config.payment_timeout.count(), 5000);
  EXPECT_EQ(config.payment_concurrency, 1024u);
  EXPECT_EQ(config.events, EventSinkKind::kLog);
  EXPECT_TRUE(config.notification_webhook_url.empty());
}

TEST(ConfigSagaTest, EveryFlag) {
  const CommandLine parsed = Serve({"--payment-gateway",
                                    "http",
                                    "--payment-gateway-url",
                                    "http://127.0.0.1:9/pay",
                                    "--payment-retry-schedule",
                                    "50ms,100ms,200ms",
                                    "--payment-simulated-latency-ms",
                                    "500",
                                    "--payment-timeout-ms",
                                    "250",
                                    "--payment-concurrency",
                                    "8",
                                    "--events",
                                    "kafka",
                                    "--kafka-brokers",
                                    "127.0.0.1:9092",
                                    "--kafka-topic",
                                    "orders",
                                    "--webhook-secret",
                                    "k",
                                    "--notification-webhook-url",
                                    "http://127.0.0.1:9/notify"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const Config& config = parsed.config;
  EXPECT_EQ(config.payment_gateway, PaymentGatewayKind::kHttp);
  EXPECT_EQ(config.payment_gateway_url, "http://127.0.0.1:9/pay");
  ASSERT_EQ(config.payment_retry_schedule.delays.size(), 3u);
  EXPECT_EQ(config.payment_retry_schedule.delays[2].count(), 200);
  EXPECT_EQ(config.payment_simulated_latency.count(), 500);
  EXPECT_EQ(config.payment_timeout.count(), 250);
  EXPECT_EQ(config.payment_concurrency, 8u);
  EXPECT_EQ(config.events, EventSinkKind::kKafka);
  EXPECT_EQ(config.kafka_brokers, "127.0.0.1:9092");
  EXPECT_EQ(config.kafka_topic, "orders");
  EXPECT_EQ(config.webhook_secret, "k");
  EXPECT_EQ(config.notification_webhook_url, "http://127.0.0.1:9/notify");
}

TEST(ConfigSagaTest, InvalidValuesExitWithCode2) {
  const std::vector<std::vector<std::string>> bad = {
      {"--payment-gateway", "stripe"},
      {"--payment-gateway", "http"},  // no url
      {"--payment-gateway", "http", "--payment-gateway-url", "ftp://x:1"},
      {"--payment-gateway", "http", "--payment-gateway-url", "https://"},
      {"--payment-gateway", "http", "--payment-gateway-url", "https://x", "--tls-ca-file",
       "/no/such/ca.pem"},
      {"--payment-gateway", "http", "--payment-gateway-url", "https://x",
       "--payment-gateway-key-file", "/no/such/key"},
      {"--payment-retry-schedule", "1h"},
      {"--payment-retry-schedule", ""},
      {"--payment-simulated-latency-ms", "-1"},
      {"--payment-simulated-latency-ms", "60001"},
      {"--payment-timeout-ms", "0"},
      {"--payment-concurrency", "0"},
      {"--payment-concurrency", "4097"},
      {"--events", "stdout"},
      {"--events", "kafka"},    // no brokers
      {"--events", "webhook"},  // no url
      {"--notification-webhook-url", "mailto:x"},
      {"--notification-webhook-url", "http://127.0.0.1:9/notify"},  // unsigned, not allowed
      {"--events", "webhook", "--webhook-url", "http://127.0.0.1:9/events"},
  };
  for (const auto& args : bad) {
    const CommandLine parsed = Serve(args);
    EXPECT_EQ(parsed.action, CommandLine::Action::kExit) << args[0];
    EXPECT_EQ(parsed.exit_code, kExitBadConfig) << args[0];
    EXPECT_FALSE(parsed.err.empty()) << args[0];
  }
}

TEST(ConfigSagaTest, UnsignedWebhooksOnlyWhenAllowed) {
  const CommandLine parsed = Serve({"--events", "webhook", "--webhook-url",
                                    "http://127.0.0.1:9/events", "--webhook-allow-unsigned"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  EXPECT_TRUE(parsed.config.webhook_secret.empty());
}

TEST(ConfigSagaTest, KafkaPropertiesPassThroughWithSecretsFromFiles) {
  const std::string file = ::testing::TempDir() + "/flashsale-kafka-password";
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "sasl-secret\n";
  const CommandLine parsed =
      Serve({"--events", "kafka", "--kafka-brokers", "b:9092", "--kafka-property",
             "security.protocol=SASL_SSL", "--kafka-property", "sasl.password=@" + file,
             "--kafka-property", "sasl.jaas.config=a=b"});
  ASSERT_EQ(parsed.action, CommandLine::Action::kServe) << parsed.err;
  const std::map<std::string, std::string> expected = {{"sasl.jaas.config", "a=b"},
                                                       {"sasl.password", "sasl-secret"},
                                                       {"security.protocol", "SASL_SSL"}};
  EXPECT_EQ(parsed.config.kafka_properties, expected);
  setenv("FLASHSALE_KAFKA_PROPERTIES", "client.id=fs;acks=all", 1);
  const CommandLine from_env = Serve({"--events", "kafka", "--kafka-brokers", "b:9092"});
  unsetenv("FLASHSALE_KAFKA_PROPERTIES");
  ASSERT_EQ(from_env.action, CommandLine::Action::kServe) << from_env.err;
  EXPECT_EQ(from_env.config.kafka_properties.at("client.id"), "fs");
  EXPECT_EQ(from_env.config.kafka_properties.at("acks"), "all");
  for (const std::string bad :
       {"no-equals", "=x", "k=", "bootstrap.servers=x:1", "sasl.password=@/no/such/file"}) {
    const CommandLine refused =
        Serve({"--events", "kafka", "--kafka-brokers", "b:9092", "--kafka-property", bad});
    EXPECT_EQ(refused.exit_code, kExitBadConfig) << bad;
  }
}

}  // namespace
}  // namespace fs::app
