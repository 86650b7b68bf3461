#include "redis/reply.h"

#include <hiredis/hiredis.h>

#include <memory>

namespace fs::redis {
namespace {

base::Result<Reply> Convert(const redisReply& reply, std::size_t depth) {
  if (depth > kReplyDepthMax) return base::Internal("redis reply nested too deeply");
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      return Reply::String(std::string(reply.str, reply.len));
    case REDIS_REPLY_STATUS:
      return Reply::Status(std::string(reply.str, reply.len));
    case REDIS_REPLY_ERROR:
      return Reply::Error(std::string(reply.str, reply.len));
    case REDIS_REPLY_INTEGER:
      return Reply::Integer(reply.integer);
    case REDIS_REPLY_NIL:
      return Reply::Nil();
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i) {
        auto element = Convert(*reply.element[i], depth + 1);
        if (!element) return element.error();
        elements.push_back(std::move(*element));
      }
      return Reply::Array(std::move(elements));
    }
    default:
      return base::Internal("unknown redis reply type " + std::to_string(reply.type));
  }
}

struct ReaderDeleter {
  void operator()(redisReader* reader) const { redisReaderFree(reader); }
};
struct ReplyDeleter {
  void operator()(void* reply) const { freeReplyObject(reply); }
};

}  // namespace

bool IsNoScriptError(const Reply& reply) {
  return reply.is_error() && reply.text.starts_with("NOSCRIPT");
}

std::optional<std::vector<std::int64_t>> IntegerArray(const Reply& reply, std::size_t count) {
  if (reply.type != Reply::Type::kArray || reply.elements.size() != count) return std::nullopt;
  std::vector<std::int64_t> values;
  values.reserve(count);
  for (const Reply& element : reply.elements) {
    if (element.type != Reply::Type::kInteger) return std::nullopt;
    values.push_back(element.integer);
  }
  return values;
}

base::Result<Reply> ConvertHiredisReply(const void* hiredis_reply) {
  FS_CHECK(hiredis_reply != nullptr);
  return Convert(*static_cast<const redisReply*>(hiredis_reply), 0);
}

base::Result<std::vector<Reply>> ParseReplies(std::string_view bytes) {
  std::unique_ptr<redisReader, ReaderDeleter> reader(redisReaderCreate());
  if (!reader) return base::Internal("out of memory creating a redis reader");
  if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK) {
    return base::Internal("redis reader refused the input");
  }
  std::vector<Reply> replies;
  while (true) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
      return base::Internal(std::string("redis protocol error: ") + reader->errstr);
    }
    if (raw == nullptr) return replies;
    std::unique_ptr<void, ReplyDeleter> owned(raw);
    auto reply = ConvertHiredisReply(raw);
    if (!reply) return reply.error();
    replies.push_back(std::move(*reply));
  }
}

}  // namespace fs::redis
