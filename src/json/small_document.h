// A RapidJSON document whose memory starts on the stack: the bodies and token parts parsed on
// every request are a few hundred bytes, while rapidjson::Document takes a 64 KiB chunk from
// the heap per document (and glibc consolidates its free lists on every free of that size).
// Larger input still parses: the allocators then take chunks from the heap as usual.
//
// Thread-safety: a value; one thread at a time. Not copyable or movable (the document points
// into the object's own buffers), so parse it where it is used.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string_view>

namespace fs::json {

// kParseStackBytes holds both parse stacks (the document's and, with iterative parsing, the
// reader's), kStackCapacityBytes each, plus their growth: when it overflows, RapidJSON takes a
// 64 KiB chunk from the heap, the very cost this class avoids.
template <std::size_t kValueBytes = 2048, std::size_t kParseStackBytes = 2048>
class SmallDocument {
 public:
  using Allocator = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
  using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Allocator, Allocator>;

  SmallDocument() = default;
  SmallDocument(const SmallDocument&) = delete;
  SmallDocument& operator=(const SmallDocument&) = delete;

  template <unsigned kParseFlags = rapidjson::kParseDefaultFlags>
  Document& Parse(std::string_view text) {
    document_.template Parse<kParseFlags>(text.data(), text.size());
    return document_;
  }
  Document& document() { return document_; }

 private:
  alignas(16) char value_buffer_[kValueBytes];
  alignas(16) char parse_buffer_[kParseStackBytes];
  Allocator value_allocator_{value_buffer_, sizeof value_buffer_};
  Allocator parse_allocator_{parse_buffer_, sizeof parse_buffer_};
  static constexpr std::size_t kStackCapacityBytes = 256;
  static_assert(kParseStackBytes >= 8 * kStackCapacityBytes);
  Document document_{&value_allocator_, kStackCapacityBytes, &parse_allocator_};
};

}  // namespace fs::json
