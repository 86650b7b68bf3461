// TempDatabaseTest: a gtest fixture giving each test a fresh directory (`directory_`) and the
// path of a SQLite database file in it (`path_`; not created: the store under test creates it).
// The directory is named after the test suite and removed after the test.
// A fixture that derives from it and has its own SetUp calls
// `ASSERT_NO_FATAL_FAILURE(TempDatabaseTest::SetUp());` first; one with its own TearDown
// closes what uses the database, then calls TempDatabaseTest::TearDown().
// Thread-safety: like any fixture, SetUp and TearDown run on the test's thread.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>

#include "common/temp_dir.h"

namespace fs::test_common {

class TempDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Parameterized suites are named "Prefix/Suite": no '/' in a directory name.
    std::string prefix = std::string("flashsale-") +
                         ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name();
    std::replace(prefix.begin(), prefix.end(), '/', '-');
    base::Result<std::filesystem::path> made = MakeTempDir(prefix);
    ASSERT_TRUE(made.has_value()) << made.error().ToString();
    directory_ = std::move(made).value();
    path_ = (directory_ / "flashsale.db").string();
  }
  void TearDown() override {
    std::error_code ignored;  // a leftover temporary directory fails no test
    std::filesystem::remove_all(directory_, ignored);
  }

  std::filesystem::path directory_;
  std::string path_;
};

}  // namespace fs::test_common
