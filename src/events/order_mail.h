// The buyers' e-mails: order.confirmed becomes a confirmation (sale name, units, amount, order
// id), order.failed a failure notice (the reason, and that the units went back to stock). Built
// from the event alone (its payload names the sale and the buyer's address), so the same event
// always renders the same message: a resend after a crash is the same mail, with the same
// Message-ID, which mail systems de-duplicate.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/order.h"

namespace fs::events {

struct OrderMail {
  std::string recipient;  // the buyer's address
  std::string message;    // RFC 5322: headers, blank line, base64 UTF-8 text; CRLF line ends
};

// nullopt unless `event` is order.confirmed or order.failed whose payload has a buyer_email
// that is a plain address (base::IsValidEmailAddress). `from` is a plain address.
std::optional<OrderMail> RenderOrderMail(const core::OutboxEvent& event, std::string_view from);

// "<id@domain>": the event id with every byte but letters, digits, '-', '_' and '.' as "=XX",
// at the domain of `from`. One event, one Message-ID, on every node and every resend.
std::string MessageIdOf(std::string_view event_id, std::string_view from);

}  // namespace fs::events
