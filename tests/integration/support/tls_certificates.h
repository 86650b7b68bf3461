// Certificates for the TLS tests, made with the openssl command: a CA, and a certificate for
// 127.0.0.1 signed by it. Clients trust the CA (--tls-ca-file); the servers under test
// (HAProxy in front of a fake gateway, the SMTP server) present the certificate.
// Thread-safety: none needed (files in the given directory).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>

namespace fs::itest {

struct Certificates {
  std::filesystem::path dir;
  std::filesystem::path ca;           // the CA certificate (PEM): what clients trust
  std::filesystem::path server;       // the server's certificate then key (PEM), for HAProxy
  std::filesystem::path certificate;  // the server's certificate alone (PEM)
  std::filesystem::path key;          // the server's key alone (PEM)
};

// Makes the CA and the server certificate in `dir` (which exists).
::testing::AssertionResult MakeCertificates(const std::filesystem::path& dir, Certificates& out);

}  // namespace fs::itest
