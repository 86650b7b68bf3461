// Duplicate member names in a parsed JSON value. RapidJSON keeps every member and lookups
// find the first, so {"quantity":1,"quantity":999} would be read one way by us and perhaps
// another way by a proxy or a log reader: such bodies are refused instead.
// Iterative (an explicit stack), so a deeply nested body costs no call stack.
// Thread-safety: a pure function.
#pragma once

#include <rapidjson/document.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fs::json {

// The first member name that appears twice in one object of `root` (at any depth), if any.
inline std::optional<std::string> FindDuplicateKey(const rapidjson::Value& root) {
  std::vector<const rapidjson::Value*> pending = {&root};
  std::vector<std::string_view> names;
  while (!pending.empty()) {
    const rapidjson::Value* value = pending.back();
    pending.pop_back();
    if (value->IsArray()) {
      for (const auto& element : value->GetArray()) pending.push_back(&element);
      continue;
    }
    if (!value->IsObject()) continue;
    names.clear();
    for (const auto& member : value->GetObject()) {
      names.emplace_back(member.name.GetString(), member.name.GetStringLength());
      pending.push_back(&member.value);
    }
    std::sort(names.begin(), names.end());
    const auto twice = std::adjacent_find(names.begin(), names.end());
    if (twice != names.end()) return std::string(*twice);
  }
  return std::nullopt;
}

}  // namespace fs::json
