// Goal: the buyers' e-mails (--smtp-url) against a real SMTP server on 127.0.0.1. A paid order
// brings its buyer a confirmation (sale name, units, amount, order id) and a declined one a
// failure notice (the reason, the unit back in stock), to the checkout token's `email` claim,
// over STARTTLS with AUTH, the server's certificate verified against the test's CA. An order
// whose token had no (valid) claim gets no mail. A mail server that is down, then answers 451,
// delays the mails but loses none and sends none twice; a recipient refused for good (550) is
// skipped and the mails behind it still go out.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/temp_dir.h"
#include "support/free_port.h"
#include "support/server_test.h"
#include "support/smtp_server.h"
#include "support/tls_certificates.h"

namespace fs::itest {
namespace {

constexpr char kSku[] = "mail-sku";
constexpr char kSaleName[] = "Café Crème Sneaker — Édition limitée";
constexpr char kFrom[] = "orders@shop.example";
constexpr char kSmtpUser[] = "flashsale";
constexpr char kSmtpPassword[] = "smtp-password-for-tests";

std::string Base64Decode(std::string text) {
  std::erase_if(text, [](char c) { return c == '\r' || c == '\n' || c == ' '; });
  std::string out(3 * text.size() / 4 + 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) return "(not base64)";
  out.resize(static_cast<std::size_t>(written));
  while (text.ends_with('=')) {  // EVP_DecodeBlock counts padding as zero bytes
    text.pop_back();
    out.pop_back();
  }
  return out;
}

// A Subject of RFC 2047 "=?UTF-8?B?...?=" words (or plain ASCII) as UTF-8 text.
std::string DecodedSubject(const std::string& value) {
  std::string out;
  std::size_t at = 0;
  bool encoded = false;
  while ((at = value.find("=?UTF-8?B?", at)) != std::string::npos) {
    const std::size_t end = value.find("?=", at + 10);
    if (end == std::string::npos) break;
    out += Base64Decode(value.substr(at + 10, end - at - 10));
    at = end + 2;
    encoded = true;
  }
  return encoded ? out : value;
}

// Reserves and checks out one unit for `user` with `card`, the checkout token carrying `email`
// (none when empty). Returns the order id.
std::string Buy(HttpClient& http, const std::string& user, const std::string& card,
                const std::string& email) {
  const HttpResponse reserved = Reserve(http, ReserveRequest().Sku(kSku).User(user));
  EXPECT_EQ(reserved.status, 201) << reserved.Describe();
  const std::string body =
      "{\"reservation_id\":" + JsonQuote(BodyField(reserved, "reservation_id")) +
      ",\"payment_method_id\":" + JsonQuote(card) + "}";
  const HttpResponse order = http.Post(
      "/api/v1/checkout", body, email.empty() ? UserAuth(user) : UserAuthWithEmail(user, email));
  EXPECT_EQ(order.status, 202) << order.Describe();
  return BodyField(order, "order_id");
}

// Waits (held reads) until the order left PENDING; returns its status.
std::string SettledStatus(HttpClient& http, const std::string& id, const std::string& user) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string status;
  do {
    status =
        BodyField(http.Get("/api/v1/orders/" + id + "?wait_seconds=2", UserAuth(user)), "status");
  } while (status == "PENDING" && std::chrono::steady_clock::now() < deadline);
  return status;
}

// The mails once there are at least `count` (or what arrived within the bound).
std::vector<ReceivedMail> AwaitMails(const SmtpServer& smtp, std::size_t count,
                                     std::chrono::seconds bound = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  std::vector<ReceivedMail> mails = smtp.Messages();
  while (mails.size() < count && std::chrono::steady_clock::now() < deadline) {
    // Polling the server's mail directory: files appear when a mail is accepted.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    mails = smtp.Messages();
  }
  return mails;
}

::testing::AssertionResult StartWithSale(ServerProcess& server) {
  ::testing::AssertionResult started = server.Start();
  if (!started) return started;
  HttpClient http(server.port());
  SaleSpec sale;
  sale.sku_id = kSku;
  sale.name = kSaleName;
  sale.price_cents = 12999;
  return CreateSaleOk(http, sale);
}

class EmailTest : public ::testing::Test {
 protected:
  ~EmailTest() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::filesystem::path dir_ = test_common::MakeTempDirOrAbort("flashsale-mail");
};

TEST_F(EmailTest, PaidAndDeclinedOrdersMailTheirBuyersOverStartTlsWithAuth) {
  Certificates certificates;
  ASSERT_TRUE(MakeCertificates(dir_, certificates));
  SmtpServerOptions smtp_options;
  smtp_options.tls_certificate = certificates.certificate;
  smtp_options.tls_key = certificates.key;
  smtp_options.user = kSmtpUser;
  smtp_options.password = kSmtpPassword;
  SmtpServer smtp(smtp_options);
  ASSERT_TRUE(smtp.Start());
  std::ofstream(dir_ / "smtp.password") << kSmtpPassword << "\n";
  ServerOptions options;
  options.extra_args = {"--smtp-url",           smtp.url(),
                        "--smtp-from",          kFrom,
                        "--smtp-password-file", (dir_ / "smtp.password").string(),
                        "--tls-ca-file",        certificates.ca.string()};
  ServerProcess server(options);
  ASSERT_TRUE(StartWithSale(server));
  HttpClient http(server.port());

  // No claim, and a claim that is no plain address: bought, paid, never mailed. Settled
  // first, so their events are behind the relay before the mailed ones.
  const std::string silent = Buy(http, "no-claim", "pm_card_visa", "");
  const std::string odd = Buy(http, "odd-claim", "pm_card_visa", "Eve <eve@example.com>");
  EXPECT_EQ(SettledStatus(http, silent, "no-claim"), "PAID");
  EXPECT_EQ(SettledStatus(http, odd, "odd-claim"), "PAID");
  const std::string paid = Buy(http, "alice", "pm_card_visa", "alice@example.com");
  EXPECT_EQ(SettledStatus(http, paid, "alice"), "PAID");
  const std::string declined = Buy(http, "bob", "pm_card_chargeDeclined", "bob@example.com");
  EXPECT_EQ(SettledStatus(http, declined, "bob"), "FAILED");

  const std::vector<ReceivedMail> mails = AwaitMails(smtp, 2);
  ASSERT_EQ(mails.size(), 2u);
  const ReceivedMail& confirmation = mails[0];
  EXPECT_EQ(confirmation.envelope_from, kFrom);
  EXPECT_EQ(confirmation.envelope_to, "alice@example.com");
  EXPECT_TRUE(confirmation.tls);
  EXPECT_EQ(confirmation.auth_user, kSmtpUser);
  EXPECT_EQ(confirmation.headers.at("From"), std::string("<") + kFrom + ">");
  EXPECT_EQ(confirmation.headers.at("To"), "<alice@example.com>");
  EXPECT_EQ(DecodedSubject(confirmation.headers.at("Subject")),
            std::string("Your order for ") + kSaleName + " is confirmed");
  EXPECT_EQ(confirmation.headers.at("Content-Transfer-Encoding"), "base64");
  const std::string& message_id = confirmation.headers.at("Message-ID");
  EXPECT_TRUE(message_id.starts_with("<" + std::string(kSku))) << message_id;
  EXPECT_TRUE(message_id.ends_with("@shop.example>")) << message_id;
  const std::string text = Base64Decode(confirmation.body);
  EXPECT_NE(text.find(std::string("Sale:     ") + kSaleName), std::string::npos) << text;
  EXPECT_NE(text.find("Units:    1"), std::string::npos) << text;
  EXPECT_NE(text.find("Amount:   129.99 EUR"), std::string::npos) << text;
  EXPECT_NE(text.find("Order id: " + paid), std::string::npos) << text;

  const ReceivedMail& notice = mails[1];
  EXPECT_EQ(notice.envelope_to, "bob@example.com");
  EXPECT_EQ(DecodedSubject(notice.headers.at("Subject")),
            std::string("Your order for ") + kSaleName + " could not be paid");
  const std::string failure = Base64Decode(notice.body);
  EXPECT_NE(failure.find("card_declined"), std::string::npos) << failure;
  EXPECT_NE(failure.find("went back to stock"), std::string::npos) << failure;
  EXPECT_NE(failure.find("Order id: " + declined), std::string::npos) << failure;
  EXPECT_NE(notice.headers.at("Message-ID"), message_id);
  ASSERT_TRUE(server.Stop());
}

TEST_F(EmailTest, AMailServerThatIsDownThenBusyDelaysMailsButLosesAndDoublesNone) {
  SmtpServerOptions smtp_options;
  smtp_options.port = FreePort();
  smtp_options.fail_first = 2;                 // 451 twice, once it is up
  smtp_options.reject = {"gone@example.com"};  // 550: refused for good
  SmtpServer smtp(smtp_options);
  ServerOptions options;
  options.extra_args = {"--smtp-url", smtp.url(), "--smtp-from", kFrom};
  ServerProcess server(options);
  ASSERT_TRUE(StartWithSale(server));
  HttpClient http(server.port());
  // Both orders settle while no mail server listens (connection refused: retried).
  const std::string refused = Buy(http, "gone", "pm_card_visa", "gone@example.com");
  const std::string delayed = Buy(http, "carol", "pm_card_visa", "carol@example.com");
  EXPECT_EQ(SettledStatus(http, refused, "gone"), "PAID");
  EXPECT_EQ(SettledStatus(http, delayed, "carol"), "PAID");
  ASSERT_TRUE(smtp.Start());
  const std::vector<ReceivedMail> mails = AwaitMails(smtp, 1);
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0].envelope_to, "carol@example.com");
  EXPECT_FALSE(mails[0].tls);  // the server offers no STARTTLS: plain, as configured
  EXPECT_NE(Base64Decode(mails[0].body).find("Order id: " + delayed), std::string::npos);
  // Nothing else comes: the refused mail is not retried, the delivered one not sent again.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(smtp.Messages().size(), 1u);
  EXPECT_TRUE(server.WaitForStderr("refused for good"));
  const std::string metrics = http.Get("/metrics").body;
  EXPECT_NE(metrics.find("flashsale_emails_total{outcome=\"sent\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("flashsale_emails_total{outcome=\"rejected\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("flashsale_relay_lag_seconds{sink=\"email\"}"), std::string::npos);
  ASSERT_TRUE(server.Stop());
}

}  // namespace
}  // namespace fs::itest
