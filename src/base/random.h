// Randomness for ids comes through Rng so tests and simulations are reproducible.
// Thread-safety: one Rng per thread; an Rng is not safe to share.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace fs::base {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t Next() { return engine_(); }
  // Uniform in [0, bound); REQUIRES: bound > 0.
  std::uint64_t Uniform(std::uint64_t bound) {
    return std::uniform_int_distribution<std::uint64_t>(0, bound - 1)(engine_);
  }

 private:
  std::mt19937_64 engine_;
};

// A fresh seed from the operating system, for production wiring only.
std::uint64_t SeedFromOs();

// A time-ordered id in UUID v7 text form: 48 bits of Unix milliseconds, then 74 random bits.
// Ids made later sort later, so database index inserts land at the right edge of the b-tree
// instead of on random pages (one dirty page per batch instead of one per row).
std::string NewUuidV7(Rng& rng, std::int64_t unix_millis);

// A random id in UUID v4 text form ("6f1c...-4...-8...-..."), 122 random bits.
std::string NewUuid(Rng& rng);

}  // namespace fs::base
