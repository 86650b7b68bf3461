#include "store/sqlite/sqlite_schema.h"

#include <array>
#include <cstdint>
#include <string>

#include "core/audit.h"
#include "store/sqlite/sqlite_util.h"

namespace fs::store::sqlite {
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

// Migration 3: orders of the payment saga and the transactional outbox.
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

// Migration 4: the fair waiting room. Self-contained: only new tables and triggers.
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

// Migration 5 (the cost of the audit trail): audit_events rebuilt with the two hashes as
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

// Migration 6 (the writer's cost per reservation): the same guarantees for fewer
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

// Migration 7: the disputes index leaves the writer's commit. With real user
// ids each audit event's entry in audit_events_by_user landed on a random page, and every page
// a commit touches is written whole to the WAL: about 4 KiB per audited request. The index now
// lives in audit_index.db beside the database, filled in sorted chunks by a background thread
// (src/audit/audit_index.h); readers scan the events it does not cover yet.
constexpr const char* kMigration7 = R"sql(
DROP INDEX IF EXISTS audit_events_by_user;
)sql";

// Migration 8: what buyers read about a sale beside its terms (the catalog searches it):
// description, image_url, category and tags (comma-joined), NULL when not set. The readable
// audit view learns SALE_UPDATED.
constexpr const char* kMigration8 = R"sql(
ALTER TABLE skus ADD COLUMN description TEXT CHECK (length(CAST(description AS BLOB)) <= 4000);
ALTER TABLE skus ADD COLUMN image_url TEXT CHECK (length(CAST(image_url AS BLOB)) <= 2048);
ALTER TABLE skus ADD COLUMN category TEXT;
ALTER TABLE skus ADD COLUMN tags TEXT;
DROP VIEW audit_events_readable;
CREATE VIEW audit_events_readable AS
SELECT event_id,
       CASE event_type WHEN 0 THEN 'RESERVE_ATTEMPT' WHEN 1 THEN 'RELEASE' WHEN 2 THEN 'EXPIRY'
                       WHEN 3 THEN 'CHECKOUT' WHEN 4 THEN 'PAYMENT' WHEN 5 THEN 'SALE_CREATED'
                       WHEN 6 THEN 'SALE_OPENED' WHEN 7 THEN 'SALE_CLOSED'
                       WHEN 8 THEN 'STOCK_ADJUSTED' WHEN 9 THEN 'BOT_DETECTED'
                       WHEN 10 THEN 'SALE_UPDATED'
                       ELSE 'UNKNOWN' END AS event_type,
       user_id, sku_id,
       CASE outcome WHEN 0 THEN 'SUCCESS' WHEN 1 THEN 'FAILED' WHEN 2 THEN 'THROTTLED'
                    ELSE 'UNKNOWN' END AS outcome,
       failure_reason, occurred_at_ms, client_ip, device_fingerprint, metadata,
       lower(hex(prev_hash)) AS prev_hash, lower(hex(event_hash)) AS event_hash
  FROM audit_events;
)sql";

// Migration 9: the buyer's e-mail address on an order (the checkout token's `email` claim, NULL
// when it had none), immutable like the amount: the SMTP notifications send to it.
constexpr const char* kMigration9 = R"sql(
ALTER TABLE orders ADD COLUMN buyer_email TEXT
  CHECK (buyer_email IS NULL OR (length(CAST(buyer_email AS BLOB)) BETWEEN 3 AND 254
                                 AND instr(buyer_email, '@') > 1));
DROP TRIGGER orders_immutable_columns;
CREATE TRIGGER orders_immutable_columns
BEFORE UPDATE OF order_id, reservation_id, sku_id, user_id, quantity, amount_cents, currency,
                 payment_method_id, created_at_ms, buyer_email ON orders
BEGIN
  SELECT RAISE(ABORT, 'order identity, amount, payment method and buyer e-mail are immutable');
END;
)sql";

// Migration 10: the X-Request-Id of the checkout that created an order (NULL when none), so the
// payment worker sends it to the gateway however long after the request the call is made.
constexpr const char* kMigration10 = R"sql(
ALTER TABLE orders ADD COLUMN request_id TEXT
  CHECK (request_id IS NULL OR length(CAST(request_id AS BLOB)) BETWEEN 1 AND 128);
)sql";

struct Migration {
  std::int64_t version;
  const char* sql;
};

constexpr std::array<Migration, 10> kMigrations = {{{1, kMigration1},
                                                    {2, kMigration2},
                                                    {3, kMigration3},
                                                    {4, kMigration4},
                                                    {5, kMigration5},
                                                    {6, kMigration6},
                                                    {7, kMigration7},
                                                    {8, kMigration8},
                                                    {9, kMigration9},
                                                    {10, kMigration10}}};
static_assert(kMigrations.size() == SqliteStore::kSchemaVersion);

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

}  // namespace

base::Status ConfigureConnection(sqlite3* db, const SqliteOptions& options) {
  return Configure(db, options);
}

// All migrations run in one IMMEDIATE transaction: a crash mid-migration leaves the old
// schema, and two processes opening at once migrate once.
base::Status MigrateSchema(sqlite3* db) {
  FS_RETURN_IF_ERROR(RegisterMigrationFunctions(db));
  FS_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", Stage::kOpen, "begin migration"));
  base::Status status = ApplyPendingMigrations(db);
  if (!status.ok()) {
    if (sqlite3_get_autocommit(db) == 0) {
      const base::Status rollback = Exec(db, "ROLLBACK", Stage::kOpen, "rollback migration");
      if (!rollback.ok()) return base::DataLoss(rollback.message() + " after " + status.message());
    }
    return status;
  }
  return Exec(db, "COMMIT", Stage::kCommit, "commit migration");
}

}  // namespace fs::store::sqlite
