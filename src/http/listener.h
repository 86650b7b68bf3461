// Listening sockets for the front end and the side servers: resolve the host (an IP address
// or a name), bind with SO_REUSEADDR and listen; and adopt a listening socket another server
// bound (the handover from the starting node's SideServer to the Server).
// Thread-safety: plain functions on the caller's acceptor.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace fs::http {

// Errors: kInvalidArgument when `host` does not resolve, kUnavailable when the address cannot
// be bound; the message starts with `what` (e.g. "--metrics-listen").
base::Status BindAndListen(boost::asio::ip::tcp::acceptor& acceptor, const std::string& host,
                           std::uint16_t port, const std::string& what);

// Makes `acceptor` own `fd`, a socket that is already bound and listening.
base::Status AdoptListener(boost::asio::ip::tcp::acceptor& acceptor, int fd);

}  // namespace fs::http
