// Goal: the waiting room's queue pass (X-Queue-Pass, the reserve body's queue_pass) never
// crashes its verifier, is never accepted under a key that did not sign it, and round-trips:
// sign -> verify -> the same sale, ticket, user and expiry. A pass that verifies is the one
// text SignQueuePass makes for what it carries (no second spelling of a pass is accepted).
//
// Input: a pass ("qp1.<payload>.<mac>"); its bytes also make the ticket that is signed.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/queue_pass.h"
#include "base/check.h"
#include "base/clock.h"
#include "core/queue_types.h"

namespace fs::auth {
namespace {

// Passes are signed under the key derived from the JWT secret the seeds were made with.
const std::string& Key() {
  static const std::string key = QueuePassKey("fuzz-jwt-secret");
  return key;
}
const std::string& OtherKey() {
  static const std::string key = QueuePassKey("fuzz-jwt-secret-other");
  return key;
}

void VerifyPresented(std::string_view pass) {
  const core::PresentedPass presented = VerifyQueuePass(pass, Key());
  FS_CHECK(presented.kind != core::PresentedPass::Kind::kAbsent);
  FS_CHECK(VerifyQueuePass(pass, OtherKey()).kind == core::PresentedPass::Kind::kUnverifiable);
  if (presented.kind != core::PresentedPass::Kind::kSigned) return;
  FS_CHECK(pass.size() <= kQueuePassBytesMax);
  core::QueueTicket ticket;
  ticket.sku_id = presented.sku_id;
  ticket.ticket_id = presented.ticket_id;
  ticket.user_id = presented.user_id;
  ticket.pass_expires_at = presented.expires_at;
  FS_CHECK(SignQueuePass(ticket, Key()) == pass);
}

// The input split at its first two newlines into sku, ticket and user (SignQueuePass requires
// ids without '\n', so the last part stops at the next one); the expiry from its length.
void SignAndVerify(std::string_view bytes) {
  std::string_view parts[3];
  for (auto& part : parts) {
    const std::size_t newline = bytes.find('\n');
    part = bytes.substr(0, newline);
    bytes = newline == std::string_view::npos ? std::string_view() : bytes.substr(newline + 1);
  }
  core::QueueTicket ticket;
  ticket.sku_id = std::string(parts[0]);
  ticket.ticket_id = std::string(parts[1]);
  ticket.user_id = std::string(parts[2]);
  ticket.pass_expires_at =
      base::TimeFromMillis(1'780'000'000'000 - static_cast<std::int64_t>(parts[0].size()));
  const std::string pass = SignQueuePass(ticket, Key());
  const core::PresentedPass presented = VerifyQueuePass(pass, Key());
  if (pass.size() > kQueuePassBytesMax) {
    FS_CHECK(presented.kind == core::PresentedPass::Kind::kUnverifiable);
    return;
  }
  FS_CHECK(presented.kind == core::PresentedPass::Kind::kSigned);
  FS_CHECK(presented.sku_id == ticket.sku_id);
  FS_CHECK(presented.ticket_id == ticket.ticket_id);
  FS_CHECK(presented.user_id == ticket.user_id);
  FS_CHECK(presented.expires_at == *ticket.pass_expires_at);
}

}  // namespace
}  // namespace fs::auth

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::auth;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  VerifyPresented(bytes);
  SignAndVerify(bytes);
  return 0;
}
