#include "net/curl_handle.h"

#include <mutex>

namespace fs::net {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CURL* ThreadHandle() {
  GlobalInit();
  struct EasyDeleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
  };
  thread_local std::unique_ptr<CURL, EasyDeleter> handle(curl_easy_init());
  return handle.get();
}

void CurlList::Append(const std::string& line) {
  curl_slist* extended = curl_slist_append(list_.get(), line.c_str());
  if (extended == nullptr) return;
  static_cast<void>(list_.release());
  list_.reset(extended);
}

}  // namespace fs::net
