// --demo: the open sale "demo-sku" and the text that tells a first-time user how to try it.
// Thread-safety: EnsureDemoSale blocks its caller until the engine committed; call it from the
// control thread (never from an engine callback or an I/O thread).
#pragma once

#include <string>

#include "base/status.h"
#include "core/types.h"
#include "engine/engine.h"

namespace fs::app {

inline constexpr std::string_view kDemoSkuId = "demo-sku";
inline constexpr std::string_view kDemoUserId = "demo-user";
inline constexpr std::int64_t kDemoStock = 10'000;
// The demo user's token lives a day: long enough for a session of trying things out.
inline constexpr std::chrono::hours kDemoTokenLifetime{24};

core::Sale DemoSale();

// Creates the demo sale unless it exists (an existing one, in any state, is kept).
base::Status EnsureDemoSale(engine::Engine& engine);

struct DemoText {
  std::string base_url;     // "http://127.0.0.1:8080"
  std::string user_token;   // JWT for kDemoUserId
  std::string admin_token;  // shown only when generated, else empty
  std::string jwt_secret;   // shown only when generated, else empty
};

// The instructions printed to stdout: token, and curl commands for every route.
std::string RenderDemoText(const DemoText& text);

}  // namespace fs::app
