// What the net module's libcurl clients share: the one global init, one easy handle per thread
// (its connection cache keeps HTTP and SMTP connections open between calls) and header lists.
// Internal to src/net.
// Thread-safety: ThreadHandle() is the calling thread's own; GlobalInit() is safe from any thread.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace fs::net {

void GlobalInit();

// This thread's handle (nullptr if curl could not make one). Callers curl_easy_reset() it
// first: options go, the connection cache stays.
CURL* ThreadHandle();

// A curl_slist that frees itself; Append() keeps the list when curl cannot extend it.
class CurlList {
 public:
  void Append(const std::string& line);
  curl_slist* get() const { return list_.get(); }

 private:
  struct Deleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
  };
  std::unique_ptr<curl_slist, Deleter> list_;
};

}  // namespace fs::net
