// RFC 3339 timestamps for the API: always written in UTC with milliseconds
// ("2026-11-24T10:00:00.000Z"); read with any offset and optional fraction.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace fs::base {

std::string FormatRfc3339(Time t);
// Returns nullopt when `s` is not a valid RFC 3339 date-time, or names an instant outside years
// 0000-9999 once its offset is applied (FormatRfc3339 could not write it back).
std::optional<Time> ParseRfc3339(std::string_view s);

}  // namespace fs::base
