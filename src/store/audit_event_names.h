// Decoding of a stored audit event's type and outcome names, shared by every backend's row
// decoder: a name this binary does not know is reported, not guessed, because such an event
// cannot be re-encoded and so cannot be verified.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "core/audit.h"

namespace fs::store {

// Sets event.type and event.outcome from their stored names. Returns what was not known
// (e.g. "event_type 'x'"), empty when both are; an unknown one gets the first enumerator.
inline std::string DecodeAuditEventNames(const std::string& type, const std::string& outcome,
                                         core::AuditEvent& event) {
  const auto known_type = core::AuditEventTypeFromName(type);
  const auto known_outcome = core::AuditOutcomeFromName(outcome);
  std::string unknown_name;
  if (!known_type) unknown_name = "event_type '" + type + "'";
  if (!known_outcome) unknown_name = "outcome '" + outcome + "'";
  event.type = known_type.value_or(core::AuditEventType::kReserveAttempt);
  event.outcome = known_outcome.value_or(core::AuditOutcome::kSuccess);
  return unknown_name;
}

}  // namespace fs::store
