#include "core/journal.h"

#include <algorithm>

namespace fs::core {

void Journal::Clear() {
  in_batch_ = false;
  mutations_.clear();
  undo_.clear();
  touched_skus_.clear();
}

std::vector<std::string> Journal::Commit() {
  FS_CHECK(in_batch_);
  std::vector<std::string> touched = std::move(touched_skus_);
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  Clear();
  return touched;
}

void Journal::Rollback() {
  FS_CHECK(in_batch_);
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) it->function(it->owner, it->change);
  Clear();
}

}  // namespace fs::core
