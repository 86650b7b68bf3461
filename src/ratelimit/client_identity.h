// Who is asking: the client IP (socket peer, or the right-most untrusted X-Forwarded-For hop
// when the peer is a trusted proxy), CIDR lists for trusted proxies and suspicious ranges,
// and the device fingerprint (SHA-256 hex of User-Agent, Accept-Language, client IP and the
// optional X-Device-Id).
// Thread-safety: IpAddress/Cidr/CidrList are immutable values after construction; the
// functions are pure (safe from any thread).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace fs::ratelimit {

// An IPv4 or IPv6 address. IPv4 is stored as IPv4-mapped IPv6 (::ffff:a.b.c.d) so one
// comparison serves both families and a v4 peer seen on a dual-stack socket matches v4 CIDRs.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  bool is_v4 = false;

  // Dotted quad or RFC 4291 text ("::1", "2001:db8::5"); "::ffff:1.2.3.4" is read as IPv4.
  // Brackets, ports, zone ids and surrounding spaces are refused (nullopt).
  static std::optional<IpAddress> Parse(std::string_view text);
  // Canonical text: dotted quad for IPv4, RFC 5952 for IPv6.
  std::string ToString() const;
  bool operator==(const IpAddress& other) const { return bytes == other.bytes; }
};

struct Cidr {
  IpAddress network;
  int prefix_bits = 0;  // in the 128-bit (mapped) space

  // "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). kInvalidArgument for
  // anything else, including host bits set beyond the prefix ("10.0.0.1/8" is a typo).
  static base::Result<Cidr> Parse(std::string_view text);
  bool Contains(const IpAddress& address) const;
};

class CidrList {
 public:
  CidrList() = default;
  // Comma-separated CIDRs; empty text is the empty list.
  static base::Result<CidrList> Parse(std::string_view text, std::string_view flag_name);
  bool Contains(const IpAddress& address) const;
  bool empty() const { return cidrs_.empty(); }
  std::size_t size() const { return cidrs_.size(); }

 private:
  std::vector<Cidr> cidrs_;
};

// X-Forwarded-For hops are read at most this many from the right: a longer chain is an
// attempt to make us parse a header-sized list on every request.
inline constexpr std::size_t kForwardedHopsMax = 32;

// The client address of a request. The peer is the client unless it is a trusted proxy;
// then X-Forwarded-For is walked from the right, skipping trusted proxies, and the first
// untrusted hop is the client. A malformed hop stops the walk: the last trusted hop (the
// proxy that handed us the list) is used, because anything left of garbage is unverifiable.
// When every hop is trusted the left-most one is the client.
IpAddress ResolveClientIp(const IpAddress& peer, std::optional<std::string_view> forwarded_for,
                          const CidrList& trusted_proxies);

struct FingerprintInputs {
  std::string_view user_agent;
  std::string_view accept_language;
  std::string_view device_id;  // X-Device-Id; empty when absent
};

// SHA-256 (lower-case hex, 64 characters) over the length-prefixed fields and the client IP:
// the length prefixes make ("ab","c") and ("a","bc") hash differently.
std::string DeviceFingerprint(const FingerprintInputs& inputs, const IpAddress& client_ip);

}  // namespace fs::ratelimit
