// SHA-256 (OpenSSL) as lower-case hex: the hash of the audit chain (core::AuditHasher) and of
// device fingerprints.
// Thread-safety: pure function, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace fs::audit {

// 64 lower-case hex characters.
std::string Sha256Hex(std::string_view bytes);

}  // namespace fs::audit
