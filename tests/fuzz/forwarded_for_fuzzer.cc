// Goal: X-Forwarded-For and the addresses in it never crash the client identity code, and the
// client address it resolves is one the request named: the socket peer, or (only when the
// peer is a trusted proxy) one of the header's hops. Round trips: an address parsed from text
// prints canonically and parses back to itself; a CIDR contains its own network. The device
// fingerprint is 64 lower-case hex digits.
//
// Input: an X-Forwarded-For value ("203.0.113.7, 10.0.0.2"); every hop is also parsed alone.
// Thread-safety: single-threaded (libFuzzer's thread).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "ratelimit/client_identity.h"

namespace fs::ratelimit {
namespace {

// Trusted proxies as an operator would list them (--trusted-proxies).
const CidrList& TrustedProxies() {
  static const CidrList list =
      *CidrList::Parse("10.0.0.0/8,192.168.0.0/16,2001:db8::/32,127.0.0.1", "--trusted-proxies");
  return list;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Each comma-separated hop: parse -> print -> parse -> equal, and printing is canonical.
std::vector<IpAddress> ParsedHops(std::string_view header) {
  std::vector<IpAddress> hops;
  for (;;) {
    const std::size_t comma = header.find(',');
    const std::string_view hop = header.substr(0, comma);
    for (const std::string_view text : {hop, Trim(hop)}) {
      if (const auto address = IpAddress::Parse(text)) {
        const std::string printed = address->ToString();
        const auto again = IpAddress::Parse(printed);
        FS_CHECK(again.has_value());
        FS_CHECK(*again == *address);
        FS_CHECK(again->is_v4 == address->is_v4);
        FS_CHECK(again->ToString() == printed);
        hops.push_back(*address);
      }
      if (const auto cidr = Cidr::Parse(text)) FS_CHECK(cidr->Contains(cidr->network));
    }
    if (comma == std::string_view::npos) return hops;
    header.remove_prefix(comma + 1);
  }
}

bool Contains(const std::vector<IpAddress>& addresses, const IpAddress& address) {
  for (const IpAddress& candidate : addresses) {
    if (candidate == address) return true;
  }
  return false;
}

void Resolve(std::string_view header) {
  const std::vector<IpAddress> hops = ParsedHops(header);
  const IpAddress untrusted_peer = *IpAddress::Parse("198.51.100.20");
  FS_CHECK(ResolveClientIp(untrusted_peer, header, TrustedProxies()) == untrusted_peer);
  for (const char* peer_text : {"10.1.2.3", "2001:db8::7"}) {
    const IpAddress peer = *IpAddress::Parse(peer_text);
    const IpAddress client = ResolveClientIp(peer, header, TrustedProxies());
    FS_CHECK(client == peer || Contains(hops, client));
    const std::string fingerprint =
        DeviceFingerprint(FingerprintInputs{header, header.substr(header.size() / 2), ""}, client);
    FS_CHECK(fingerprint.size() == 64);
    FS_CHECK(fingerprint.find_first_not_of("0123456789abcdef") == std::string::npos);
  }
}

}  // namespace
}  // namespace fs::ratelimit

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::ratelimit;
  Resolve(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
