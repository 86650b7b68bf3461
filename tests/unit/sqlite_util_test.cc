// Goal: one SQLite error mapping everywhere. The code tells the caller its next step: a refused
// guard is kInternal, a lock or a full disk kUnavailable, I/O errors and corruption kDataLoss,
// and a file that cannot be opened kFailedPrecondition while opening. The store and the audit
// reader answer a file that is not a database alike (kDataLoss).
#include "store/sqlite/sqlite_util.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "audit/audit_reader.h"
#include "common/temp_database_test.h"
#include "store/sqlite/sqlite_store.h"

namespace fs::store::sqlite {
namespace {

using base::StatusCode;

StatusCode CodeOf(int rc, Stage stage) { return ErrorFromCode(rc, "detail", stage, "what").code(); }

TEST(SqliteErrorMappingTest, MapsEachResultCodeByTheCallersNextStep) {
  // A declarative constraint is one command's data; a trigger or a named guard is a writer bug.
  EXPECT_EQ(CodeOf(SQLITE_CONSTRAINT, Stage::kApply), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(SQLITE_CONSTRAINT_CHECK, Stage::kApply), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(SQLITE_CONSTRAINT_UNIQUE, Stage::kApply), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(SQLITE_CONSTRAINT_TRIGGER, Stage::kApply), StatusCode::kInternal);
  EXPECT_EQ(ErrorFromCode(SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: no_oversell",
                          Stage::kApply, "what")
                .code(),
            StatusCode::kInternal);
  EXPECT_EQ(ErrorFromCode(SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: units_within_limit",
                          Stage::kApply, "what")
                .code(),
            StatusCode::kInternal);
  EXPECT_EQ(CodeOf(SQLITE_TOOBIG, Stage::kApply), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(SQLITE_BUSY, Stage::kApply), StatusCode::kUnavailable);
  EXPECT_EQ(CodeOf(SQLITE_LOCKED, Stage::kRead), StatusCode::kUnavailable);
  EXPECT_EQ(CodeOf(SQLITE_FULL, Stage::kApply), StatusCode::kUnavailable);
  EXPECT_EQ(CodeOf(SQLITE_NOMEM, Stage::kRead), StatusCode::kUnavailable);
  EXPECT_EQ(CodeOf(SQLITE_IOERR, Stage::kRead), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(SQLITE_IOERR_FSYNC, Stage::kCommit), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(SQLITE_CORRUPT, Stage::kRead), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(SQLITE_NOTADB, Stage::kOpen), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(SQLITE_CANTOPEN, Stage::kOpen), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeOf(SQLITE_CANTOPEN, Stage::kApply), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(SQLITE_ERROR, Stage::kApply), StatusCode::kInternal);
  EXPECT_EQ(CodeOf(SQLITE_ERROR, Stage::kCommit), StatusCode::kDataLoss);
}

TEST(SqliteErrorMappingTest, NamesTheContextAndSqlitesText) {
  const base::Status status =
      ErrorFromCode(SQLITE_BUSY, "database is locked", Stage::kApply, "insert sale 'a'");
  EXPECT_EQ(status.message(), "insert sale 'a': database is locked (database is locked)");
}

class NotADatabaseTest : public test_common::TempDatabaseTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());
    std::ofstream file(path_, std::ios::binary);
    file << std::string(4096, 'x');
  }
};

TEST_F(NotADatabaseTest, TheStoreAndTheAuditReaderBothReportDataLoss) {
  auto store = SqliteStore::Open(path_, SqliteOptions{});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kDataLoss) << store.error().ToString();
  auto reader = audit::AuditReader::Open(path_);
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code(), StatusCode::kDataLoss) << reader.error().ToString();
}

}  // namespace
}  // namespace fs::store::sqlite
