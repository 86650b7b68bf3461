// A writer batch as bulk statements of the cluster store: many rows of one kind in one
// statement (arrays read back through unnest), sent in one pipeline. The statements are
// described by one table (pg_batch.cc, kBulkStatements) and their SQL is built from it; a
// batch's mutations fill the arrays in the table's column order.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "core/mutation.h"
#include "store/postgres/pg_connection.h"

namespace fs::store::pg {

// Parameters and steps as the pipeline takes them (text format).
inline PipelineStep Sql(std::string sql) { return PipelineStep{std::move(sql), false, {}}; }
inline PipelineStep Prepared(const char* name, std::vector<Parameter> parameters) {
  return PipelineStep{name, true, std::move(parameters)};
}
inline std::string Number(std::int64_t value) { return std::to_string(value); }
inline std::string Ms(base::Time time) { return std::to_string(base::ToMillis(time)); }
// Text, or NULL when empty (a detail not set).
inline Parameter Nullable(const std::string& text) {
  return text.empty() ? Parameter() : Parameter(text);
}
inline Parameter OptionalMs(const std::optional<base::Time>& time) {
  if (!time) return std::nullopt;
  return Ms(*time);
}

struct NamedSql {
  const char* name;
  std::string sql;
};
// Every bulk statement's name and SQL, to prepare on a connection.
std::vector<NamedSql> BulkStatementsSql();

struct BatchPlan {
  std::vector<PipelineStep> steps;  // the bulk statements, in the order they must run
  std::string unsupported;          // a mutation this store cannot hold; empty when none
};
// The steps that write `mutations`, their rows stamped with cluster batch `version`.
BatchPlan PlanBatch(const core::Mutations& mutations, std::int64_t version);

}  // namespace fs::store::pg
