#include "store/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <utility>

#include "store/store.h"

namespace fs::store::pg {

void ConnectionCloser::operator()(pg_conn* connection) const { PQfinish(connection); }
void ResultClearer::operator()(pg_result* result) const { PQclear(result); }

namespace {

std::string Trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// SQLSTATEs after which the same work may succeed later (docs/storage.md, "Errors").
bool Retryable(std::string_view state) {
  if (state.substr(0, 2) == "08") return true;  // connection exception
  if (state.substr(0, 2) == "53") return true;  // insufficient resources
  return state == "40001"                       // serialization_failure
         || state == "40P01"                    // deadlock_detected
         || state == "55P03"                    // lock_not_available (lock_timeout)
         || state == "57014"                    // query_canceled (statement_timeout)
         || state == "57P01"                    // admin_shutdown
         || state == "57P02"                    // crash_shutdown
         || state == "57P03"                    // cannot_connect_now (starting up)
         || state == "25P03";                   // idle_in_transaction_session_timeout
}

// Class 22 (data exception: an encoding the database refuses, a value out of range) and class
// 23 (integrity constraint) are one command's data, except the guards' constraints: zero
// oversell and the per-user limit are writer bugs (store.h).
bool DataError(std::string_view state, const pg_result* result) {
  if (state.substr(0, 2) == "22") return true;
  if (state.substr(0, 2) != "23") return false;
  const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
  const std::string_view name = constraint == nullptr ? "" : constraint;
  return std::find(std::begin(kGuardConstraints), std::end(kGuardConstraints), name) ==
         std::end(kGuardConstraints);
}

}  // namespace

base::Result<ConnectionHandle> Connect(const std::string& url, const SessionOptions& options) {
  const std::string timeout = std::to_string(options.connect_timeout.count());
  const char* keywords[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), timeout.c_str(), options.application_name.c_str(), nullptr};
  ConnectionHandle connection(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!connection) return base::Unavailable("postgres: out of memory while connecting");
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    const std::string message = Trimmed(PQerrorMessage(connection.get()));
    if (message.find("invalid") != std::string::npos && message.find("URI") != std::string::npos) {
      return base::InvalidArgument("postgres: " + message);
    }
    return base::Unavailable("postgres: cannot connect: " + message);
  }
  const std::string settings =
      "SET synchronous_commit = on; SET TIME ZONE 'UTC'; SET client_min_messages = warning;"
      " SET lock_timeout = " +
      std::to_string(options.lock_timeout.count()) +
      "; SET statement_timeout = " + std::to_string(options.statement_timeout.count()) +
      "; SET idle_in_transaction_session_timeout = " +
      std::to_string(options.idle_in_transaction_timeout.count()) + ";";
  FS_RETURN_IF_ERROR(Exec(connection.get(), settings, "session settings"));
  return connection;
}

bool Healthy(pg_conn* connection) {
  return connection != nullptr && PQstatus(connection) == CONNECTION_OK;
}

base::Status ErrorOf(pg_conn* connection, const pg_result* result, std::string_view context) {
  std::string message = "postgres: ";
  message += context;
  message += ": ";
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  if (result != nullptr && PQresultErrorMessage(result)[0] != '\0') {
    message += Trimmed(PQresultErrorMessage(result));
  } else {
    message += Trimmed(PQerrorMessage(connection));
  }
  if (state == nullptr) {
    // No SQLSTATE: the connection itself failed (or a pipeline step was skipped).
    return base::Unavailable(std::move(message));
  }
  message += " [";
  message += state;
  message += "]";
  if (Retryable(state) || !Healthy(connection)) return base::Unavailable(std::move(message));
  if (DataError(state, result)) return base::InvalidArgument(std::move(message));
  return base::Internal(std::move(message));
}

base::Status Exec(pg_conn* connection, const std::string& sql, std::string_view context) {
  ResultHandle result(PQexec(connection, sql.c_str()));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return base::Status::Ok();
  return ErrorOf(connection, result.get(), context);
}

base::Result<ResultHandle> Query(pg_conn* connection, const std::string& sql,
                                 const std::vector<Parameter>& parameters,
                                 std::string_view context) {
  std::vector<const char*> values;
  values.reserve(parameters.size());
  for (const Parameter& parameter : parameters) {
    values.push_back(parameter ? parameter->c_str() : nullptr);
  }
  ResultHandle result(PQexecParams(connection, sql.c_str(), static_cast<int>(values.size()),
                                   nullptr, values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return result;
  return ErrorOf(connection, result.get(), context);
}

base::Status Prepare(pg_conn* connection, const char* name, const char* sql) {
  ResultHandle result(PQprepare(connection, name, sql, 0, nullptr));
  if (result && PQresultStatus(result.get()) == PGRES_COMMAND_OK) return base::Status::Ok();
  return ErrorOf(connection, result.get(), std::string("prepare ") + name);
}

void ArrayLiteral::Separator() {
  if (size_ > 0) text_ += ',';
  ++size_;
}

ArrayLiteral& ArrayLiteral::Text(std::string_view value) {
  Separator();
  text_ += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
  return *this;
}

ArrayLiteral& ArrayLiteral::OptionalText(const std::optional<std::string>& value) {
  if (value) return Text(*value);
  Separator();
  text_ += "NULL";
  return *this;
}

ArrayLiteral& ArrayLiteral::Int64(std::int64_t value) {
  Separator();
  text_ += std::to_string(value);
  return *this;
}

std::string ArrayLiteral::Finish() {
  text_ += '}';
  return std::move(text_);
}

namespace {

bool Send(pg_conn* connection, const PipelineStep& step) {
  std::vector<const char*> values;
  values.reserve(step.parameters.size());
  for (const Parameter& parameter : step.parameters) {
    values.push_back(parameter ? parameter->c_str() : nullptr);
  }
  const int count = static_cast<int>(values.size());
  if (step.prepared) {
    return PQsendQueryPrepared(connection, step.statement.c_str(), count, values.data(), nullptr,
                               nullptr, 0) == 1;
  }
  return PQsendQueryParams(connection, step.statement.c_str(), count, nullptr, values.data(),
                           nullptr, nullptr, 0) == 1;
}

}  // namespace

base::Result<std::vector<ResultHandle>> RunPipeline(pg_conn* connection,
                                                    const std::vector<PipelineStep>& steps,
                                                    std::string_view context) {
  if (!Healthy(connection)) return ErrorOf(connection, nullptr, context);
  if (PQenterPipelineMode(connection) != 1) return ErrorOf(connection, nullptr, context);
  std::size_t sent = 0;
  for (const PipelineStep& step : steps) {
    if (!Send(connection, step)) break;
    ++sent;
  }
  const bool synced = sent == steps.size() && PQpipelineSync(connection) == 1;
  if (!synced) {
    // Cannot even send: the connection is gone; the caller drops it.
    return ErrorOf(connection, nullptr, context);
  }
  std::vector<ResultHandle> results;
  results.reserve(steps.size());
  std::optional<base::Status> failure;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    ResultHandle result(PQgetResult(connection));
    if (!result) {
      return failure.value_or(ErrorOf(connection, nullptr, context));
    }
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !failure) {
      failure = ErrorOf(connection, result.get(), context);
    }
    results.push_back(std::move(result));
    // Each step's results end with a null.
    while (ResultHandle extra{PQgetResult(connection)}) {
      if (PQresultStatus(extra.get()) == PGRES_PIPELINE_SYNC) break;
    }
  }
  ResultHandle sync(PQgetResult(connection));
  if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
    return failure.value_or(ErrorOf(connection, sync.get(), context));
  }
  if (PQexitPipelineMode(connection) != 1) {
    return failure.value_or(ErrorOf(connection, nullptr, context));
  }
  if (failure) return *failure;
  return results;
}

std::string Text(const pg_result* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column),
                     static_cast<std::size_t>(PQgetlength(result, row, column)));
}

std::optional<std::string> OptionalText(const pg_result* result, int row, int column) {
  if (PQgetisnull(result, row, column) == 1) return std::nullopt;
  return Text(result, row, column);
}

base::Result<std::int64_t> Int64(const pg_result* result, int row, int column) {
  const char* text = PQgetvalue(result, row, column);
  const auto length = static_cast<std::size_t>(PQgetlength(result, row, column));
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text, text + length, value);
  if (error != std::errc() || end != text + length || length == 0) {
    return base::DataLoss(std::string("postgres: column ") + PQfname(result, column) +
                          " is not an integer");
  }
  return value;
}

base::Result<std::optional<std::int64_t>> OptionalInt64(const pg_result* result, int row,
                                                        int column) {
  if (PQgetisnull(result, row, column) == 1) return std::optional<std::int64_t>();
  auto value = Int64(result, row, column);
  if (!value) return value.error();
  return std::optional<std::int64_t>(*value);
}

int Rows(const pg_result* result) { return PQntuples(result); }

}  // namespace fs::store::pg
