// Goal: the pieces of the buyers' e-mails that need no mail server. Which addresses are used
// (the JWT `email` claim, --smtp-from): plain ones only, so nothing from a token can reach an
// SMTP command or a header it was not meant for. What the mail says for order.confirmed and
// order.failed, with a Message-ID fixed by the event (a resend is the same mail), a Subject
// that carries any sale name safely, and nothing for other events or buyers without an
// address. And the --smtp-* flags.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <string>
#include <vector>

#include "app/config.h"
#include "auth/jwt.h"
#include "base/email_address.h"
#include "core/order.h"
#include "events/order_mail.h"

namespace fs {
namespace {

TEST(EmailAddressTest, PlainAddressesOnly) {
  for (const char* good : {"a@b.co", "alice.smith+sale@mail.example.com", "x_y-z@a-b.c",
                           "o'brien@example.ie", "1@2.3"}) {
    EXPECT_TRUE(base::IsValidEmailAddress(good)) << good;
  }
  const std::string long_local = std::string(65, 'a') + "@example.com";
  const std::string long_label = "a@" + std::string(64, 'b') + ".com";
  const std::string long_total = std::string(64, 'a') + "@" + std::string(63, 'b') + "." +
                                 std::string(63, 'c') + "." + std::string(63, 'd') + ".com";
  for (const std::string& bad : {std::string(),
                                 std::string("plain"),
                                 std::string("@example.com"),
                                 std::string("a@"),
                                 std::string("a@@b.c"),
                                 std::string("a b@c.d"),
                                 std::string("a@b c.d"),
                                 std::string("\"quoted\"@b.c"),
                                 std::string("Eve <eve@b.c>"),
                                 std::string("a@b.c>"),
                                 std::string("a@b.c\r\nBcc: x@y.z"),
                                 std::string("a@b.c\nRCPT TO:<x@y.z>"),
                                 std::string(".a@b.c"),
                                 std::string("a.@b.c"),
                                 std::string("a..b@c.d"),
                                 std::string("a@-b.c"),
                                 std::string("a@b-.c"),
                                 std::string("a@b..c"),
                                 std::string("a@[127.0.0.1]"),
                                 std::string("a,b@c.d"),
                                 std::string("a;b@c.d"),
                                 std::string("a(b)@c.d"),
                                 std::string("a\\b@c.d"),
                                 std::string("é@b.c"),
                                 std::string("a@b.c\0d", 7),
                                 long_local,
                                 long_label,
                                 long_total}) {
    EXPECT_FALSE(base::IsValidEmailAddress(bad)) << bad;
  }
}

TEST(EmailClaimTest, APlainAddressIsKeptAnythingElseIgnored) {
  const base::Time now = base::TimeFromMillis(1'800'000'000'000);
  const auth::JwtVerifier verifier("secret");
  auth::Claims claims;
  claims.subject = "buyer-1";
  claims.expires_at_seconds = 1'800'000'060;
  claims.email = "buyer@example.com";
  auth::VerifyResult verified = verifier.Verify(auth::SignHs256(claims, "secret"), now);
  ASSERT_EQ(verified.error, auth::JwtError::kOk);
  EXPECT_EQ(verified.claims.email, "buyer@example.com");
  // Not a plain address, or not a string: the token is still good, there is just no e-mail.
  for (const char* payload :
       {R"({"sub":"b","exp":1800000060,"email":"Eve <eve@x.y>"})",
        R"({"sub":"b","exp":1800000060,"email":"a@b.c\r\nBcc: all@x.y"})",
        R"({"sub":"b","exp":1800000060,"email":42})", R"({"sub":"b","exp":1800000060})"}) {
    const std::string header = R"({"alg":"HS256","typ":"JWT"})";
    const std::string input = auth::Base64UrlEncode(header) + "." + auth::Base64UrlEncode(payload);
    const std::string token =
        input + "." + auth::Base64UrlEncode(auth::HmacSha256("secret", input));
    verified = verifier.Verify(token, now);
    ASSERT_EQ(verified.error, auth::JwtError::kOk) << payload;
    EXPECT_EQ(verified.claims.subject, "b");
    EXPECT_TRUE(verified.claims.email.empty()) << payload;
  }
}

std::string Base64Decode(std::string text) {
  std::erase_if(text, [](char c) { return c == '\r' || c == '\n'; });
  std::string out(3 * text.size() / 4 + 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  out.resize(static_cast<std::size_t>(written));
  while (text.ends_with('=')) {
    text.pop_back();
    out.pop_back();
  }
  return out;
}

core::Order PaidOrder() {
  core::Order order;
  order.order_id = "ord-1";
  order.reservation_id = "res-1";
  order.sku_id = "tee";
  order.user_id = "alice";
  order.quantity = 2;
  order.amount_cents = 2005;
  order.currency = "EUR";
  order.status = core::OrderStatus::kPaid;
  order.buyer_email = "alice@example.com";
  return order;
}

core::OutboxEvent EventOf(std::string_view type, const core::Order& order, std::string name) {
  core::OutboxEvent event;
  event.event_id = "tee:7";
  event.type = std::string(type);
  event.sku_id = order.sku_id;
  event.user_id = order.user_id;
  event.sequence = 7;
  event.occurred_at = base::TimeFromMillis(1'796'644'800'000);  // 2026-12-07 12:00:00 UTC
  event.payload_json = core::OrderNotificationPayload(order, name);
  return event;
}

// The header block and the decoded body of a rendered message.
struct Parts {
  std::string head;
  std::string text;
};
Parts Split(const std::string& message) {
  const std::size_t blank = message.find("\r\n\r\n");
  EXPECT_NE(blank, std::string::npos);
  return {message.substr(0, blank + 2), Base64Decode(message.substr(blank + 4))};
}

TEST(OrderMailTest, AConfirmationSaysWhatWasBought) {
  const auto mail = events::RenderOrderMail(
      EventOf(core::event_type::kOrderConfirmed, PaidOrder(), "Tee"), "shop@store.example");
  ASSERT_TRUE(mail.has_value());
  EXPECT_EQ(mail->recipient, "alice@example.com");
  const Parts parts = Split(mail->message);
  EXPECT_EQ(parts.head,
            "From: <shop@store.example>\r\n"
            "To: <alice@example.com>\r\n"
            "Subject: Your order for Tee is confirmed\r\n"
            "Date: Mon, 07 Dec 2026 12:00:00 +0000\r\n"
            "Message-ID: <tee=3A7@store.example>\r\n"
            "X-Flashsale-Event-Id: tee=3A7\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: base64\r\n");
  EXPECT_NE(parts.text.find("  Sale:     Tee\r\n"), std::string::npos) << parts.text;
  EXPECT_NE(parts.text.find("  Units:    2\r\n"), std::string::npos);
  EXPECT_NE(parts.text.find("  Amount:   20.05 EUR\r\n"), std::string::npos);
  EXPECT_NE(parts.text.find("  Order id: ord-1\r\n"), std::string::npos);
  // The same event renders the same message: a resend is a duplicate mail systems drop.
  EXPECT_EQ(mail->message,
            events::RenderOrderMail(EventOf(core::event_type::kOrderConfirmed, PaidOrder(), "Tee"),
                                    "shop@store.example")
                ->message);
}

TEST(OrderMailTest, AFailureNoticeGivesTheReasonAndTheUnitsBack) {
  core::Order order = PaidOrder();
  order.status = core::OrderStatus::kFailed;
  order.failure_reason = "card_declined";
  const auto mail = events::RenderOrderMail(EventOf(core::event_type::kOrderFailed, order, "Tee"),
                                            "shop@store.example");
  ASSERT_TRUE(mail.has_value());
  const Parts parts = Split(mail->message);
  EXPECT_NE(parts.head.find("Subject: Your order for Tee could not be paid\r\n"),
            std::string::npos);
  EXPECT_NE(parts.text.find("(card_declined)"), std::string::npos) << parts.text;
  EXPECT_NE(parts.text.find("the 2 units you reserved went back to stock"), std::string::npos);
}

TEST(OrderMailTest, ASaleNameCannotAddHeadersAndAnyScriptReadsBack) {
  // Sale names are checked when a sale is created; the mail does not rely on that.
  const std::string hostile = "Tee\r\nBcc: everyone@example.com\r\n\r\nfree stuff";
  const auto mail = events::RenderOrderMail(
      EventOf(core::event_type::kOrderConfirmed, PaidOrder(), hostile), "shop@store.example");
  ASSERT_TRUE(mail.has_value());
  const Parts parts = Split(mail->message);
  // The name stays inside the Subject line: no line of the message starts a header of its own.
  EXPECT_EQ(mail->message.find("\r\nBcc:"), std::string::npos) << parts.head;
  EXPECT_EQ(mail->message.find("\nBcc:"), std::string::npos);
  EXPECT_EQ(parts.head.find("\r\n\r\n"), std::string::npos);
  // A long name in several scripts: encoded words of at most 75 characters, folded, that
  // decode back to the subject (no character split across words).
  const std::string name = "Édition limitée — 限定版スニーカー — Кроссовки ограниченной серии";
  const auto encoded = events::RenderOrderMail(
      EventOf(core::event_type::kOrderConfirmed, PaidOrder(), name), "shop@store.example");
  ASSERT_TRUE(encoded.has_value());
  const std::string head = Split(encoded->message).head;
  const std::size_t start = head.find("Subject: ") + 9;
  const std::size_t end = head.find("\r\nDate: ");
  std::string decoded;
  std::size_t at = start;
  while ((at = head.find("=?UTF-8?B?", at)) < end) {
    const std::size_t close = head.find("?=", at + 10);
    EXPECT_LE(close + 2 - at, 75u);
    decoded += Base64Decode(head.substr(at + 10, close - at - 10));
    at = close + 2;
  }
  EXPECT_EQ(decoded, "Your order for " + name + " is confirmed");
}

TEST(OrderMailTest, OnlyOrderOutcomesOfBuyersWithAnAddressBecomeMail) {
  core::Order order = PaidOrder();
  EXPECT_FALSE(events::RenderOrderMail(EventOf(core::event_type::kPaymentSucceeded, order, "Tee"),
                                       "shop@store.example"));
  EXPECT_FALSE(events::RenderOrderMail(EventOf(core::event_type::kOrderNeedsAttention, order, "T"),
                                       "shop@store.example"));
  order.buyer_email.clear();
  const core::OutboxEvent no_address = EventOf(core::event_type::kOrderConfirmed, order, "Tee");
  EXPECT_NE(no_address.payload_json.find("\"buyer_email\":null"), std::string::npos);
  EXPECT_FALSE(events::RenderOrderMail(no_address, "shop@store.example"));
  // An address that is not plain (a hand-edited row) is never used.
  core::OutboxEvent edited = EventOf(core::event_type::kOrderConfirmed, PaidOrder(), "Tee");
  edited.payload_json = R"({"order_id":"o","buyer_email":"a@b.c\r\nBcc: x@y.z"})";
  EXPECT_FALSE(events::RenderOrderMail(edited, "shop@store.example"));
}

app::CommandLine Serve(std::vector<std::string> args) {
  std::vector<std::string> full = {"flashsale",     "serve",
                                   "--jwt-secret",  "test-jwt-secret-0123456789abcdef0",
                                   "--admin-token", "test-admin-token-0123456789abcdef"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& arg : full) argv.push_back(arg.c_str());
  return app::ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(EmailConfigTest, SmtpFlagsParseAndBadOnesExitWithCode2) {
  EXPECT_FALSE(Serve({}).config.email.has_value());
  const std::string password_file = ::testing::TempDir() + "/flashsale-smtp-password";
  std::ofstream(password_file, std::ios::binary | std::ios::trunc) << "smtp-secret\n";
  const app::CommandLine parsed =
      Serve({"--smtp-url", "smtp://mailer@mail.example.com:587", "--smtp-from",
             "orders@shop.example", "--smtp-password-file", password_file});
  ASSERT_EQ(parsed.action, app::CommandLine::Action::kServe) << parsed.err;
  ASSERT_TRUE(parsed.config.email.has_value());
  EXPECT_EQ(parsed.config.email->url, "smtp://mail.example.com:587/");
  EXPECT_EQ(parsed.config.email->username, "mailer");
  EXPECT_EQ(parsed.config.email->password, "smtp-secret");
  EXPECT_EQ(parsed.config.email->from, "orders@shop.example");
  setenv("FLASHSALE_SMTP_URL", "smtps://mail.example.com:465", 1);
  setenv("FLASHSALE_SMTP_FROM", "orders@shop.example", 1);
  const app::CommandLine from_env = Serve({});
  unsetenv("FLASHSALE_SMTP_URL");
  unsetenv("FLASHSALE_SMTP_FROM");
  ASSERT_EQ(from_env.action, app::CommandLine::Action::kServe) << from_env.err;
  EXPECT_EQ(from_env.config.email->url, "smtps://mail.example.com:465/");
  EXPECT_TRUE(from_env.config.email->username.empty());

  const std::vector<std::vector<std::string>> bad = {
      {"--smtp-url", "smtp://mail.example.com:25"},  // no --smtp-from
      {"--smtp-url", "smtp://mail.example.com:25", "--smtp-from", "Shop <o@s.e>"},
      {"--smtp-url", "http://mail.example.com", "--smtp-from", "o@s.e"},
      {"--smtp-url", "smtp://user:secret@mail.example.com", "--smtp-from", "o@s.e"},
      {"--smtp-url", "smtp://mail.example.com", "--smtp-from", "o@s.e", "--smtp-password-file",
       password_file},  // a password without a user
      {"--smtp-url", "smtp://u@mail.example.com", "--smtp-from", "o@s.e", "--smtp-password-file",
       "/no/such/file"},
      {"--smtp-from", "o@s.e"},  // no --smtp-url
  };
  for (const auto& args : bad) {
    const app::CommandLine refused = Serve(args);
    EXPECT_EQ(refused.action, app::CommandLine::Action::kExit) << args.back();
    EXPECT_EQ(refused.exit_code, app::kExitBadConfig) << args.back();
    EXPECT_FALSE(refused.err.empty()) << args.back();
  }
}

}  // namespace
}  // namespace fs
