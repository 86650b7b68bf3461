// The engine's one command mechanism: every request is a typed command struct C with
//   using Result = ...;                                  // what the caller is told
//   Result Decide(core::Ledger&, const DecideContext&) const;  // on the writer, in the batch
// and optionally
//   void Committed(Result&, const CommitContext&) const; // after its batch committed
// listed once in engine::Commands (commands.h). Engine::Submit<C>(command, done) queues it;
// `done` gets a Reply<C::Result> once the batch's commit is known: {ok, the decision} after a
// commit, {error, Result{}} when the batch failed or the command never reached the writer.
// Decide is const: a batch the store refused for one command's data is decided again in
// parts (Engine::SettleDataError), so deciding must leave the command as it was.
//
// Decisions are values: the inbox stores a command by value in its fixed-size slot (a variant
// generated from the list), and decided results go into a vector the writer reuses, so
// deciding a command allocates nothing to hold its answer.
// Thread-safety: plain values; Decide and Committed run on the writer thread only.
#pragma once

#include <functional>
#include <type_traits>
#include <variant>

#include "base/clock.h"
#include "base/random.h"
#include "base/status.h"
#include "core/inventory.h"
#include "core/order.h"
#include "engine/stats.h"
#include "trace/trace_context.h"

namespace fs::core {
class Ledger;
}

namespace fs::engine {

// What a caller is told about its command.
template <typename Value>
struct Reply {
  // Not ok: the batch was not committed or the queue refused it (503), or the store refused
  // this command's own data (kInvalidArgument, 400) while the rest of its batch committed.
  base::Status status;
  Value value{};  // the decision; Value{} unless status is ok
};

template <typename C>
using ReplyOf = Reply<typename C::Result>;

// The reply stored with the idempotency key of a keyed request that created something,
// replayed byte-identically to a repeat of it (core::Ledger::StoreReply). A server stores
// what its HTTP layer answers (the app wires it); Engine::Open fills what is empty with
// (201, the reservation id) and (202, the order id) for tests and benchmarks.
struct StoredReplies {
  std::function<core::StoredReply(const core::Reservation&)> reservation_created;
  std::function<core::StoredReply(const core::Order&)> order_created;
};

// What a decision may use besides the ledger. Writer thread only.
struct DecideContext {
  base::Time now{};
  base::Rng& ids;  // public ids (reservations, orders, tickets)
  const StoredReplies& replies;
  const core::RetrySchedule& retry_schedule;
  // Several nodes share the store (store::Store::shared).
  bool shared = false;
  // Shared stores: the consistency check made right after the batch's refresh, if any.
  const std::optional<base::Status>& batch_check;
};

// What a committed command may touch. Writer thread only.
struct CommitContext {
  EngineStats& stats;
  // Recounts memory and compares it with the store's own counters (after the commit).
  const std::function<base::Status()>& compare_with_store;
};

template <typename... C>
struct CommandList {};

// A queued command with its caller's continuation.
template <typename C>
struct Pending {
  using Command = C;
  C command;
  std::function<void(Reply<typename C::Result>)> done;
  // The caller's span when its trace is sampled (the HTTP request's server span): the writer
  // records the command's wait in the inbox as a child of it, linked to the batch that
  // answered it (batch_trace.h). Not sampled: nothing is recorded.
  trace::ParentContext trace{};
  std::int64_t queued_unix_nanos = 0;  // set only when trace.sampled
};

// A decided command waiting for its batch's commit.
template <typename C>
struct Decided {
  typename C::Result value;
};

template <typename List>
struct CommandTypes;
template <typename... C>
struct CommandTypes<CommandList<C...>> {
  using Queued = std::variant<Pending<C>...>;
  using Decision = std::variant<Decided<C>...>;
  template <typename T>
  static constexpr bool kListed = (std::is_same_v<T, C> || ...);
};

template <typename C>
concept HasCommitted = requires(const C& command, typename C::Result& result,
                                const CommitContext& context) {
  command.Committed(result, context);
};

}  // namespace fs::engine
