#include "net/smtp_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "net/curl_handle.h"

namespace fs::net {
namespace {

struct Upload {
  const std::string* message = nullptr;
  std::size_t offset = 0;
};

std::size_t OnRead(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t left = upload->message->size() - upload->offset;
  const std::size_t bytes = std::min(left, size * count);
  std::memcpy(buffer, upload->message->data() + upload->offset, bytes);
  upload->offset += bytes;
  return bytes;
}

std::string Scheme(const std::string& url) {
  const std::size_t colon = url.find("://");
  return colon == std::string::npos ? std::string() : url.substr(0, colon);
}

}  // namespace

base::Result<SmtpUrl> ParseSmtpUrl(const std::string& url) {
  GlobalInit();
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parsed(curl_url(), &curl_url_cleanup);
  if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return base::InvalidArgument("not a URL: " + url);
  }
  const auto part = [&parsed](CURLUPart which) -> std::optional<std::string> {
    char* text = nullptr;
    if (curl_url_get(parsed.get(), which, &text, CURLU_URLDECODE) != CURLUE_OK) {
      return std::nullopt;
    }
    std::string value = text;
    curl_free(text);
    return value;
  };
  const std::string scheme = part(CURLUPART_SCHEME).value_or("");
  if (scheme != "smtp" && scheme != "smtps") {
    return base::InvalidArgument("the URL must be smtp:// or smtps://");
  }
  if (!part(CURLUPART_HOST)) return base::InvalidArgument("the URL has no host");
  if (part(CURLUPART_PASSWORD)) {
    return base::InvalidArgument("the URL must not hold a password (give a password file)");
  }
  SmtpUrl out;
  out.username = part(CURLUPART_USER).value_or("");
  curl_url_set(parsed.get(), CURLUPART_USER, nullptr, 0);
  char* without_user = nullptr;
  if (curl_url_get(parsed.get(), CURLUPART_URL, &without_user, 0) != CURLUE_OK) {
    return base::InvalidArgument("not a URL");
  }
  out.url = without_user;
  curl_free(without_user);
  return out;
}

base::Status SendMail(const SmtpServer& server, const MailEnvelope& envelope) {
  CURL* curl = ThreadHandle();
  if (curl == nullptr) return base::Unavailable("smtp: no curl handle");
  curl_easy_reset(curl);  // options only: the connection cache stays
  const std::string from = "<" + envelope.from + ">";
  CurlList recipients;
  recipients.Append("<" + envelope.recipient + ">");
  Upload upload{&envelope.message, 0};
  curl_easy_setopt(curl, CURLOPT_URL, server.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  if (Scheme(server.url) == "smtp") {
    // STARTTLS when offered; demanded when there is a password to protect.
    curl_easy_setopt(curl, CURLOPT_USE_SSL,
                     server.password.empty() ? static_cast<long>(CURLUSESSL_TRY)
                                             : static_cast<long>(CURLUSESSL_ALL));
  }
  if (!server.username.empty()) curl_easy_setopt(curl, CURLOPT_USERNAME, server.username.c_str());
  if (!server.password.empty()) curl_easy_setopt(curl, CURLOPT_PASSWORD, server.password.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, &OnRead);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                   static_cast<curl_off_t>(envelope.message.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(server.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM (threads)
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!server.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, server.ca_file.c_str());
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) return base::Status::Ok();
  long reply = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
  std::string what = "smtp " + envelope.recipient + ": " + curl_easy_strerror(code);
  if (reply != 0) what += " (server answered " + std::to_string(reply) + ")";
  // 530 and 535 are about our credentials (an operator fixes them: retry meanwhile); any other
  // 5xx refuses this recipient or message for good.
  const bool permanent =
      reply >= 500 && reply < 600 && reply != 530 && reply != 535 && code != CURLE_LOGIN_DENIED;
  return permanent ? base::FailedPrecondition(std::move(what)) : base::Unavailable(std::move(what));
}

}  // namespace fs::net
