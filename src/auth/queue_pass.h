// Queue passes of the fair waiting room: the signed, short-lived proof that a ticket
// was admitted, which reserve requires for a waiting-room sale. A pass is
//   "qp1." base64url(payload) "." base64url(HMAC-SHA256(key, "qp1." base64url(payload)))
// where payload = sku_id "\n" ticket_id "\n" user_id "\n" expires_at (Unix ms, decimal).
// The signature makes a pass unforgeable and binds it to one ticket, user, sale and expiry;
// expiry and single use are checked by the writer (core::WaitingRoom::CheckPass), which holds
// the ticket's state. The key is derived from the JWT secret (QueuePassKey), so passes survive
// a restart and need no extra configuration.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/queue_types.h"

namespace fs::auth {

// Passes longer than this are refused before any decoding (sku 64 + user 128 + ticket 36
// bytes, base64url and a MAC fit well below it).
inline constexpr std::size_t kQueuePassBytesMax = 1024;

// The signing key for passes: HMAC-SHA256(jwt_secret, a fixed label), so a pass can never be
// confused with a token signed by the JWT secret itself.
std::string QueuePassKey(std::string_view jwt_secret);

// REQUIRES: ids without '\n' (sku ids are [A-Za-z0-9._-]; user ids have no control
// characters; ticket ids are UUIDs).
std::string SignQueuePass(const core::QueueTicket& ticket, std::string_view key);

// kSigned with the claims when the signature is right (checked in constant time); kAbsent for
// an empty view is not produced here: an empty or malformed text is kUnverifiable.
core::PresentedPass VerifyQueuePass(std::string_view pass, std::string_view key);

}  // namespace fs::auth
