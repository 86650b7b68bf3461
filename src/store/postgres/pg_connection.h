// Small libpq helpers shared by the PostgreSQL store, the outbox source and the order leases:
// owning handles, connecting with the session settings every connection needs, mapping
// SQLSTATEs to Status codes (by the caller's next step), PostgreSQL array literals for bulk
// statements, and a pipeline that sends many statements in one round trip.
//
// Thread-safety: a connection and everything built on it is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

struct pg_conn;
struct pg_result;

namespace fs::store::pg {

struct ConnectionCloser {
  void operator()(pg_conn* connection) const;
};
struct ResultClearer {
  void operator()(pg_result* result) const;
};
using ConnectionHandle = std::unique_ptr<pg_conn, ConnectionCloser>;
using ResultHandle = std::unique_ptr<pg_result, ResultClearer>;

// Session settings of every connection, set explicitly (docs/operations.md).
struct SessionOptions {
  // A statement waiting this long for a row lock fails with kUnavailable (the batch answers
  // 503) instead of hanging the writer behind a stuck node.
  std::chrono::milliseconds lock_timeout{5000};
  // Any one statement at most; a batch's statements take milliseconds.
  std::chrono::milliseconds statement_timeout{15000};
  // A node that dies inside a transaction loses its locks after at most this (the server also
  // notices a closed socket at once; this covers a hung process).
  std::chrono::milliseconds idle_in_transaction_timeout{10000};
  // Connecting at most; a refused connection fails at once.
  std::chrono::seconds connect_timeout{3};
  std::string application_name = "flashsale";
};

// Connects to `url` (postgres://... or a libpq key=value string) and applies the session
// settings: synchronous_commit=on (a COMMIT returns only after the WAL is flushed), the
// timeouts above, UTC. kUnavailable when the server cannot be reached, kInvalidArgument for a
// malformed URL.
base::Result<ConnectionHandle> Connect(const std::string& url, const SessionOptions& options);

// True while the connection is usable (not CONNECTION_BAD).
bool Healthy(pg_conn* connection);

// The Status for a failed result (or a broken connection when `result` is null):
// kUnavailable for connection loss, server shutdown, lock or statement timeout, serialization
// failure or deadlock (retry later); kInternal for a refused guard (integrity constraint,
// trigger RAISE) or anything else.
base::Status ErrorOf(pg_conn* connection, const pg_result* result, std::string_view context);

// Runs one statement without parameters; ok when it completed (command or rows).
base::Status Exec(pg_conn* connection, const std::string& sql, std::string_view context);

using Parameter = std::optional<std::string>;  // nullopt: SQL NULL

// Runs one statement with text parameters ($1..$n; nullopt = NULL) and returns its result
// (rows, or none for a command).
base::Result<ResultHandle> Query(pg_conn* connection, const std::string& sql,
                                 const std::vector<Parameter>& parameters,
                                 std::string_view context);

// Prepares `sql` under `name` on the connection.
base::Status Prepare(pg_conn* connection, const char* name, const char* sql);

// Builds a PostgreSQL array literal ("{...}") from values, for unnest() bulk statements.
class ArrayLiteral {
 public:
  ArrayLiteral() { text_ = "{"; }
  ArrayLiteral& Text(std::string_view value);
  ArrayLiteral& OptionalText(const std::optional<std::string>& value);
  ArrayLiteral& Int64(std::int64_t value);
  std::size_t size() const { return size_; }
  // The literal; the builder must not be used afterwards.
  std::string Finish();

 private:
  void Separator();
  std::string text_;
  std::size_t size_ = 0;
};

struct PipelineStep {
  std::string statement;  // a prepared statement's name, or SQL when `prepared` is false
  bool prepared = true;
  std::vector<Parameter> parameters;
};

// Sends `steps` in pipeline mode and reads every result: one round trip. Returns the results
// in order when every step succeeded; otherwise the first failure's Status (the steps after
// it were skipped by the server). The caller decides what a failure means for an open
// transaction (ROLLBACK).
base::Result<std::vector<ResultHandle>> RunPipeline(pg_conn* connection,
                                                    const std::vector<PipelineStep>& steps,
                                                    std::string_view context);

// Result accessors (text format). Number columns that do not parse are kDataLoss.
std::string Text(const pg_result* result, int row, int column);
std::optional<std::string> OptionalText(const pg_result* result, int row, int column);
base::Result<std::int64_t> Int64(const pg_result* result, int row, int column);
base::Result<std::optional<std::int64_t>> OptionalInt64(const pg_result* result, int row,
                                                        int column);
int Rows(const pg_result* result);

}  // namespace fs::store::pg
