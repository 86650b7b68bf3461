// Goal: raw bytes from a client never crash the HTTP request path and always get an answer
// from the documented set of statuses. The input is one HTTP/1.1 request as it arrives on a
// connection; it goes through Beast's request parser with the server's limits (limits.h), the
// same refusals server.cc makes before a handler runs (413, 431, 400, 414, Host), then through
// the real Api (route table, admission with JWT and admin token, handlers) backed by a real
// engine on the in-memory store. No socket: the fuzzer's thread plays the connection's I/O
// thread and runs the io_context until the answer is posted back.
//
// The Beast-to-Request conversion is server.cc's (Connection::OnRequest), repeated here field
// by field: it is private to that file, and it only copies header values.
//
// Thread-safety: libFuzzer calls LLVMFuzzerTestOneInput from one thread; the engine's writer
// and the audit reader threads are the Api's own.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/check.h"
#include "base/clock.h"
#include "base/request_id.h"
#include "base/time_format.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/beast_request.h"
#include "http/exchange.h"
#include "http/limits.h"
#include "http/replies.h"
#include "http/reply_batch.h"
#include "metrics/flashsale_metrics.h"
#include "store/memory/memory_store.h"

namespace fs::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// The secrets the seed corpus's tokens are made with (tests/fuzz/corpus/http_request).
constexpr char kJwtSecret[] = "fuzz-jwt-secret";
constexpr char kAdminToken[] = "fuzz-admin-token";
// The engine's clock stands still at this instant, so the seeds' tokens (exp 2030) stay valid
// and a run is reproducible.
constexpr std::string_view kNow = "2026-06-01T12:00:00Z";
// The engine and the Api are rebuilt after this many inputs: each input may create sales,
// reservations and audit events, and memory must stay bounded over 10^7 inputs.
constexpr std::size_t kInputsPerEngine = 20'000;

// Every status docs/openapi.yaml documents (405 in its introduction), and 0: no answer
// because the input ended before a whole request arrived (the server then waits or times
// out, answering nothing).
const std::set<unsigned> kDocumentedStatuses = {0,   200, 201, 202, 304, 308, 400, 401, 403,
                                                404, 405, 409, 413, 414, 422, 429, 431, 503};

bool IsHttpProtocolError(const beast::error_code& error) {
  return error.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         error != bhttp::error::end_of_stream && error != bhttp::error::need_more;
}

// A real engine on the in-memory store with two open sales the seeds name, and the Api.
class Harness {
 public:
  Harness() {
    engine::Options options;
    options.seed = 1;  // reservation ids repeat from run to run
    options.stored_replies = StoredReplies();
    options.on_completions_begin = [] { ReplyBatch::Begin(); };
    options.on_completions_end = [] { ReplyBatch::Flush(); };
    options.on_published = [this](const std::vector<std::string>& skus) {
      Api* api = api_for_writer_.load(std::memory_order_acquire);
      if (api != nullptr) api->services().catalog.MarkChanged(skus);
    };
    auto engine =
        engine::Engine::Open(std::move(options), std::make_unique<store::MemoryStore>(), clock_);
    FS_CHECK(engine.has_value());
    engine_ = std::move(*engine);
    metrics_ = std::make_unique<metrics::HttpMetrics>(Api::RouteLabels(), Api::MethodLabels());
    ApiOptions api_options{kJwtSecret, kAdminToken};
    api_options.demo_token_lifetime = std::chrono::hours(1);
    // A held order read would wait on a real timer for up to 30 s: with no room for waiters
    // such reads are answered 503 at once, and every other path stays the same.
    api_options.order_waiters_max = 0;
    api_ = std::make_unique<Api>(std::move(api_options), *engine_, *metrics_);
    api_for_writer_.store(api_.get(), std::memory_order_release);
    CreateSale("FUZZ-1");
    CreateSale("FUZZ-2");
  }

  ~Harness() {
    api_->StopAuditReads();
    engine_->Stop();
    io_.poll();  // answers posted by the last commands
    api_for_writer_.store(nullptr, std::memory_order_release);
    api_.reset();
    engine_.reset();
  }

  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // The status answered to `request` (running the io_context until the one answer arrives).
  unsigned Answer(const Request& request) {
    auto answers = std::make_shared<int>(0);
    auto status = std::make_shared<unsigned>(0);
    api_->Handle(request, io_.get_executor(), [answers, status](Response response) {
      ++*answers;
      *status = response.status;
    });
    while (*answers == 0) io_.run_one();
    io_.poll();
    // Respond is called exactly once (exchange.h): a second answer would be written to a
    // connection that already moved on.
    FS_CHECK(*answers == 1);
    return *status;
  }

 private:
  void CreateSale(const std::string& sku) {
    core::Sale sale;
    sale.sku_id = sku;
    sale.name = "Fuzz " + sku;
    sale.price_cents = 1999;
    sale.currency = "EUR";
    sale.total_stock = 1'000'000;
    std::promise<engine::ReplyOf<engine::CreateSale>> promise;
    engine_->Submit(engine::CreateSale{sale}, [&](engine::ReplyOf<engine::CreateSale> reply) {
      promise.set_value(std::move(reply));
    });
    const auto reply = promise.get_future().get();
    FS_CHECK(reply.status.ok());
  }

  base::ManualClock clock_{*base::ParseRfc3339(kNow)};
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<metrics::HttpMetrics> metrics_;
  std::unique_ptr<Api> api_;
  std::atomic<Api*> api_for_writer_{nullptr};
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
};

// What the server answers to `bytes`, or 0 when they are not a whole request yet.
unsigned ServeBytes(Harness& harness, std::string_view bytes) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kHeaderBytesMax));
  parser.body_limit(kBodyBytesMax);
  beast::error_code error;
  std::size_t offset = parser.put(asio::buffer(bytes.data(), bytes.size()), error);
  const std::size_t header_bytes = offset;
  // server.cc OnHeader: the refusals before the body is read.
  if (error == bhttp::error::body_limit) return 413;
  if (error == bhttp::error::header_limit || (!error && header_bytes > kHeaderBytesMax)) {
    return 431;
  }
  if (IsHttpProtocolError(error)) return 400;
  if (error) return 0;  // need_more: the client has not sent the whole head
  if (parser.get().target().size() > kTargetBytesMax) return 414;
  // server.cc OnBody: the body, as far as the bytes go.
  while (!parser.is_done()) {
    const std::size_t used =
        parser.put(asio::buffer(bytes.data() + offset, bytes.size() - offset), error);
    offset += used;
    if (error == bhttp::error::body_limit) return 413;
    if (IsHttpProtocolError(error)) return 400;
    if (error) return 0;
    if (used == 0) return 0;
  }
  // server.cc OnRequest.
  const bhttp::request<bhttp::string_body>& message = parser.get();
  if (message.version() >= 11 && message.find(bhttp::field::host) == message.end()) return 400;
  const std::string request_id = base::RequestIdOf(HeaderValue(message, "X-Request-Id"));
  std::string forwarded_for;
  Request request;
  request.request_id = request_id;
  request.method = ToMethod(message.method());
  request.target = message.target();
  request.authorization = HeaderValue(message, "Authorization");
  request.idempotency_key = HeaderValue(message, "Idempotency-Key");
  request.peer_address = "192.0.2.10";
  request.forwarded_for = CombinedHeaderValue(message, "X-Forwarded-For", forwarded_for);
  request.user_agent = HeaderValue(message, "User-Agent");
  request.accept_language = HeaderValue(message, "Accept-Language");
  request.device_id = HeaderValue(message, "X-Device-Id");
  request.queue_pass = HeaderValue(message, "X-Queue-Pass");
  request.if_none_match = HeaderValue(message, "If-None-Match");
  request.body = message.body();
  return harness.Answer(request);
}

std::unique_ptr<Harness> harness;
std::size_t inputs = 0;

}  // namespace
}  // namespace fs::http

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fs::http;
  if (harness == nullptr || ++inputs % kInputsPerEngine == 0) {
    harness.reset();
    harness = std::make_unique<Harness>();
  }
  const unsigned status =
      ServeBytes(*harness, std::string_view(reinterpret_cast<const char*>(data), size));
  FS_CHECK(kDocumentedStatuses.contains(status));
  return 0;
}
