#include "tools/loadgen/arrival.h"

#include <cmath>

namespace fs::loadgen {

ArrivalSchedule ArrivalSchedule::ConstantRate(double rate_per_second) {
  return ArrivalSchedule(Kind::kRate, rate_per_second, 0, 0);
}

ArrivalSchedule ArrivalSchedule::OverWindow(std::uint64_t count, double seconds,
                                            ArrivalShape shape) {
  const Kind kind = shape == ArrivalShape::kLinearRamp ? Kind::kWindowRamp : Kind::kWindowConstant;
  return ArrivalSchedule(kind, 0, count, seconds);
}

std::int64_t ArrivalSchedule::OffsetMicros(std::uint64_t index) const {
  const double i = static_cast<double>(index);
  switch (kind_) {
    case Kind::kRate:
      return static_cast<std::int64_t>(i * 1e6 / rate_);
    case Kind::kWindowConstant:
      return static_cast<std::int64_t>(i * seconds_ * 1e6 / static_cast<double>(count_));
    case Kind::kWindowRamp:
      return static_cast<std::int64_t>(seconds_ * 1e6 * std::sqrt(i / static_cast<double>(count_)));
  }
  return 0;
}

std::optional<Scenario> ParseScenario(std::string_view name) {
  if (name == "sale") return Scenario::kSale;
  if (name == "reserve-only" || name == "reserve") return Scenario::kReserveOnly;
  if (name == "availability") return Scenario::kAvailability;
  if (name == "contest") return Scenario::kContest;
  if (name == "checkout") return Scenario::kCheckout;
  if (name == "search") return Scenario::kSearch;
  return std::nullopt;
}

std::string_view ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kSale:
      return "sale";
    case Scenario::kReserveOnly:
      return "reserve-only";
    case Scenario::kAvailability:
      return "availability";
    case Scenario::kContest:
      return "contest";
    case Scenario::kCheckout:
      return "checkout";
    case Scenario::kSearch:
      return "search";
  }
  return "?";
}

}  // namespace fs::loadgen
