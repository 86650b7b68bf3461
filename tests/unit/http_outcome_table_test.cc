// Goal: the one outcome -> HTTP table gives every business outcome and operational status the
// public contract's status code and error code (docs/openapi.yaml), and success rows carry no
// error code.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/outcome_table.h"

namespace fs::http {
namespace {

struct Row {
  std::string name;
  HttpOutcome outcome;
  unsigned status;
  std::string code;  // empty: success
};

void ExpectRows(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(row.outcome.status, row.status);
    EXPECT_EQ(row.outcome.error_code, row.code);
    EXPECT_EQ(row.outcome.is_error(), !row.code.empty());
    if (row.outcome.is_error()) {
      EXPECT_FALSE(row.outcome.message.empty());
    }
  }
}

TEST(HttpOutcomeTableTest, ReserveOutcomes) {
  using O = core::ReserveOutcome;
  ExpectRows({
      {"reserved", MapOutcome(O::kReserved), 201, ""},
      {"replayed", MapOutcome(O::kReplayed), 200, ""},
      {"key reused", MapOutcome(O::kIdempotencyKeyReused), 422, "IDEMPOTENCY_KEY_REUSED"},
      {"sku not found", MapOutcome(O::kSkuNotFound), 404, "SKU_NOT_FOUND"},
      {"sold out", MapOutcome(O::kSoldOut), 409, "SOLD_OUT"},
      {"limit", MapOutcome(O::kLimitExceeded), 409, "LIMIT_EXCEEDED"},
      {"not open", MapOutcome(O::kSaleNotOpen), 409, "SALE_NOT_OPEN"},
      {"closed", MapOutcome(O::kSaleClosed), 409, "SALE_CLOSED"},
  });
}

TEST(HttpOutcomeTableTest, ReleaseOutcomes) {
  using O = core::ReleaseOutcome;
  ExpectRows({
      {"released", MapOutcome(O::kReleased), 200, ""},
      {"already released", MapOutcome(O::kAlreadyReleased), 200, ""},
      {"not found", MapOutcome(O::kNotFound), 404, "RESERVATION_NOT_FOUND"},
      {"expired", MapOutcome(O::kExpired), 409, "RESERVATION_EXPIRED"},
      {"not active", MapOutcome(O::kNotActive), 409, "RESERVATION_NOT_ACTIVE"},
  });
}

TEST(HttpOutcomeTableTest, CreateSaleOutcomes) {
  using O = core::CreateSaleOutcome;
  ExpectRows({
      {"created", MapOutcome(O::kCreated), 201, ""},
      {"exists", MapOutcome(O::kAlreadyExists), 409, "SKU_EXISTS"},
      {"invalid", MapOutcome(O::kInvalid), 400, "INVALID_REQUEST"},
  });
}

TEST(HttpOutcomeTableTest, EveryOperationalErrorIsRetryable503) {
  // Never SOLD_OUT or 500 for a failed commit: the client must retry, not give up.
  ExpectRows({
      {"unavailable", MapStatus(base::Unavailable("commit failed")), 503, "UNAVAILABLE"},
      {"inbox full", MapStatus(base::ResourceExhausted("inbox full")), 503, "UNAVAILABLE"},
      {"data loss", MapStatus(base::DataLoss("fsync")), 503, "UNAVAILABLE"},
      {"internal", MapStatus(base::Internal("guard")), 503, "UNAVAILABLE"},
      {"stopped", MapStatus(base::FailedPrecondition("stopped")), 503, "UNAVAILABLE"},
  });
}

TEST(HttpOutcomeTableTest, OkStatusIsNotAnError) {
  EXPECT_DEATH((void)MapStatus(base::Status::Ok()), "status.ok");
}

}  // namespace
}  // namespace fs::http
