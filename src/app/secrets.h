// The server's two secrets: the HS256 key of user tokens and the admin API's bearer token.
// Each comes from a flag or its FLASHSALE_* variable, or from a file (--jwt-secret-file,
// FLASHSALE_JWT_SECRET_FILE; --admin-token-file, FLASHSALE_ADMIN_TOKEN_FILE) so that it stays
// out of `ps` and of the process environment. A secret shorter than kSecretBytesMin refuses
// to start: an HS256 key that short is guessable offline from one token, and a short admin
// token is guessable online.
// Thread-safety: plain functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace fs::app {

inline constexpr std::size_t kSecretBytesMin = 32;

// One secret as given: inline (flag or variable) and/or a file path. Both empty: not given.
struct SecretSource {
  std::string value;
  std::string file;
};

// The secret, read from its file when one is named (one trailing "\n" or "\r\n" dropped, as
// editors and `echo` add one). "" when neither is given. Errors (kInvalidArgument, naming
// `flag`): both given, an unreadable or empty file, fewer than kSecretBytesMin bytes.
base::Result<std::string> ResolveSecret(const SecretSource& source, std::string_view flag);
// The one line of a secret file (a trailing newline dropped): kInvalidArgument naming
// `<flag>-file` when it cannot be read, is empty or is over 4 KiB.
base::Result<std::string> ReadSecretFile(const std::string& path, std::string_view flag);

struct Secrets {
  std::string jwt_secret;   // empty only with the demo (a random one is made at start)
  std::string admin_token;  // likewise
};

// Both secrets (ResolveSecret); each is required unless `demo`.
base::Result<Secrets> ResolveSecrets(const SecretSource& jwt_secret,
                                     const SecretSource& admin_token, bool demo);

}  // namespace fs::app
