#include "app/secrets.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <tuple>
#include <utility>

namespace fs::app {

namespace {

// A secret file holds one line; more than this is not a secret file.
constexpr std::size_t kSecretFileBytesMax = 4096;

}  // namespace

base::Result<std::string> ReadSecretFile(const std::string& path, std::string_view flag) {
  const std::string name = std::string(flag) + "-file";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return base::InvalidArgument(name + ": cannot read " + path + ": " + std::strerror(errno));
  }
  std::string text;
  text.resize(kSecretFileBytesMax + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return base::InvalidArgument(name + ": cannot read " + path);
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kSecretFileBytesMax) {
    return base::InvalidArgument(name + ": " + path + " is larger than 4096 bytes");
  }
  if (text.ends_with('\n')) text.pop_back();
  if (text.ends_with('\r')) text.pop_back();
  if (text.empty()) return base::InvalidArgument(name + ": " + path + " is empty");
  return text;
}

base::Result<std::string> ResolveSecret(const SecretSource& source, std::string_view flag) {
  const std::string name(flag);
  if (!source.value.empty() && !source.file.empty()) {
    return base::InvalidArgument("give " + name + " or " + name + "-file, not both");
  }
  std::string secret = source.value;
  if (!source.file.empty()) {
    auto read = ReadSecretFile(source.file, flag);
    if (!read) return read.error();
    secret = std::move(*read);
  }
  if (!secret.empty() && secret.size() < kSecretBytesMin) {
    return base::InvalidArgument(name + " must be at least 32 bytes, got " +
                                 std::to_string(secret.size()) +
                                 " (make one with: openssl rand -hex 32)");
  }
  return secret;
}

base::Result<Secrets> ResolveSecrets(const SecretSource& jwt_secret,
                                     const SecretSource& admin_token, bool demo) {
  Secrets secrets;
  for (auto [source, flag, target] :
       {std::tuple{&jwt_secret, "--jwt-secret", &secrets.jwt_secret},
        std::tuple{&admin_token, "--admin-token", &secrets.admin_token}}) {
    auto secret = ResolveSecret(*source, flag);
    if (!secret) return secret.error();
    if (secret->empty() && !demo) {
      return base::InvalidArgument(std::string(flag) + " or " + flag +
                                   "-file is required unless --demo is given");
    }
    *target = std::move(*secret);
  }
  return secrets;
}

}  // namespace fs::app
