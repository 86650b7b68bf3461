#include "core/audit_chain.h"

#include <utility>

#include "base/check.h"

namespace fs::core {

void AuditChain::Enable(AuditHasher hasher, AuditHead head) {
  FS_CHECK(!journal_.in_batch());
  FS_CHECK(hasher != nullptr);
  hasher_ = std::move(hasher);
  head_ = std::move(head);
}

void AuditChain::Sync(AuditHead head) {
  FS_CHECK(!journal_.in_batch());
  if (!hasher_) return;
  head_ = std::move(head);
}

void AuditChain::Append(AuditEvent event) {
  if (!hasher_) return;
  FS_CHECK(journal_.in_batch());
  if (head_saved_in_batch_ != journal_.batch_number()) {
    journal_.Record(this, &AuditChain::Undo, undo::AuditHeadMoved{head_});
    head_saved_in_batch_ = journal_.batch_number();
  }
  head_ = ChainAfter(head_, event, hasher_);
  journal_.Add(AuditAppended{std::move(event)});
}

void AuditChain::Undo(void* self, undo::Change& change) {
  auto& chain = *static_cast<AuditChain*>(self);
  chain.head_ = std::move(std::get<undo::AuditHeadMoved>(change).previous);
}

}  // namespace fs::core
