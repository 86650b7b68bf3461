#include "http/listener.h"

#include <sys/socket.h>
#include <unistd.h>

namespace fs::http {

namespace asio = boost::asio;
using asio::ip::tcp;

base::Status BindAndListen(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port,
                           const std::string& what) {
  boost::system::error_code error;
  tcp::endpoint endpoint;
  const asio::ip::address address = asio::ip::make_address(host, error);
  if (!error) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(acceptor.get_executor());
    const auto results = resolver.resolve(host, std::to_string(port), error);
    if (error || results.empty()) {
      return base::InvalidArgument(what + ": cannot resolve listen host '" + host +
                                   "': " + error.message());
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return base::Unavailable(what + ": cannot listen on " + host + ":" + std::to_string(port) +
                             ": " + error.message());
  }
  return base::Status::Ok();
}

base::Status AdoptListener(tcp::acceptor& acceptor, int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return base::Internal("the handed-over listening socket is not a socket");
  }
  const tcp protocol = address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  boost::system::error_code error;
  acceptor.assign(protocol, fd, error);
  if (error) {
    ::close(fd);
    return base::Internal("cannot adopt the listening socket: " + error.message());
  }
  return base::Status::Ok();
}

}  // namespace fs::http
