#include "ratelimit/client_identity.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "crypto/sha256.h"

namespace fs::ratelimit {
namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool IsV4Mapped(const std::array<std::uint8_t, 16>& bytes) {
  return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin());
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; INET6_ADDRSTRLEN (46) bounds any valid text.
  if (text.empty() || text.size() >= 64) return std::nullopt;
  char buffer[64];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  in_addr v4{};
  if (inet_pton(AF_INET, buffer, &v4) == 1) {
    std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), address.bytes.begin());
    std::memcpy(address.bytes.data() + 12, &v4.s_addr, 4);  // network order already
    address.is_v4 = true;
    return address;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buffer, &v6) != 1) return std::nullopt;
  std::memcpy(address.bytes.data(), v6.s6_addr, 16);
  address.is_v4 = IsV4Mapped(address.bytes);
  return address;
}

std::string IpAddress::ToString() const {
  if (is_v4) {
    // Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf, and every request
    // prints its client address (audit record, device fingerprint).
    std::string text;
    text.reserve(15);
    for (std::size_t i = 12; i < 16; ++i) {
      if (i > 12) text += '.';
      char digits[3];
      text.append(digits, std::to_chars(digits, digits + sizeof(digits), bytes[i]).ptr);
    }
    return text;
  }
  char buffer[INET6_ADDRSTRLEN] = {};
  in6_addr v6{};
  std::memcpy(v6.s6_addr, bytes.data(), 16);
  inet_ntop(AF_INET6, &v6, buffer, sizeof(buffer));
  return buffer;
}

base::Result<Cidr> Cidr::Parse(std::string_view text) {
  text = Trim(text);
  const std::size_t slash = text.find('/');
  auto address = IpAddress::Parse(text.substr(0, slash));
  if (!address) return base::InvalidArgument("'" + std::string(text) + "' is not an IP or CIDR");
  const int family_bits = address->is_v4 ? 32 : 128;
  int prefix = family_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return base::InvalidArgument("'" + std::string(text) + "' has a malformed prefix length");
    }
    prefix = std::stoi(std::string(digits));
    if (prefix > family_bits) {
      return base::InvalidArgument("'" + std::string(text) + "' prefix exceeds " +
                                   std::to_string(family_bits));
    }
  }
  Cidr cidr{*address, prefix + (address->is_v4 ? 96 : 0)};
  for (int bit = cidr.prefix_bits; bit < 128; ++bit) {
    if (cidr.network.bytes[static_cast<std::size_t>(bit / 8)] & (0x80 >> (bit % 8))) {
      return base::InvalidArgument("'" + std::string(text) + "' has host bits set");
    }
  }
  return cidr;
}

bool Cidr::Contains(const IpAddress& address) const {
  const int whole_bytes = prefix_bits / 8;
  const auto whole = static_cast<std::size_t>(whole_bytes);
  if (!std::equal(network.bytes.begin(), network.bytes.begin() + whole_bytes,
                  address.bytes.begin())) {
    return false;
  }
  const int rest_bits = prefix_bits % 8;
  if (rest_bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest_bits));
  return (network.bytes[whole] & mask) == (address.bytes[whole] & mask);
}

base::Result<CidrList> CidrList::Parse(std::string_view text, std::string_view flag_name) {
  CidrList list;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view entry = Trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (entry.empty()) continue;
    auto cidr = Cidr::Parse(entry);
    if (!cidr) return base::InvalidArgument(std::string(flag_name) + ": " + cidr.error().message());
    list.cidrs_.push_back(*cidr);
  }
  return list;
}

bool CidrList::Contains(const IpAddress& address) const {
  return std::any_of(cidrs_.begin(), cidrs_.end(),
                     [&address](const Cidr& cidr) { return cidr.Contains(address); });
}

IpAddress ResolveClientIp(const IpAddress& peer, std::optional<std::string_view> forwarded_for,
                          const CidrList& trusted_proxies) {
  if (!forwarded_for || !trusted_proxies.Contains(peer)) return peer;
  IpAddress client = peer;
  std::string_view rest = *forwarded_for;
  for (std::size_t hops = 0; hops < kForwardedHopsMax && !rest.empty(); ++hops) {
    const std::size_t comma = rest.rfind(',');
    const std::string_view hop =
        Trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    auto address = IpAddress::Parse(hop);
    if (!address) return client;  // garbage: keep the last hop we could trust
    client = *address;
    if (!trusted_proxies.Contains(client)) return client;
  }
  return client;
}

std::string DeviceFingerprint(const FingerprintInputs& inputs, const IpAddress& client_ip) {
  std::string message;
  auto feed = [&message](std::string_view field) {
    message += std::to_string(field.size());
    message += ':';
    message += field;
  };
  feed(inputs.user_agent);
  feed(inputs.accept_language);
  feed(client_ip.ToString());
  feed(inputs.device_id);
  return crypto::Sha256Hex(message);
}

}  // namespace fs::ratelimit
