#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <array>
#include <charconv>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "base/check.h"

namespace fs::store {
namespace {

// ---------------------------------------------------------------------------------------------
// Schema. Migrations are append-only: a released migration is never edited, a change is a new
// migration (docs/storage.md). Times are INTEGER milliseconds since the Unix epoch; enums are
// their integer values (core/types.h).
// ---------------------------------------------------------------------------------------------

constexpr const char* kMigration1 = R"sql(
CREATE TABLE skus (
  sku_id                  TEXT    NOT NULL PRIMARY KEY CHECK (length(sku_id) BETWEEN 1 AND 64),
  name                    TEXT    NOT NULL CHECK (length(name) >= 1),
  price_cents             INTEGER NOT NULL CHECK (price_cents >= 0),
  currency                TEXT    NOT NULL CHECK (length(currency) = 3),
  total_stock             INTEGER NOT NULL CHECK (total_stock >= 0),
  per_user_limit          INTEGER NOT NULL CHECK (per_user_limit >= 1),
  reservation_ttl_seconds INTEGER NOT NULL CHECK (reservation_ttl_seconds >= 1),
  starts_at_ms            INTEGER,
  ends_at_ms              INTEGER,
  override_state          INTEGER NOT NULL CHECK (override_state IN (0, 1, 2)),
  created_at_ms           INTEGER NOT NULL,
  held                    INTEGER NOT NULL DEFAULT 0 CONSTRAINT held_not_negative CHECK (held >= 0),
  sold                    INTEGER NOT NULL DEFAULT 0 CONSTRAINT sold_not_negative CHECK (sold >= 0),
  CONSTRAINT no_oversell CHECK (held + sold <= total_stock),
  CONSTRAINT ends_after_start
    CHECK (starts_at_ms IS NULL OR ends_at_ms IS NULL OR ends_at_ms > starts_at_ms)
) STRICT;

CREATE TABLE reservations (
  reservation_id TEXT    NOT NULL PRIMARY KEY CHECK (length(reservation_id) >= 1),
  sku_id         TEXT    NOT NULL REFERENCES skus (sku_id),
  user_id        TEXT    NOT NULL CHECK (length(user_id) >= 1),
  quantity       INTEGER NOT NULL CHECK (quantity >= 1),
  status         INTEGER NOT NULL CHECK (status BETWEEN 1 AND 5),
  created_at_ms  INTEGER NOT NULL,
  expires_at_ms  INTEGER NOT NULL CHECK (expires_at_ms >= created_at_ms),
  updated_at_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX reservations_by_sku ON reservations (sku_id);

CREATE TABLE user_units (
  sku_id  TEXT    NOT NULL REFERENCES skus (sku_id),
  user_id TEXT    NOT NULL,
  units   INTEGER NOT NULL CONSTRAINT units_not_negative CHECK (units >= 0),
  PRIMARY KEY (sku_id, user_id)
) WITHOUT ROWID, STRICT;

CREATE TABLE idempotency_keys (
  user_id             TEXT    NOT NULL,
  idem_key            TEXT    NOT NULL CHECK (length(idem_key) >= 1),
  request_fingerprint TEXT    NOT NULL,
  http_status         INTEGER NOT NULL CHECK (http_status BETWEEN 100 AND 599),
  response_body       TEXT    NOT NULL,
  created_at_ms       INTEGER NOT NULL,
  PRIMARY KEY (user_id, idem_key)
) STRICT;
CREATE INDEX idempotency_keys_by_created_at ON idempotency_keys (created_at_ms);

-- A sale's counters start at zero; from then on only the reservation triggers move them.
CREATE TRIGGER skus_start_empty AFTER INSERT ON skus
WHEN NEW.held <> 0 OR NEW.sold <> 0
BEGIN
  SELECT RAISE(ABORT, 'a new sale must start with held = 0 and sold = 0');
END;

CREATE TRIGGER skus_never_deleted BEFORE DELETE ON skus
BEGIN
  SELECT RAISE(ABORT, 'sales are never deleted');
END;

-- A new reservation holds its units and counts toward its user's limit.
CREATE TRIGGER reservations_insert_counts AFTER INSERT ON reservations
BEGIN
  SELECT RAISE(ABORT, 'a reservation must be created RESERVED') WHERE NEW.status <> 1;
  SELECT RAISE(ABORT, 'reservation for an unknown sku')
    WHERE NOT EXISTS (SELECT 1 FROM skus WHERE sku_id = NEW.sku_id);
  UPDATE skus SET held = held + NEW.quantity WHERE sku_id = NEW.sku_id;
  INSERT INTO user_units (sku_id, user_id, units) VALUES (NEW.sku_id, NEW.user_id, NEW.quantity)
    ON CONFLICT (sku_id, user_id) DO UPDATE SET units = units + excluded.units;
  SELECT RAISE(ABORT, 'per-user limit exceeded')
    WHERE (SELECT units FROM user_units WHERE sku_id = NEW.sku_id AND user_id = NEW.user_id)
        > (SELECT per_user_limit FROM skus WHERE sku_id = NEW.sku_id);
END;

-- Only the state machine's edges; units move between held and sold, and leave the user's
-- count when the reservation ends without a purchase.
CREATE TRIGGER reservations_status_counts AFTER UPDATE OF status ON reservations
BEGIN
  SELECT RAISE(ABORT, 'illegal reservation status transition')
    WHERE NOT ((OLD.status = 1 AND NEW.status IN (2, 4, 5))
            OR (OLD.status = 2 AND NEW.status IN (3, 5)));
  UPDATE skus SET
      held = held - (CASE WHEN OLD.status IN (1, 2) THEN OLD.quantity ELSE 0 END)
                  + (CASE WHEN NEW.status IN (1, 2) THEN NEW.quantity ELSE 0 END),
      sold = sold - (CASE WHEN OLD.status = 3 THEN OLD.quantity ELSE 0 END)
                  + (CASE WHEN NEW.status = 3 THEN NEW.quantity ELSE 0 END)
    WHERE sku_id = NEW.sku_id;
  UPDATE user_units SET units = units - OLD.quantity
    WHERE sku_id = OLD.sku_id AND user_id = OLD.user_id
      AND OLD.status IN (1, 2, 3) AND NEW.status IN (4, 5);
END;

CREATE TRIGGER reservations_immutable_columns
BEFORE UPDATE OF reservation_id, sku_id, user_id, quantity, created_at_ms ON reservations
BEGIN
  SELECT RAISE(ABORT, 'reservation id, sku, user, quantity and creation time are immutable');
END;

CREATE TRIGGER reservations_never_deleted BEFORE DELETE ON reservations
BEGIN
  SELECT RAISE(ABORT, 'reservations are never deleted');
END;
)sql";

// Audit trail (docs/storage.md, "audit_events"): append-only, hash-chained. The triggers refuse
// any UPDATE or DELETE. The chain itself (gap-free ids, prev_hash links, hashes) is built by
// the writer and checked by verification, not by a trigger or CHECKs: a per-insert lookup of
// the previous row and value CHECKs made each audit insert ~40% dearer (docs/benchmarks.md),
// and a bad value fails verification anyway.
constexpr const char* kMigration2 = R"sql(
CREATE TABLE audit_events (
  event_id           INTEGER NOT NULL PRIMARY KEY,
  event_type         TEXT    NOT NULL,
  user_id            TEXT,
  sku_id             TEXT,
  outcome            TEXT    NOT NULL,
  failure_reason     TEXT,
  occurred_at_ms     INTEGER NOT NULL,
  client_ip          TEXT,
  device_fingerprint TEXT,
  metadata           TEXT    NOT NULL,
  prev_hash          TEXT    NOT NULL,
  event_hash         TEXT    NOT NULL
) STRICT;
-- Disputes ("what happened to this user in this sale") seek this one index; queries without
-- a user walk the table in id order and stop at a page. One index, not one per column: each
-- index is another random b-tree insert per event on the writer's commit.
CREATE INDEX audit_events_by_user ON audit_events (user_id, sku_id, event_id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused');
END;
)sql";

// Migration 3 (issue 3): orders of the payment saga and the transactional outbox.
constexpr const char* kMigration3 = R"sql(
CREATE TABLE orders (
  order_id           TEXT    NOT NULL PRIMARY KEY CHECK (length(order_id) >= 1),
  reservation_id     TEXT    NOT NULL REFERENCES reservations (reservation_id),
  sku_id             TEXT    NOT NULL REFERENCES skus (sku_id),
  user_id            TEXT    NOT NULL CHECK (length(user_id) >= 1),
  quantity           INTEGER NOT NULL CHECK (quantity >= 1),
  amount_cents       INTEGER NOT NULL CHECK (amount_cents >= 0),
  currency           TEXT    NOT NULL CHECK (length(currency) = 3),
  status             INTEGER NOT NULL CHECK (status BETWEEN 1 AND 4),
  failure_reason     TEXT    NOT NULL,
  payment_method_id  TEXT    NOT NULL CHECK (length(payment_method_id) >= 1),
  attempts           INTEGER NOT NULL CHECK (attempts >= 0),
  next_attempt_at_ms INTEGER NOT NULL,
  created_at_ms      INTEGER NOT NULL,
  updated_at_ms      INTEGER NOT NULL
) STRICT;
-- One order per reservation, whatever the writer does: two checkouts cannot both commit.
CREATE UNIQUE INDEX orders_one_per_reservation ON orders (reservation_id);
CREATE INDEX orders_by_status ON orders (status, created_at_ms);

-- An order is born PENDING for a reservation in CHECKOUT_PENDING with the same sku, user and
-- quantity, at price x quantity.
CREATE TRIGGER orders_insert_guard AFTER INSERT ON orders
BEGIN
  SELECT RAISE(ABORT, 'an order must be created PENDING') WHERE NEW.status <> 1;
  SELECT RAISE(ABORT, 'an order needs its reservation in CHECKOUT_PENDING')
    WHERE NOT EXISTS (SELECT 1 FROM reservations r WHERE r.reservation_id = NEW.reservation_id
                        AND r.status = 2 AND r.sku_id = NEW.sku_id AND r.user_id = NEW.user_id
                        AND r.quantity = NEW.quantity);
  SELECT RAISE(ABORT, 'order amount must be price x quantity')
    WHERE NEW.amount_cents <> (SELECT price_cents * NEW.quantity FROM skus
                               WHERE sku_id = NEW.sku_id);
END;

CREATE TRIGGER orders_status_guard AFTER UPDATE OF status ON orders
WHEN OLD.status <> NEW.status
BEGIN
  SELECT RAISE(ABORT, 'illegal order status transition')
    WHERE NOT ((OLD.status = 1 AND NEW.status IN (2, 3, 4))
            OR (OLD.status = 4 AND NEW.status IN (2, 3)));
END;

CREATE TRIGGER orders_immutable_columns
BEFORE UPDATE OF order_id, reservation_id, sku_id, user_id, quantity, amount_cents, currency,
                 payment_method_id, created_at_ms ON orders
BEGIN
  SELECT RAISE(ABORT, 'order identity, amount and payment method are immutable');
END;

CREATE TRIGGER orders_never_deleted BEFORE DELETE ON orders
BEGIN
  SELECT RAISE(ABORT, 'orders are never deleted');
END;

-- A reservation whose checkout created an order is sold only with that order PAID and
-- released only with it FAILED.
CREATE TRIGGER reservations_follow_order AFTER UPDATE OF status ON reservations
WHEN OLD.status = 2
BEGIN
  SELECT RAISE(ABORT, 'a reservation in checkout is purchased only by a PAID order')
    WHERE NEW.status = 3 AND EXISTS (SELECT 1 FROM orders
                                     WHERE reservation_id = NEW.reservation_id AND status <> 2);
  SELECT RAISE(ABORT, 'a reservation in checkout is released only by a FAILED order')
    WHERE NEW.status = 5 AND EXISTS (SELECT 1 FROM orders
                                     WHERE reservation_id = NEW.reservation_id AND status <> 3);
END;

-- The transactional outbox. id orders all events (one writer commits them in order);
-- sku_sequence numbers one SKU's events from 1 without gaps.
CREATE TABLE outbox (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  -- "<sku_id>:<sku_sequence>": unique through UNIQUE (sku_id, sku_sequence) below, so no index
  -- of its own (one less b-tree insert per event on the writer's path).
  event_id       TEXT    NOT NULL CHECK (event_id = sku_id || ':' || sku_sequence),
  type           TEXT    NOT NULL CHECK (length(type) >= 1),
  sku_id         TEXT    NOT NULL REFERENCES skus (sku_id),
  user_id        TEXT    NOT NULL,
  sku_sequence   INTEGER NOT NULL CHECK (sku_sequence >= 1),
  occurred_at_ms INTEGER NOT NULL,
  payload        TEXT    NOT NULL CHECK (json_valid(payload)),
  UNIQUE (sku_id, sku_sequence)
) STRICT;

CREATE TRIGGER outbox_sequence_gapless BEFORE INSERT ON outbox
BEGIN
  SELECT RAISE(ABORT, 'outbox sequence of a sku must grow by exactly one')
    WHERE NEW.sku_sequence <> 1 + COALESCE((SELECT MAX(sku_sequence) FROM outbox
                                            WHERE sku_id = NEW.sku_id), 0);
END;

CREATE TRIGGER outbox_rows_immutable BEFORE UPDATE ON outbox
BEGIN
  SELECT RAISE(ABORT, 'outbox rows are immutable');
END;

-- Where each relay got to: the last outbox id its sink acknowledged. Written by the relay's
-- own connection only.
CREATE TABLE outbox_cursors (
  sink    TEXT    NOT NULL PRIMARY KEY,
  last_id INTEGER NOT NULL CHECK (last_id >= 0)
) STRICT;
)sql";

// Migration 4 (issue 4): the fair waiting room. Self-contained: only new tables and triggers.
constexpr const char* kMigration4 = R"sql(
-- One row per waiting-room sale. draw_seed (the shuffle of the pre-queue tickets) is set once,
-- when the sale starts; recovery replays the draw from it (docs/storage.md).
CREATE TABLE waiting_rooms (
  sku_id         TEXT    NOT NULL PRIMARY KEY REFERENCES skus (sku_id),
  created_at_ms  INTEGER NOT NULL,
  draw_seed      INTEGER,
  prequeue_count INTEGER NOT NULL DEFAULT 0 CHECK (prequeue_count >= 0),
  drawn_at_ms    INTEGER,
  CONSTRAINT drawn_together CHECK ((draw_seed IS NULL) = (drawn_at_ms IS NULL))
) STRICT;

CREATE TRIGGER waiting_rooms_draw_once BEFORE UPDATE ON waiting_rooms
WHEN OLD.draw_seed IS NOT NULL OR NEW.sku_id <> OLD.sku_id OR
     NEW.created_at_ms <> OLD.created_at_ms
BEGIN
  SELECT RAISE(ABORT, 'a waiting room is drawn once and never changed after');
END;

CREATE TRIGGER waiting_rooms_draw_counts_every_ticket BEFORE UPDATE OF draw_seed ON waiting_rooms
WHEN NEW.prequeue_count <> (SELECT COUNT(*) FROM queue_tickets WHERE sku_id = NEW.sku_id)
BEGIN
  SELECT RAISE(ABORT, 'the draw must shuffle every ticket that joined before it');
END;

CREATE TRIGGER waiting_rooms_never_deleted BEFORE DELETE ON waiting_rooms
BEGIN
  SELECT RAISE(ABORT, 'waiting rooms are never deleted');
END;

-- One ticket per user and room (UNIQUE), numbered 1, 2, 3... in join order without gaps.
CREATE TABLE queue_tickets (
  ticket_id           TEXT    NOT NULL PRIMARY KEY CHECK (length(ticket_id) >= 1),
  sku_id              TEXT    NOT NULL REFERENCES waiting_rooms (sku_id),
  user_id             TEXT    NOT NULL CHECK (length(user_id) >= 1),
  join_seq            INTEGER NOT NULL CHECK (join_seq >= 1),
  joined_at_ms        INTEGER NOT NULL,
  admitted_at_ms      INTEGER,
  pass_expires_at_ms  INTEGER,
  used_reservation_id TEXT REFERENCES reservations (reservation_id),
  used_at_ms          INTEGER,
  UNIQUE (sku_id, user_id),
  UNIQUE (sku_id, join_seq),
  CONSTRAINT admitted_with_pass
    CHECK ((admitted_at_ms IS NULL) = (pass_expires_at_ms IS NULL)),
  CONSTRAINT used_after_admission CHECK (used_reservation_id IS NULL OR (
    admitted_at_ms IS NOT NULL AND used_at_ms IS NOT NULL AND used_at_ms < pass_expires_at_ms))
) STRICT;

CREATE TRIGGER queue_tickets_gapless BEFORE INSERT ON queue_tickets
BEGIN
  SELECT RAISE(ABORT, 'join_seq of a room must grow by exactly one')
    WHERE NEW.join_seq <> 1 + COALESCE((SELECT MAX(join_seq) FROM queue_tickets
                                        WHERE sku_id = NEW.sku_id), 0);
END;

CREATE TRIGGER queue_tickets_immutable_columns
BEFORE UPDATE OF ticket_id, sku_id, user_id, join_seq, joined_at_ms ON queue_tickets
BEGIN
  SELECT RAISE(ABORT, 'queue ticket identity columns are immutable');
END;

CREATE TRIGGER queue_tickets_admitted_once BEFORE UPDATE OF admitted_at_ms, pass_expires_at_ms
ON queue_tickets WHEN OLD.admitted_at_ms IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'a ticket is admitted once');
END;

-- Single use: a pass allows one reservation, of its holder, in its sale.
CREATE TRIGGER queue_tickets_used_once BEFORE UPDATE OF used_reservation_id, used_at_ms
ON queue_tickets
WHEN OLD.used_reservation_id IS NOT NULL OR NOT EXISTS (
  SELECT 1 FROM reservations r WHERE r.reservation_id = NEW.used_reservation_id
    AND r.sku_id = NEW.sku_id AND r.user_id = NEW.user_id)
BEGIN
  SELECT RAISE(ABORT, 'a queue pass is used once, for its holder''s reservation in its sale');
END;

CREATE TRIGGER queue_tickets_never_deleted BEFORE DELETE ON queue_tickets
BEGIN
  SELECT RAISE(ABORT, 'queue tickets are never deleted');
END;
)sql";

// Migration 5 (issue 5, cost of the audit trail): audit_events rebuilt with the two hashes as
// 32-byte BLOBs and the type and outcome as their numbers (core/audit.h), like every other enum
// in this schema: a third fewer bytes per event on the writer's commit (docs/benchmarks.md).
// What is hashed does not change (CanonicalEncoding: names and hex), so events written before
// and after chain on and verify alike. fs_unhex (registered on the migrating connection) turns
// a stored hex hash into its 32 bytes; any other text is kept as its own bytes, so a hash an
// attacker had edited before the migration still fails verification after it. A type or outcome
// name this schema does not know becomes 255, which verification reports.
constexpr const char* kMigration5 = R"sql(
CREATE TABLE audit_events_v5 (
  event_id           INTEGER NOT NULL PRIMARY KEY,
  event_type         INTEGER NOT NULL,
  user_id            TEXT,
  sku_id             TEXT,
  outcome            INTEGER NOT NULL,
  failure_reason     TEXT,
  occurred_at_ms     INTEGER NOT NULL,
  client_ip          TEXT,
  device_fingerprint TEXT,
  metadata           TEXT    NOT NULL,
  prev_hash          BLOB    NOT NULL,
  event_hash         BLOB    NOT NULL
) STRICT;
INSERT INTO audit_events_v5
SELECT event_id,
       CASE event_type WHEN 'RESERVE_ATTEMPT' THEN 0 WHEN 'RELEASE' THEN 1 WHEN 'EXPIRY' THEN 2
                       WHEN 'CHECKOUT' THEN 3 WHEN 'PAYMENT' THEN 4 WHEN 'SALE_CREATED' THEN 5
                       WHEN 'SALE_OPENED' THEN 6 WHEN 'SALE_CLOSED' THEN 7
                       WHEN 'STOCK_ADJUSTED' THEN 8 WHEN 'BOT_DETECTED' THEN 9 ELSE 255 END,
       user_id, sku_id,
       CASE outcome WHEN 'SUCCESS' THEN 0 WHEN 'FAILED' THEN 1 WHEN 'THROTTLED' THEN 2
                    ELSE 255 END,
       failure_reason, occurred_at_ms, client_ip, device_fingerprint, metadata,
       fs_unhex(prev_hash), fs_unhex(event_hash)
  FROM audit_events ORDER BY event_id;
DROP TABLE audit_events;
ALTER TABLE audit_events_v5 RENAME TO audit_events;
CREATE INDEX audit_events_by_user ON audit_events (user_id, sku_id, event_id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused');
END;

-- The events as people read them (names and hex hashes), for operators' SQL; costs nothing
-- on the write path.
CREATE VIEW audit_events_readable AS
SELECT event_id,
       CASE event_type WHEN 0 THEN 'RESERVE_ATTEMPT' WHEN 1 THEN 'RELEASE' WHEN 2 THEN 'EXPIRY'
                       WHEN 3 THEN 'CHECKOUT' WHEN 4 THEN 'PAYMENT' WHEN 5 THEN 'SALE_CREATED'
                       WHEN 6 THEN 'SALE_OPENED' WHEN 7 THEN 'SALE_CLOSED'
                       WHEN 8 THEN 'STOCK_ADJUSTED' WHEN 9 THEN 'BOT_DETECTED'
                       ELSE 'UNKNOWN' END AS event_type,
       user_id, sku_id,
       CASE outcome WHEN 0 THEN 'SUCCESS' WHEN 1 THEN 'FAILED' WHEN 2 THEN 'THROTTLED'
                    ELSE 'UNKNOWN' END AS outcome,
       failure_reason, occurred_at_ms, client_ip, device_fingerprint, metadata,
       lower(hex(prev_hash)) AS prev_hash, lower(hex(event_hash)) AS event_hash
  FROM audit_events;
)sql";

// Migration 6 (issue 7, the writer's cost per reservation): the same guarantees for fewer
// instructions per row on the writer's commit (docs/benchmarks.md).
// - outbox.event_id becomes a generated column ("<sku_id>:<sku_sequence>"): it was stored and
//   checked against that very expression on every insert.
// - outbox.id loses AUTOINCREMENT, which updated sqlite_sequence on every insert. It guarded
//   against a deleted highest id being reused; outbox rows are now never deleted (trigger), so
//   a new row's id is always above every id ever handed out, and the relay cursors still hold.
constexpr const char* kMigration6 = R"sql(
CREATE TABLE outbox_v6 (
  id             INTEGER PRIMARY KEY,
  event_id       TEXT    GENERATED ALWAYS AS (sku_id || ':' || sku_sequence) VIRTUAL,
  type           TEXT    NOT NULL CHECK (length(type) >= 1),
  sku_id         TEXT    NOT NULL REFERENCES skus (sku_id),
  user_id        TEXT    NOT NULL,
  sku_sequence   INTEGER NOT NULL CHECK (sku_sequence >= 1),
  occurred_at_ms INTEGER NOT NULL,
  payload        TEXT    NOT NULL CHECK (json_valid(payload)),
  UNIQUE (sku_id, sku_sequence)
) STRICT;
INSERT INTO outbox_v6 (id, type, sku_id, user_id, sku_sequence, occurred_at_ms, payload)
SELECT id, type, sku_id, user_id, sku_sequence, occurred_at_ms, payload FROM outbox ORDER BY id;
DROP TABLE outbox;
ALTER TABLE outbox_v6 RENAME TO outbox;

CREATE TRIGGER outbox_sequence_gapless BEFORE INSERT ON outbox
BEGIN
  SELECT RAISE(ABORT, 'outbox sequence of a sku must grow by exactly one')
    WHERE NEW.sku_sequence <> 1 + COALESCE((SELECT MAX(sku_sequence) FROM outbox
                                            WHERE sku_id = NEW.sku_id), 0);
END;

CREATE TRIGGER outbox_rows_immutable BEFORE UPDATE ON outbox
BEGIN
  SELECT RAISE(ABORT, 'outbox rows are immutable');
END;

CREATE TRIGGER outbox_rows_never_deleted BEFORE DELETE ON outbox
BEGIN
  SELECT RAISE(ABORT, 'outbox rows are never deleted');
END;

)sql";

// Migration 7 (issues 5 and 7): the disputes index leaves the writer's commit. With real user
// ids each audit event's entry in audit_events_by_user landed on a random page, and every page
// a commit touches is written whole to the WAL: about 4 KiB per audited request. The index now
// lives in audit_index.db beside the database, filled in sorted chunks by a background thread
// (src/audit/audit_index.h); readers scan the events it does not cover yet.
constexpr const char* kMigration7 = R"sql(
DROP INDEX IF EXISTS audit_events_by_user;
)sql";

struct Migration {
  std::int64_t version;
  const char* sql;
};

constexpr std::array<Migration, 7> kMigrations = {{{1, kMigration1},
                                                   {2, kMigration2},
                                                   {3, kMigration3},
                                                   {4, kMigration4},
                                                   {5, kMigration5},
                                                   {6, kMigration6},
                                                   {7, kMigration7}}};
static_assert(kMigrations.size() == SqliteStore::kSchemaVersion);

// ---------------------------------------------------------------------------------------------
// Error mapping (store.h): the code tells the writer its next step.
// ---------------------------------------------------------------------------------------------

enum class Stage : std::uint8_t { kOpen, kRead, kApply, kCommit };

base::Status ErrorFromCode(int rc, std::string_view detail, Stage stage, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += detail;
  message += " (";
  message += sqlite3_errstr(rc);
  message += ")";
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return base::Internal(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return base::Unavailable(std::move(message));
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return base::DataLoss(std::move(message));
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      if (stage == Stage::kOpen) return base::FailedPrecondition(std::move(message));
      return base::DataLoss(std::move(message));  // the file went away under the writer
    default:
      break;
  }
  if (stage == Stage::kCommit) return base::DataLoss(std::move(message));
  return base::Internal(std::move(message));
}

base::Status ErrorFrom(int rc, sqlite3* db, Stage stage, std::string_view context) {
  return ErrorFromCode(rc, sqlite3_errmsg(db), stage, context);
}

base::Status WithPrefix(const base::Status& status, const std::string& prefix) {
  return base::Status(status.code(), prefix + status.message());
}

// Resets a statement when its use ends, so a cached statement never keeps a read snapshot
// open or carries bindings into its next use.
class StatementUse {
 public:
  explicit StatementUse(sqlite3_stmt* statement) : statement_(statement) {}
  ~StatementUse() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

 private:
  sqlite3_stmt* statement_;
};

// Binds parameters 1, 2, 3... in order and remembers the first failure.
class Binder {
 public:
  explicit Binder(sqlite3_stmt* statement) : statement_(statement) {}

  Binder& Text(std::string_view value) {
    ++index_;
    if (rc_ != SQLITE_OK) return *this;
    if (value.size() > static_cast<std::size_t>(INT_MAX)) {
      rc_ = SQLITE_TOOBIG;
      return *this;
    }
    // A null pointer would bind SQL NULL; an empty string must stay an empty string. The
    // caller's string outlives the step, so SQLite need not copy it (destructor = static).
    const char* data = value.empty() ? "" : value.data();
    rc_ = sqlite3_bind_text(statement_, index_, data, static_cast<int>(value.size()), nullptr);
    return *this;
  }
  // `value` must outlive the step, like Text's.
  Binder& Blob(std::string_view value) {
    ++index_;
    if (rc_ != SQLITE_OK) return *this;
    const char* data = value.empty() ? "" : value.data();
    rc_ = sqlite3_bind_blob(statement_, index_, data, static_cast<int>(value.size()), nullptr);
    return *this;
  }
  Binder& Int64(std::int64_t value) {
    ++index_;
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(statement_, index_, value);
    return *this;
  }
  Binder& TimeMs(base::Time value) { return Int64(base::ToMillis(value)); }
  Binder& OptionalTimeMs(const std::optional<base::Time>& value) {
    if (value) return TimeMs(*value);
    ++index_;
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_null(statement_, index_);
    return *this;
  }
  Binder& OptionalText(const std::optional<std::string>& value) {
    if (value) return Text(*value);
    ++index_;
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_null(statement_, index_);
    return *this;
  }
  int rc() const { return rc_; }

 private:
  sqlite3_stmt* statement_;
  int index_ = 0;
  int rc_ = SQLITE_OK;
};

// Steps a bound write statement to completion. REQUIRES: a StatementUse guards `statement`.
base::Status StepWrite(sqlite3* db, sqlite3_stmt* statement, const Binder& binder,
                       std::string_view context) {
  if (binder.rc() != SQLITE_OK) return ErrorFrom(binder.rc(), db, Stage::kApply, context);
  const int rc = sqlite3_step(statement);
  if (rc != SQLITE_DONE) return ErrorFrom(rc, db, Stage::kApply, context);
  return base::Status::Ok();
}

// Runs a statement without parameters or rows (BEGIN, COMMIT, ROLLBACK).
int StepControl(sqlite3_stmt* statement) {
  StatementUse use(statement);
  return sqlite3_step(statement);
}

base::Result<sqlite_internal::StatementHandle> Prepare(sqlite3* db, std::string_view sql,
                                                       unsigned int flags, Stage stage) {
  sqlite3_stmt* raw = nullptr;
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr);
  sqlite_internal::StatementHandle statement(raw);
  if (rc != SQLITE_OK) return ErrorFrom(rc, db, stage, std::string("prepare ") + std::string(sql));
  if (statement == nullptr) {
    return base::Internal("prepare produced no statement: " + std::string(sql));
  }
  return statement;
}

// Runs one or more statements that return nothing the caller needs.
base::Status Exec(sqlite3* db, const char* sql, Stage stage, std::string_view context) {
  char* error_text = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error_text);
  if (rc == SQLITE_OK) return base::Status::Ok();
  const std::string detail = error_text != nullptr ? error_text : sqlite3_errmsg(db);
  sqlite3_free(error_text);
  return ErrorFromCode(rc, detail, stage, context);
}

// The first column of the first row of `sql` (a PRAGMA or an aggregate).
base::Result<sqlite_internal::StatementHandle> StepSingleRow(sqlite3* db, std::string_view sql,
                                                             Stage stage) {
  auto statement = Prepare(db, sql, 0, stage);
  if (!statement) return statement.error();
  const int rc = sqlite3_step(statement->get());
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE) return base::Internal(std::string(sql) + ": returned no row");
    return ErrorFrom(rc, db, stage, sql);
  }
  return statement;
}

base::Result<std::int64_t> QueryInt(sqlite3* db, std::string_view sql, Stage stage) {
  auto statement = StepSingleRow(db, sql, stage);
  if (!statement) return statement.error();
  return static_cast<std::int64_t>(sqlite3_column_int64(statement->get(), 0));
}

std::string ColumnText(sqlite3_stmt* statement, int column) {
  const unsigned char* text = sqlite3_column_text(statement, column);
  const int size = sqlite3_column_bytes(statement, column);
  if (text == nullptr || size <= 0) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

// A BLOB column's bytes; valid until the next step of `statement`.
std::string_view ColumnBlob(sqlite3_stmt* statement, int column) {
  const void* bytes = sqlite3_column_blob(statement, column);
  const int size = sqlite3_column_bytes(statement, column);
  if (bytes == nullptr || size <= 0) return {};
  return {static_cast<const char*>(bytes), static_cast<std::size_t>(size)};
}

base::Result<std::string> QueryText(sqlite3* db, std::string_view sql, Stage stage) {
  auto statement = StepSingleRow(db, sql, stage);
  if (!statement) return statement.error();
  return ColumnText(statement->get(), 0);
}

std::int64_t ColumnInt64(sqlite3_stmt* statement, int column) {
  return static_cast<std::int64_t>(sqlite3_column_int64(statement, column));
}

std::optional<base::Time> ColumnOptionalTime(sqlite3_stmt* statement, int column) {
  if (sqlite3_column_type(statement, column) == SQLITE_NULL) return std::nullopt;
  return base::TimeFromMillis(ColumnInt64(statement, column));
}

std::optional<std::int32_t> ToInt32(std::int64_t value) {
  if (value < INT32_MIN || value > INT32_MAX) return std::nullopt;
  return static_cast<std::int32_t>(value);
}

// Steps `statement` through all its rows, calling `on_row` (returning Status) for each.
template <typename OnRow>
base::Status ForEachRow(sqlite3* db, sqlite3_stmt* statement, std::string_view context,
                        OnRow&& on_row) {
  for (;;) {
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_DONE) return base::Status::Ok();
    if (rc != SQLITE_ROW) return ErrorFrom(rc, db, Stage::kRead, context);
    FS_RETURN_IF_ERROR(on_row(statement));
  }
}

// ---------------------------------------------------------------------------------------------
// Open: pragmas and migrations.
// ---------------------------------------------------------------------------------------------

std::int64_t SynchronousPragmaValue(SqliteOptions::Synchronous synchronous) {
  switch (synchronous) {
    case SqliteOptions::Synchronous::kOff:
      return 0;
    case SqliteOptions::Synchronous::kNormal:
      return 1;
    case SqliteOptions::Synchronous::kFull:
      return 2;
  }
  return 2;
}

base::Status Configure(sqlite3* db, const SqliteOptions& options) {
  const std::int64_t busy_timeout_ms = options.busy_timeout.count();
  const std::string set_busy = "PRAGMA busy_timeout = " + std::to_string(busy_timeout_ms);
  FS_RETURN_IF_ERROR(Exec(db, set_busy.c_str(), Stage::kOpen, "set busy_timeout"));

  auto journal_mode = QueryText(db, "PRAGMA journal_mode = WAL", Stage::kOpen);
  if (!journal_mode) return journal_mode.error();
  if (*journal_mode != "wal") {
    return base::FailedPrecondition("SQLite refused journal_mode=WAL (got '" + *journal_mode +
                                    "')");
  }
  const std::string set_synchronous =
      "PRAGMA synchronous = " + std::to_string(SynchronousPragmaValue(options.synchronous));
  FS_RETURN_IF_ERROR(Exec(db, set_synchronous.c_str(), Stage::kOpen, "set synchronous"));
  FS_RETURN_IF_ERROR(Exec(db, "PRAGMA foreign_keys = ON", Stage::kOpen, "set foreign_keys"));
  // 64 MiB of page cache (negative = KiB): a sale's hot pages (the sku row, the right edge of
  // the reservation indexes, user_units) stay in memory, so a batch commit only writes.
  FS_RETURN_IF_ERROR(Exec(db, "PRAGMA cache_size = -65536", Stage::kOpen, "set cache_size"));

  // Read every setting back: a pragma SQLite does not know is silently ignored.
  auto synchronous = QueryInt(db, "PRAGMA synchronous", Stage::kOpen);
  if (!synchronous) return synchronous.error();
  if (*synchronous != SynchronousPragmaValue(options.synchronous)) {
    return base::FailedPrecondition("PRAGMA synchronous did not take effect");
  }
  auto foreign_keys = QueryInt(db, "PRAGMA foreign_keys", Stage::kOpen);
  if (!foreign_keys) return foreign_keys.error();
  if (*foreign_keys != 1) {
    return base::FailedPrecondition("PRAGMA foreign_keys did not take effect");
  }
  auto busy_timeout = QueryInt(db, "PRAGMA busy_timeout", Stage::kOpen);
  if (!busy_timeout) return busy_timeout.error();
  if (*busy_timeout != busy_timeout_ms) {
    return base::FailedPrecondition("PRAGMA busy_timeout did not take effect");
  }
  return base::Status::Ok();
}

// event_id == sku_id + ":" + sequence, without building the string.
bool IsOutboxEventId(std::string_view event_id, std::string_view sku_id, std::int64_t sequence) {
  if (event_id.size() <= sku_id.size() + 1 || event_id.substr(0, sku_id.size()) != sku_id ||
      event_id[sku_id.size()] != ':') {
    return false;
  }
  std::array<char, 24> digits{};
  const auto [end, error] = std::to_chars(digits.data(), digits.data() + digits.size(), sequence);
  if (error != std::errc()) return false;
  return event_id.substr(sku_id.size() + 1) ==
         std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data()));
}

// fs_unhex(text): migration 5's conversion of a stored hex hash to its 32 bytes; any other
// text (an edited hash) becomes a BLOB of its own bytes, so it keeps failing verification.
void UnhexFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const int size = sqlite3_value_bytes(argv[0]);
  const std::string_view value =
      text == nullptr ? std::string_view() : std::string_view(text, static_cast<std::size_t>(size));
  std::string bytes;
  if (!core::AppendHashBytes(value, bytes)) bytes.assign(value);
  sqlite3_result_blob(context, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

base::Status RegisterMigrationFunctions(sqlite3* db) {
  const int rc = sqlite3_create_function_v2(db, "fs_unhex", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                            nullptr, &UnhexFunction, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return ErrorFromCode(rc, sqlite3_errmsg(db), Stage::kOpen, "fs_unhex");
  return base::Status::Ok();
}

base::Status ApplyPendingMigrations(sqlite3* db) {
  FS_RETURN_IF_ERROR(Exec(db,
                          "CREATE TABLE IF NOT EXISTS schema_version ("
                          "  version       INTEGER NOT NULL PRIMARY KEY,"
                          "  applied_at_ms INTEGER NOT NULL"
                          ") STRICT",
                          Stage::kOpen, "create schema_version"));
  auto current = QueryInt(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", Stage::kOpen);
  if (!current) return current.error();
  if (*current > SqliteStore::kSchemaVersion) {
    return base::FailedPrecondition("database schema version " + std::to_string(*current) +
                                    " is newer than this binary's " +
                                    std::to_string(SqliteStore::kSchemaVersion));
  }
  for (const Migration& migration : kMigrations) {
    if (migration.version <= *current) continue;
    const std::string context = "migration " + std::to_string(migration.version);
    FS_RETURN_IF_ERROR(Exec(db, migration.sql, Stage::kOpen, context));
    // applied_at_ms is informational; SQLite's clock keeps the writer's Clock out of it.
    const std::string record = "INSERT INTO schema_version (version, applied_at_ms) VALUES (" +
                               std::to_string(migration.version) +
                               ", CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))";
    FS_RETURN_IF_ERROR(Exec(db, record.c_str(), Stage::kOpen, context));
  }
  return base::Status::Ok();
}

// All migrations run in one IMMEDIATE transaction: a crash mid-migration leaves the old
// schema, and two processes opening at once migrate once.
base::Status Migrate(sqlite3* db) {
  FS_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", Stage::kOpen, "begin migration"));
  const base::Status status = ApplyPendingMigrations(db);
  if (!status.ok()) {
    if (sqlite3_get_autocommit(db) == 0) {
      const base::Status rollback = Exec(db, "ROLLBACK", Stage::kOpen, "rollback migration");
      if (!rollback.ok()) return base::DataLoss(rollback.message() + " after " + status.message());
    }
    return status;
  }
  return Exec(db, "COMMIT", Stage::kCommit, "commit migration");
}

// ---------------------------------------------------------------------------------------------
// Load: row decoding. A value outside its domain means the file is not what we wrote.
// ---------------------------------------------------------------------------------------------

base::Status DecodeSale(sqlite3_stmt* row, core::Sale& sale) {
  sale.sku_id = ColumnText(row, 0);
  sale.name = ColumnText(row, 1);
  sale.price_cents = ColumnInt64(row, 2);
  sale.currency = ColumnText(row, 3);
  sale.total_stock = ColumnInt64(row, 4);
  const auto per_user_limit = ToInt32(ColumnInt64(row, 5));
  const auto ttl_seconds = ToInt32(ColumnInt64(row, 6));
  if (!per_user_limit || !ttl_seconds) {
    return base::DataLoss("skus row '" + sale.sku_id + "': a 32-bit column is out of range");
  }
  sale.per_user_limit = *per_user_limit;
  sale.reservation_ttl_seconds = *ttl_seconds;
  sale.starts_at = ColumnOptionalTime(row, 7);
  sale.ends_at = ColumnOptionalTime(row, 8);
  const std::int64_t override_state = ColumnInt64(row, 9);
  if (override_state < 0 || override_state > 2) {
    return base::DataLoss("skus row '" + sale.sku_id + "': unknown override_state " +
                          std::to_string(override_state));
  }
  sale.override_state = static_cast<core::SaleOverride>(override_state);
  sale.created_at = base::TimeFromMillis(ColumnInt64(row, 10));
  return base::Status::Ok();
}

base::Status DecodeReservation(sqlite3_stmt* row, core::Reservation& reservation) {
  reservation.reservation_id = ColumnText(row, 0);
  reservation.sku_id = ColumnText(row, 1);
  reservation.user_id = ColumnText(row, 2);
  const auto quantity = ToInt32(ColumnInt64(row, 3));
  if (!quantity) {
    return base::DataLoss("reservations row '" + reservation.reservation_id +
                          "': quantity out of range");
  }
  reservation.quantity = *quantity;
  const std::int64_t status_value = ColumnInt64(row, 4);
  const auto status = status_value >= INT_MIN && status_value <= INT_MAX
                          ? core::ReservationStatusFromInt(static_cast<int>(status_value))
                          : std::nullopt;
  if (!status) {
    return base::DataLoss("reservations row '" + reservation.reservation_id + "': unknown status " +
                          std::to_string(status_value));
  }
  reservation.status = *status;
  reservation.created_at = base::TimeFromMillis(ColumnInt64(row, 5));
  reservation.expires_at = base::TimeFromMillis(ColumnInt64(row, 6));
  reservation.updated_at = base::TimeFromMillis(ColumnInt64(row, 7));
  return base::Status::Ok();
}

base::Status DecodeIdempotency(sqlite3_stmt* row, core::IdempotencyRecord& record) {
  record.user_id = ColumnText(row, 0);
  record.key = ColumnText(row, 1);
  record.request_fingerprint = ColumnText(row, 2);
  const auto http_status = ToInt32(ColumnInt64(row, 3));
  if (!http_status) return base::DataLoss("idempotency_keys row: http_status out of range");
  record.http_status = *http_status;
  record.response_body = ColumnText(row, 4);
  record.created_at = base::TimeFromMillis(ColumnInt64(row, 5));
  return base::Status::Ok();
}

base::Status DecodeQueueTicket(sqlite3_stmt* row, core::QueueTicket& ticket) {
  ticket.ticket_id = ColumnText(row, 0);
  ticket.sku_id = ColumnText(row, 1);
  ticket.user_id = ColumnText(row, 2);
  ticket.join_seq = ColumnInt64(row, 3);
  ticket.joined_at = base::TimeFromMillis(ColumnInt64(row, 4));
  ticket.admitted_at = ColumnOptionalTime(row, 5);
  ticket.pass_expires_at = ColumnOptionalTime(row, 6);
  if (sqlite3_column_type(row, 7) != SQLITE_NULL) ticket.used_reservation_id = ColumnText(row, 7);
  ticket.used_at = ColumnOptionalTime(row, 8);
  return base::Status::Ok();
}

base::Status DecodeWaitingRoom(sqlite3_stmt* row, core::WaitingRoomRecord& room) {
  room.sku_id = ColumnText(row, 0);
  room.created_at = base::TimeFromMillis(ColumnInt64(row, 1));
  // The seed is a uint64 stored in SQLite's int64 bit for bit.
  if (sqlite3_column_type(row, 2) != SQLITE_NULL)
    room.draw_seed = static_cast<std::uint64_t>(ColumnInt64(row, 2));
  room.prequeue_count = ColumnInt64(row, 3);
  room.drawn_at = ColumnOptionalTime(row, 4);
  return base::Status::Ok();
}

base::Status DecodeOrder(sqlite3_stmt* row, core::Order& order) {
  order.order_id = ColumnText(row, 0);
  order.reservation_id = ColumnText(row, 1);
  order.sku_id = ColumnText(row, 2);
  order.user_id = ColumnText(row, 3);
  const auto quantity = ToInt32(ColumnInt64(row, 4));
  const auto attempts = ToInt32(ColumnInt64(row, 10));
  if (!quantity || !attempts) {
    return base::DataLoss("orders row '" + order.order_id + "': a 32-bit column is out of range");
  }
  order.quantity = *quantity;
  order.amount_cents = ColumnInt64(row, 5);
  order.currency = ColumnText(row, 6);
  const std::int64_t status_value = ColumnInt64(row, 7);
  const auto status = status_value >= 1 && status_value <= 4
                          ? core::OrderStatusFromInt(static_cast<int>(status_value))
                          : std::nullopt;
  if (!status) {
    return base::DataLoss("orders row '" + order.order_id + "': unknown status " +
                          std::to_string(status_value));
  }
  order.status = *status;
  order.failure_reason = ColumnText(row, 8);
  order.payment_method_id = ColumnText(row, 9);
  order.attempts = *attempts;
  order.next_attempt_at = base::TimeFromMillis(ColumnInt64(row, 11));
  order.created_at = base::TimeFromMillis(ColumnInt64(row, 12));
  order.updated_at = base::TimeFromMillis(ColumnInt64(row, 13));
  return base::Status::Ok();
}

constexpr std::array<const char*, 17> kMutationNames = {
    "SaleCreated",        "ReservationCreated", "ReservationStatusChanged", "IdempotencyStored",
    "IdempotencyPruned",  "AuditAppended",      "SaleOverrideChanged",      "SaleStockChanged",
    "OrderCreated",       "OrderStatusChanged", "OrderRetryScheduled",      "EventAppended",
    "WaitingRoomCreated", "QueueTicketIssued",  "WaitingRoomDrawn",         "QueueTicketAdmitted",
    "QueuePassUsed"};
static_assert(std::variant_size_v<core::Mutation> == kMutationNames.size());

}  // namespace

// ---------------------------------------------------------------------------------------------

base::Result<SqliteOptions::Synchronous> ParseSynchronous(std::string_view text) {
  if (text == "full") return SqliteOptions::Synchronous::kFull;
  if (text == "normal") return SqliteOptions::Synchronous::kNormal;
  if (text == "off") return SqliteOptions::Synchronous::kOff;
  return base::InvalidArgument("sqlite synchronous must be full, normal or off, not '" +
                               std::string(text) + "'");
}

std::string_view SynchronousName(SqliteOptions::Synchronous synchronous) {
  switch (synchronous) {
    case SqliteOptions::Synchronous::kFull:
      return "full";
    case SqliteOptions::Synchronous::kNormal:
      return "normal";
    case SqliteOptions::Synchronous::kOff:
      return "off";
  }
  return "unknown";
}

namespace sqlite_internal {
void DatabaseCloser::operator()(sqlite3* db) const {
  // close_v2 never fails for a valid handle; every statement is finalized before this runs.
  sqlite3_close_v2(db);
}
void StatementFinalizer::operator()(sqlite3_stmt* statement) const {
  // The return value repeats the statement's last step error, already reported.
  sqlite3_finalize(statement);
}
}  // namespace sqlite_internal

SqliteStore::SqliteStore(sqlite_internal::DatabaseHandle db) : db_(std::move(db)) {}

SqliteStore::~SqliteStore() {
  checkpointer_.reset();  // its thread may be copying pages this connection wrote
  use_ticket_.reset();
  admit_ticket_.reset();
  insert_ticket_.reset();
  draw_room_.reset();
  insert_room_.reset();
  update_stock_.reset();
  update_override_.reset();
  insert_audit_.reset();
  insert_event_.reset();
  schedule_retry_.reset();
  update_order_.reset();
  insert_order_.reset();
  read_counters_.reset();
  prune_idempotency_.reset();
  insert_idempotency_.reset();
  update_status_.reset();
  insert_reservation_.reset();
  insert_sale_.reset();
  rollback_.reset();
  commit_.reset();
  begin_read_.reset();
  begin_immediate_.reset();
  db_.reset();
}

base::Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                             SqliteOptions options) {
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > INT_MAX) {
    return base::InvalidArgument("busy_timeout must be between 0 and INT_MAX milliseconds");
  }
  if (options.checkpoint_pages < 1 ||
      options.checkpoint_pages > INT_MAX / SqliteOptions::kWriterCheckpointFactor) {
    return base::InvalidArgument("checkpoint_pages out of range");
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: one thread at a time uses the connection (the Store rule).
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  sqlite_internal::DatabaseHandle db(raw);  // closed on every early return below
  if (rc != SQLITE_OK) {
    const char* detail = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return ErrorFromCode(rc, detail, Stage::kOpen, "open " + path);
  }
  sqlite3_extended_result_codes(db.get(), 1);
  FS_RETURN_IF_ERROR(Configure(db.get(), options));
  FS_RETURN_IF_ERROR(RegisterMigrationFunctions(db.get()));
  FS_RETURN_IF_ERROR(Migrate(db.get()));
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db)));
  FS_RETURN_IF_ERROR(store->PrepareCachedStatements());
  if (options.background_checkpoint) {
    auto checkpointer = SqliteCheckpointer::Start(path, options.busy_timeout);
    if (!checkpointer) return checkpointer.error();
    store->checkpointer_ = std::move(checkpointer).value();
    store->wal_hook_.checkpointer = store->checkpointer_.get();
    store->wal_hook_.request_pages = options.checkpoint_pages;
    store->wal_hook_.writer_pages =
        options.checkpoint_pages * SqliteOptions::kWriterCheckpointFactor;
    // Replaces SQLite's auto-checkpoint hook on this connection.
    sqlite3_wal_hook(store->db_.get(), &SqliteStore::OnWalCommit, &store->wal_hook_);
  } else {
    sqlite3_wal_autocheckpoint(store->db_.get(), options.checkpoint_pages);
  }
  return store;
}

int SqliteStore::OnWalCommit(void* hook, sqlite3* db, const char* database, int pages) {
  auto* state = static_cast<WalHook*>(hook);
  if (pages >= state->writer_pages) {
    // The background thread fell behind: bound the WAL here, as SQLite's own hook would. The
    // commit is already durable; a failure only leaves the WAL long until the next attempt.
    if (sqlite3_wal_checkpoint_v2(db, database, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) ==
        SQLITE_OK) {
      ++state->writer_checkpoints;
    }
  } else if (pages >= state->request_pages) {
    state->checkpointer->Request();
  }
  return SQLITE_OK;
}

std::uint64_t SqliteStore::background_checkpoints() const {
  return checkpointer_ != nullptr ? checkpointer_->checkpoints() : 0;
}

base::Status SqliteStore::PrepareCachedStatements() {
  struct Cached {
    sqlite_internal::StatementHandle* handle;
    const char* sql;
  };
  const Cached cached[] = {
      {&begin_immediate_, "BEGIN IMMEDIATE"},
      {&begin_read_, "BEGIN DEFERRED"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&insert_sale_,
       "INSERT INTO skus (sku_id, name, price_cents, currency, total_stock, per_user_limit,"
       " reservation_ttl_seconds, starts_at_ms, ends_at_ms, override_state, created_at_ms)"
       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
      {&insert_reservation_,
       "INSERT INTO reservations (reservation_id, sku_id, user_id, quantity, status,"
       " created_at_ms, expires_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
      {&update_status_,
       "UPDATE reservations SET status = ?1, updated_at_ms = ?2"
       " WHERE reservation_id = ?3 AND sku_id = ?4 AND status = ?5"},
      {&insert_idempotency_,
       "INSERT INTO idempotency_keys (user_id, idem_key, request_fingerprint, http_status,"
       " response_body, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      {&prune_idempotency_, "DELETE FROM idempotency_keys WHERE created_at_ms < ?1"},
      {&read_counters_, "SELECT sku_id, total_stock, held, sold FROM skus ORDER BY sku_id"},
      {&insert_audit_,
       "INSERT INTO audit_events (event_id, event_type, user_id, sku_id, outcome,"
       " failure_reason, occurred_at_ms, client_ip, device_fingerprint, metadata, prev_hash,"
       " event_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
      {&update_override_,
       "UPDATE skus SET override_state = ?1 WHERE sku_id = ?2 AND override_state = ?3"},
      {&update_stock_, "UPDATE skus SET total_stock = ?1 WHERE sku_id = ?2 AND total_stock = ?3"},
      {&insert_order_,
       "INSERT INTO orders (order_id, reservation_id, sku_id, user_id, quantity, amount_cents,"
       " currency, status, failure_reason, payment_method_id, attempts, next_attempt_at_ms,"
       " created_at_ms, updated_at_ms)"
       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"},
      {&update_order_,
       "UPDATE orders SET status = ?1, failure_reason = ?2, attempts = ?3,"
       " next_attempt_at_ms = ?4, updated_at_ms = ?5 WHERE order_id = ?6 AND status = ?7"},
      {&schedule_retry_,
       "UPDATE orders SET attempts = ?1, next_attempt_at_ms = ?2, updated_at_ms = ?3"
       " WHERE order_id = ?4 AND status = 1 AND attempts < ?1"},
      {&insert_event_,
       "INSERT INTO outbox (type, sku_id, user_id, sku_sequence, occurred_at_ms, payload)"
       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      {&insert_room_, "INSERT INTO waiting_rooms (sku_id, created_at_ms) VALUES (?1, ?2)"},
      {&draw_room_,
       "UPDATE waiting_rooms SET draw_seed = ?1, prequeue_count = ?2, drawn_at_ms = ?3"
       " WHERE sku_id = ?4 AND draw_seed IS NULL"},
      {&insert_ticket_,
       "INSERT INTO queue_tickets (ticket_id, sku_id, user_id, join_seq, joined_at_ms)"
       " VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&admit_ticket_,
       "UPDATE queue_tickets SET admitted_at_ms = ?1, pass_expires_at_ms = ?2"
       " WHERE ticket_id = ?3 AND sku_id = ?4 AND admitted_at_ms IS NULL"},
      {&use_ticket_,
       "UPDATE queue_tickets SET used_reservation_id = ?1, used_at_ms = ?2"
       " WHERE ticket_id = ?3 AND sku_id = ?4 AND used_reservation_id IS NULL"},
  };
  for (const Cached& entry : cached) {
    auto statement = Prepare(db_.get(), entry.sql, SQLITE_PREPARE_PERSISTENT, Stage::kOpen);
    if (!statement) return statement.error();
    *entry.handle = std::move(*statement);
  }
  return base::Status::Ok();
}

base::Status SqliteStore::Commit(const core::Mutations& mutations) {
  if (mutations.empty()) return base::Status::Ok();
  const int begin_rc = StepControl(begin_immediate_.get());
  if (begin_rc != SQLITE_DONE) {
    return RollbackAfter(ErrorFrom(begin_rc, db_.get(), Stage::kApply, "BEGIN IMMEDIATE"));
  }
  for (std::size_t index = 0; index < mutations.size(); ++index) {
    const core::Mutation& mutation = mutations[index];
    const base::Status status =
        std::visit([this](const auto& typed) { return Apply(typed); }, mutation);
    if (!status.ok()) {
      const std::string prefix =
          "mutation " + std::to_string(index) + " (" + kMutationNames[mutation.index()] + "): ";
      return RollbackAfter(WithPrefix(status, prefix));
    }
  }
  const int commit_rc = StepControl(commit_.get());
  if (commit_rc != SQLITE_DONE) {
    return RollbackAfter(ErrorFrom(commit_rc, db_.get(), Stage::kCommit, "COMMIT"));
  }
  return base::Status::Ok();
}

base::Status SqliteStore::RollbackAfter(base::Status failure) {
  // SQLite rolls back by itself after some errors (e.g. SQLITE_FULL, SQLITE_IOERR).
  if (sqlite3_get_autocommit(db_.get()) != 0) return failure;
  const int rc = StepControl(rollback_.get());
  if (rc != SQLITE_DONE) {
    return base::DataLoss(std::string("ROLLBACK failed: ") + sqlite3_errmsg(db_.get()) + " (" +
                          sqlite3_errstr(rc) + ") after: " + failure.message());
  }
  return failure;
}

base::Status SqliteStore::Apply(const core::SaleCreated& mutation) {
  const core::Sale& sale = mutation.sale;
  sqlite3_stmt* statement = insert_sale_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Text(sale.sku_id)
      .Text(sale.name)
      .Int64(sale.price_cents)
      .Text(sale.currency)
      .Int64(sale.total_stock)
      .Int64(sale.per_user_limit)
      .Int64(sale.reservation_ttl_seconds)
      .OptionalTimeMs(sale.starts_at)
      .OptionalTimeMs(sale.ends_at)
      .Int64(static_cast<std::int64_t>(sale.override_state))
      .TimeMs(sale.created_at);
  return StepWrite(db_.get(), statement, binder, "insert sale '" + sale.sku_id + "'");
}

base::Status SqliteStore::Apply(const core::ReservationCreated& mutation) {
  const core::Reservation& reservation = mutation.reservation;
  sqlite3_stmt* statement = insert_reservation_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Text(reservation.reservation_id)
      .Text(reservation.sku_id)
      .Text(reservation.user_id)
      .Int64(reservation.quantity)
      .Int64(static_cast<std::int64_t>(reservation.status))
      .TimeMs(reservation.created_at)
      .TimeMs(reservation.expires_at)
      .TimeMs(reservation.updated_at);
  return StepWrite(db_.get(), statement, binder,
                   "insert reservation '" + reservation.reservation_id + "'");
}

base::Status SqliteStore::Apply(const core::ReservationStatusChanged& mutation) {
  const std::string context = "reservation '" + mutation.reservation_id + "' " +
                              std::string(core::ReservationStatusName(mutation.from)) + " -> " +
                              std::string(core::ReservationStatusName(mutation.to));
  sqlite3_stmt* statement = update_status_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Int64(static_cast<std::int64_t>(mutation.to))
      .TimeMs(mutation.at)
      .Text(mutation.reservation_id)
      .Text(mutation.sku_id)
      .Int64(static_cast<std::int64_t>(mutation.from));
  FS_RETURN_IF_ERROR(StepWrite(db_.get(), statement, binder, context));
  // Counts only this statement's rows, not the triggers'.
  const int changed_rows = sqlite3_changes(db_.get());
  if (changed_rows != 1) {
    return base::Internal(context + ": matched " + std::to_string(changed_rows) +
                          " rows (unknown id, other sku, or status is not '" +
                          std::string(core::ReservationStatusName(mutation.from)) + "')");
  }
  return base::Status::Ok();
}

base::Status SqliteStore::Apply(const core::IdempotencyStored& mutation) {
  const core::IdempotencyRecord& record = mutation.record;
  sqlite3_stmt* statement = insert_idempotency_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Text(record.user_id)
      .Text(record.key)
      .Text(record.request_fingerprint)
      .Int64(record.http_status)
      .Text(record.response_body)
      .TimeMs(record.created_at);
  return StepWrite(db_.get(), statement, binder, "insert idempotency key");
}

base::Status SqliteStore::Apply(const core::IdempotencyPruned& mutation) {
  sqlite3_stmt* statement = prune_idempotency_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.TimeMs(mutation.before);
  return StepWrite(db_.get(), statement, binder, "prune idempotency keys");
}

base::Status SqliteStore::Apply(const core::OrderCreated& mutation) {
  const core::Order& order = mutation.order;
  sqlite3_stmt* statement = insert_order_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Text(order.order_id)
      .Text(order.reservation_id)
      .Text(order.sku_id)
      .Text(order.user_id)
      .Int64(order.quantity)
      .Int64(order.amount_cents)
      .Text(order.currency)
      .Int64(static_cast<std::int64_t>(order.status))
      .Text(order.failure_reason)
      .Text(order.payment_method_id)
      .Int64(order.attempts)
      .TimeMs(order.next_attempt_at)
      .TimeMs(order.created_at)
      .TimeMs(order.updated_at);
  return StepWrite(db_.get(), statement, binder, "insert order '" + order.order_id + "'");
}

base::Status SqliteStore::Apply(const core::OrderStatusChanged& mutation) {
  const core::Order& order = mutation.order;
  const std::string context = "order '" + order.order_id + "' " +
                              std::string(core::OrderStatusName(mutation.from)) + " -> " +
                              std::string(core::OrderStatusName(order.status));
  sqlite3_stmt* statement = update_order_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Int64(static_cast<std::int64_t>(order.status))
      .Text(order.failure_reason)
      .Int64(order.attempts)
      .TimeMs(order.next_attempt_at)
      .TimeMs(order.updated_at)
      .Text(order.order_id)
      .Int64(static_cast<std::int64_t>(mutation.from));
  FS_RETURN_IF_ERROR(StepWrite(db_.get(), statement, binder, context));
  const int changed_rows = sqlite3_changes(db_.get());
  if (changed_rows != 1) {
    return base::Internal(context + ": matched " + std::to_string(changed_rows) + " rows");
  }
  return base::Status::Ok();
}

base::Status SqliteStore::Apply(const core::AuditAppended& mutation) {
  const core::AuditEvent& event = mutation.event;
  sqlite3_stmt* statement = insert_audit_.get();
  StatementUse use(statement);
  Binder binder(statement);
  // Both hashes as 32-byte BLOBs (schema 5), converted into one buffer reused across events.
  hash_bytes_.clear();
  if (!core::AppendHashBytes(event.prev_hash, hash_bytes_) ||
      !core::AppendHashBytes(event.event_hash, hash_bytes_)) {
    return base::Internal("event " + std::to_string(event.event_id) +
                          ": a hash is not 64 lower-case hex characters");
  }
  const std::string_view hashes(hash_bytes_);
  binder.Int64(event.event_id)
      .Int64(core::AuditEventTypeCode(event.type))
      .OptionalText(event.user_id)
      .OptionalText(event.sku_id)
      .Int64(core::AuditOutcomeCode(event.outcome))
      .OptionalText(event.failure_reason)
      .TimeMs(event.occurred_at)
      .OptionalText(event.client_ip)
      .OptionalText(event.device_fingerprint)
      .Text(event.metadata)
      .Blob(hashes.substr(0, core::kHashBytes))
      .Blob(hashes.substr(core::kHashBytes));
  // The context names the event only on failure: formatting it for every row would be an
  // allocation per audit event on the writer's path.
  base::Status status = StepWrite(db_.get(), statement, binder, "insert audit event");
  if (!status.ok()) return WithPrefix(status, "event " + std::to_string(event.event_id) + ": ");
  return status;
}

// Updates one skus row guarded by its expected old value; no match is a writer bug.
base::Status SqliteStore::UpdateSkuColumn(sqlite3_stmt* statement, std::int64_t to,
                                          const std::string& sku_id, std::int64_t from,
                                          const std::string& context) {
  StatementUse use(statement);
  Binder binder(statement);
  binder.Int64(to).Text(sku_id).Int64(from);
  FS_RETURN_IF_ERROR(StepWrite(db_.get(), statement, binder, context));
  const int changed_rows = sqlite3_changes(db_.get());
  if (changed_rows != 1) {
    return base::Internal(context + ": matched " + std::to_string(changed_rows) + " rows");
  }
  return base::Status::Ok();
}

base::Status SqliteStore::Apply(const core::SaleOverrideChanged& mutation) {
  return UpdateSkuColumn(update_override_.get(), static_cast<std::int64_t>(mutation.to),
                         mutation.sku_id, static_cast<std::int64_t>(mutation.from),
                         "override of sale '" + mutation.sku_id + "'");
}

base::Status SqliteStore::Apply(const core::SaleStockChanged& mutation) {
  // The no_oversell CHECK refuses a total below held + sold: the second guard.
  return UpdateSkuColumn(update_stock_.get(), mutation.to, mutation.sku_id, mutation.from,
                         "total_stock of sale '" + mutation.sku_id + "'");
}

base::Status SqliteStore::Apply(const core::OrderRetryScheduled& mutation) {
  const std::string context = "order '" + mutation.order_id + "' retry";
  sqlite3_stmt* statement = schedule_retry_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Int64(mutation.attempts)
      .TimeMs(mutation.next_attempt_at)
      .TimeMs(mutation.at)
      .Text(mutation.order_id);
  FS_RETURN_IF_ERROR(StepWrite(db_.get(), statement, binder, context));
  const int changed_rows = sqlite3_changes(db_.get());
  if (changed_rows != 1) {
    return base::Internal(context + ": matched " + std::to_string(changed_rows) +
                          " rows (unknown id, not PENDING, or attempts not growing)");
  }
  return base::Status::Ok();
}

base::Status SqliteStore::Apply(const core::EventAppended& mutation) {
  const core::OutboxEvent& event = mutation.event;
  sqlite3_stmt* statement = insert_event_.get();
  StatementUse use(statement);
  Binder binder(statement);
  // The table derives event_id from sku and sequence (migration 6); one the writer built
  // otherwise would be a bug, refused here as the CHECK it replaces did.
  if (!IsOutboxEventId(event.event_id, event.sku_id, event.sequence)) {
    return base::Internal("insert event '" + event.event_id + "': event_id is not <sku>:<seq>");
  }
  binder.Text(event.type)
      .Text(event.sku_id)
      .Text(event.user_id)
      .Int64(event.sequence)
      .TimeMs(event.occurred_at)
      .Text(event.payload_json);
  // The context names the event only on failure (no allocation per event on the writer's path).
  base::Status status = StepWrite(db_.get(), statement, binder, "insert event");
  if (!status.ok()) return WithPrefix(status, "event '" + event.event_id + "': ");
  return status;
}

// --- The fair waiting room ------------------------------------------------------------------

base::Status SqliteStore::ExpectOneRow(const std::string& context) {
  const int changed_rows = sqlite3_changes(db_.get());
  if (changed_rows != 1) {
    return base::Internal(context + ": matched " + std::to_string(changed_rows) + " rows");
  }
  return base::Status::Ok();
}

base::Status SqliteStore::Apply(const core::WaitingRoomCreated& mutation) {
  sqlite3_stmt* statement = insert_room_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Text(mutation.room.sku_id).TimeMs(mutation.room.created_at);
  return StepWrite(db_.get(), statement, binder,
                   "insert waiting room '" + mutation.room.sku_id + "'");
}

base::Status SqliteStore::Apply(const core::QueueTicketIssued& mutation) {
  const core::QueueTicket& ticket = mutation.ticket;
  sqlite3_stmt* statement = insert_ticket_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Text(ticket.ticket_id)
      .Text(ticket.sku_id)
      .Text(ticket.user_id)
      .Int64(ticket.join_seq)
      .TimeMs(ticket.joined_at);
  return StepWrite(db_.get(), statement, binder, "insert queue ticket of '" + ticket.sku_id + "'");
}

base::Status SqliteStore::Apply(const core::WaitingRoomDrawn& mutation) {
  const std::string context = "draw of waiting room '" + mutation.sku_id + "'";
  sqlite3_stmt* statement = draw_room_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Int64(static_cast<std::int64_t>(mutation.seed))
      .Int64(mutation.prequeue_count)
      .TimeMs(mutation.at)
      .Text(mutation.sku_id);
  FS_RETURN_IF_ERROR(StepWrite(db_.get(), statement, binder, context));
  return ExpectOneRow(context);
}

base::Status SqliteStore::Apply(const core::QueueTicketAdmitted& mutation) {
  const std::string context = "admission of a ticket of '" + mutation.sku_id + "'";
  sqlite3_stmt* statement = admit_ticket_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.TimeMs(mutation.admitted_at)
      .TimeMs(mutation.pass_expires_at)
      .Text(mutation.ticket_id)
      .Text(mutation.sku_id);
  FS_RETURN_IF_ERROR(StepWrite(db_.get(), statement, binder, context));
  return ExpectOneRow(context);
}

base::Status SqliteStore::Apply(const core::QueuePassUsed& mutation) {
  const std::string context = "use of a queue pass of '" + mutation.sku_id + "'";
  sqlite3_stmt* statement = use_ticket_.get();
  StatementUse use(statement);
  Binder binder(statement);
  binder.Text(mutation.reservation_id)
      .TimeMs(mutation.at)
      .Text(mutation.ticket_id)
      .Text(mutation.sku_id);
  FS_RETURN_IF_ERROR(StepWrite(db_.get(), statement, binder, context));
  return ExpectOneRow(context);
}

base::Status SqliteStore::LoadWaitingRooms(LoadedState& state) {
  sqlite3* db = db_.get();
  auto rooms = Prepare(db,
                       "SELECT sku_id, created_at_ms, draw_seed, prequeue_count, drawn_at_ms"
                       " FROM waiting_rooms ORDER BY sku_id",
                       0, Stage::kRead);
  if (!rooms) return rooms.error();
  FS_RETURN_IF_ERROR(ForEachRow(db, rooms->get(), "load waiting rooms", [&](sqlite3_stmt* row) {
    state.waiting_rooms.emplace_back();
    return DecodeWaitingRoom(row, state.waiting_rooms.back());
  }));
  auto tickets = Prepare(db,
                         "SELECT ticket_id, sku_id, user_id, join_seq, joined_at_ms,"
                         " admitted_at_ms, pass_expires_at_ms, used_reservation_id, used_at_ms"
                         " FROM queue_tickets ORDER BY sku_id, join_seq",
                         0, Stage::kRead);
  if (!tickets) return tickets.error();
  return ForEachRow(db, tickets->get(), "load queue tickets", [&](sqlite3_stmt* row) {
    state.queue_tickets.emplace_back();
    return DecodeQueueTicket(row, state.queue_tickets.back());
  });
}

base::Result<LoadedState> SqliteStore::Load(base::Time idempotency_since) {
  const int begin_rc = StepControl(begin_read_.get());
  if (begin_rc != SQLITE_DONE) {
    return RollbackAfter(ErrorFrom(begin_rc, db_.get(), Stage::kRead, "BEGIN (load)"));
  }
  auto state = LoadInSnapshot(idempotency_since);
  if (!state) return RollbackAfter(state.error());
  const int commit_rc = StepControl(commit_.get());
  if (commit_rc != SQLITE_DONE) {
    return RollbackAfter(ErrorFrom(commit_rc, db_.get(), Stage::kRead, "COMMIT (load)"));
  }
  return state;
}

base::Result<LoadedState> SqliteStore::LoadInSnapshot(base::Time idempotency_since) {
  LoadedState state;
  sqlite3* db = db_.get();
  auto sales = Prepare(db,
                       "SELECT sku_id, name, price_cents, currency, total_stock, per_user_limit,"
                       " reservation_ttl_seconds, starts_at_ms, ends_at_ms, override_state,"
                       " created_at_ms FROM skus ORDER BY rowid",
                       0, Stage::kRead);
  if (!sales) return sales.error();
  FS_RETURN_IF_ERROR(ForEachRow(db, sales->get(), "load skus", [&](sqlite3_stmt* row) {
    state.sales.emplace_back();
    return DecodeSale(row, state.sales.back());
  }));

  auto reservations = Prepare(db,
                              "SELECT reservation_id, sku_id, user_id, quantity, status,"
                              " created_at_ms, expires_at_ms, updated_at_ms"
                              " FROM reservations ORDER BY rowid",
                              0, Stage::kRead);
  if (!reservations) return reservations.error();
  FS_RETURN_IF_ERROR(
      ForEachRow(db, reservations->get(), "load reservations", [&](sqlite3_stmt* row) {
        state.reservations.emplace_back();
        return DecodeReservation(row, state.reservations.back());
      }));

  auto idempotency = Prepare(db,
                             "SELECT user_id, idem_key, request_fingerprint, http_status,"
                             " response_body, created_at_ms FROM idempotency_keys"
                             " WHERE created_at_ms >= ?1 ORDER BY created_at_ms, rowid",
                             0, Stage::kRead);
  if (!idempotency) return idempotency.error();
  Binder binder(idempotency->get());
  binder.TimeMs(idempotency_since);
  if (binder.rc() != SQLITE_OK) return ErrorFrom(binder.rc(), db, Stage::kRead, "load keys");
  FS_RETURN_IF_ERROR(
      ForEachRow(db, idempotency->get(), "load idempotency keys", [&](sqlite3_stmt* row) {
        state.idempotency.emplace_back();
        return DecodeIdempotency(row, state.idempotency.back());
      }));

  auto head = Prepare(db,
                      "SELECT event_id, event_hash FROM audit_events"
                      " ORDER BY event_id DESC LIMIT 1",
                      0, Stage::kRead);
  if (!head) return head.error();
  FS_RETURN_IF_ERROR(ForEachRow(db, head->get(), "load audit head", [&](sqlite3_stmt* row) {
    state.audit_head.event_id = ColumnInt64(row, 0);
    state.audit_head.event_hash = core::HexOfBytes(ColumnBlob(row, 1));
    return base::Status::Ok();
  }));
  auto orders = Prepare(db,
                        "SELECT order_id, reservation_id, sku_id, user_id, quantity,"
                        " amount_cents, currency, status, failure_reason, payment_method_id,"
                        " attempts, next_attempt_at_ms, created_at_ms, updated_at_ms"
                        " FROM orders ORDER BY rowid",
                        0, Stage::kRead);
  if (!orders) return orders.error();
  FS_RETURN_IF_ERROR(ForEachRow(db, orders->get(), "load orders", [&](sqlite3_stmt* row) {
    state.orders.emplace_back();
    return DecodeOrder(row, state.orders.back());
  }));

  auto sequences =
      Prepare(db, "SELECT sku_id, MAX(sku_sequence) FROM outbox GROUP BY sku_id", 0, Stage::kRead);
  if (!sequences) return sequences.error();
  FS_RETURN_IF_ERROR(
      ForEachRow(db, sequences->get(), "load event sequences", [&](sqlite3_stmt* row) {
        state.event_sequences.emplace_back(ColumnText(row, 0), ColumnInt64(row, 1));
        return base::Status::Ok();
      }));
  FS_RETURN_IF_ERROR(LoadWaitingRooms(state));
  return state;
}

base::Result<std::vector<StoredCounters>> SqliteStore::ReadCounters() {
  std::vector<StoredCounters> counters;
  sqlite3_stmt* statement = read_counters_.get();
  StatementUse use(statement);
  FS_RETURN_IF_ERROR(ForEachRow(db_.get(), statement, "read counters", [&](sqlite3_stmt* row) {
    StoredCounters entry;
    entry.sku_id = ColumnText(row, 0);
    entry.total_stock = ColumnInt64(row, 1);
    entry.held = ColumnInt64(row, 2);
    entry.sold = ColumnInt64(row, 3);
    counters.push_back(std::move(entry));
    return base::Status::Ok();
  }));
  return counters;
}

base::Result<SqliteEffectiveSettings> SqliteStore::ReadEffectiveSettings() {
  sqlite3* db = db_.get();
  SqliteEffectiveSettings settings;
  auto journal_mode = QueryText(db, "PRAGMA journal_mode", Stage::kRead);
  if (!journal_mode) return journal_mode.error();
  settings.journal_mode = std::move(*journal_mode);
  auto synchronous = QueryInt(db, "PRAGMA synchronous", Stage::kRead);
  if (!synchronous) return synchronous.error();
  settings.synchronous = *synchronous;
  auto foreign_keys = QueryInt(db, "PRAGMA foreign_keys", Stage::kRead);
  if (!foreign_keys) return foreign_keys.error();
  settings.foreign_keys = *foreign_keys == 1;
  auto busy_timeout = QueryInt(db, "PRAGMA busy_timeout", Stage::kRead);
  if (!busy_timeout) return busy_timeout.error();
  settings.busy_timeout_ms = *busy_timeout;
  auto version = QueryInt(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", Stage::kRead);
  if (!version) return version.error();
  settings.schema_version = *version;
  return settings;
}

}  // namespace fs::store
