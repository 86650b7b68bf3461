#include "support/tls_certificates.h"

#include <cstdlib>
#include <fstream>
#include <string>

namespace fs::itest {

::testing::AssertionResult MakeCertificates(const std::filesystem::path& dir, Certificates& out) {
  out.dir = dir;
  out.ca = dir / "ca.pem";
  out.server = dir / "server.pem";
  out.certificate = dir / "server.crt";
  out.key = dir / "server.key";
  const std::string d = dir.string();
  {
    std::ofstream ext(dir / "san.cnf");
    ext << "subjectAltName=IP:127.0.0.1\n";
  }
  const std::string script =
      "set -e; cd '" + d +
      "'; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 "
      "-subj /CN=flashsale-test-ca 2>/dev/null; "
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
      "-subj /CN=127.0.0.1 2>/dev/null; "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out server.crt -days 1 -extfile san.cnf 2>/dev/null; "
      "cat server.crt server.key > server.pem";
  const int status = std::system(("bash -c \"" + script + "\"").c_str());
  if (status != 0) return ::testing::AssertionFailure() << "openssl failed (" << status << ")";
  return ::testing::AssertionSuccess();
}

}  // namespace fs::itest
