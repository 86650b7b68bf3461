// Named limits of the HTTP front end: what one client may send and how much the server holds
// open at once. Beyond a limit the server answers an error or closes; it never grows.
// Thread-safety: constants.
#pragma once

#include <cstddef>

namespace fs::http {

// 16 KiB body: a reserve body is ~50 bytes and a sale definition well under 1 KiB; the spec
// fixes 16 KiB as the point where we answer 413.
inline constexpr std::size_t kBodyBytesMax = 16 * 1024;
// 8 KiB of request line + headers: a JWT (<= 4 KiB) plus ordinary headers fit.
inline constexpr std::size_t kHeaderBytesMax = 8 * 1024;
// Request target (path + query). Our paths are short; a long target is an attack or a bug.
inline constexpr std::size_t kTargetBytesMax = 2048;
static_assert(kTargetBytesMax < kHeaderBytesMax);

// Open connections at most. 10k keep-alive clients cover the 25k req/s target many times over
// while keeping per-connection memory (~30 KiB of buffers at worst) bounded near 300 MiB.
inline constexpr std::size_t kConnectionsMax = 10'000;
// Open connections from one client address at most, by default (--max-connections-per-ip):
// one client must not hold every slot. 256 covers a large office or carrier NAT behind one
// address; a load balancer in front of the server needs it raised.
inline constexpr std::size_t kConnectionsPerIpDefault = 256;
static_assert(kConnectionsPerIpDefault <= kConnectionsMax);
// Held order reads (?wait_seconds) and open event streams each hold a connection: by default
// together they may take at most half of them, so requests always find room
// (--order-waiters-max, --sse-subscribers-max; each at most kConnectionsMax).
inline constexpr std::size_t kOrderWaitersDefault = 2'500;
inline constexpr std::size_t kSseSubscribersDefault = 2'500;
static_assert(kOrderWaitersDefault + kSseSubscribersDefault <= kConnectionsMax / 2);
// I/O threads at most: more than cores only adds context switches.
inline constexpr std::size_t kThreadsMax = 256;
// Idle/slow-client deadline bounds, seconds.
inline constexpr std::size_t kIdleTimeoutSecondsMax = 3600;

}  // namespace fs::http
