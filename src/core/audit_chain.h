// AuditChain: the ledger's part that chains every decision's audit event after the last one
// (core/audit.h) and adds it to the batch, so events commit and roll back with their change.
// Off (no hasher) it makes no event: only for measuring what auditing costs.
// Depends on: the journal. Thread-safety: none; owned with its ledger by one thread.
#pragma once

#include "core/audit.h"
#include "core/journal.h"

namespace fs::core {

class AuditChain {
 public:
  explicit AuditChain(Journal& journal) : journal_(journal) {}
  AuditChain(const AuditChain&) = delete;
  AuditChain& operator=(const AuditChain&) = delete;

  // Turns events on, chained after `head` (the stored chain's last event). Outside a batch.
  void Enable(AuditHasher hasher, AuditHead head);
  // Shared stores: the head other writers committed. No-op when off. Outside a batch.
  void Sync(AuditHead head);

  bool enabled() const { return static_cast<bool>(hasher_); }
  // Assigns the event's id and hashes and adds it to the batch. No-op when off.
  void Append(AuditEvent event);
  // The last event, including this batch's until rolled back.
  const AuditHead& head() const { return head_; }

 private:
  static void Undo(void* self, undo::Change& change);

  Journal& journal_;
  AuditHasher hasher_;  // empty: audit off
  AuditHead head_;
  // The batch whose undo holds the head from before its first event: the head only moves
  // forward within a batch, so one entry restores it (not a copy per event).
  std::uint64_t head_saved_in_batch_ = 0;
};

}  // namespace fs::core
