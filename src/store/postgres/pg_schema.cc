#include "store/postgres/pg_schema.h"

#include <libpq-fe.h>

#include <array>
#include <string>

#include "store/postgres/pg_connection.h"

namespace fs::store::pg {
namespace {

// The same tables, columns, enums (as integers) and guards as the SQLite schema
// (store/sqlite/sqlite_schema.cc), plus what several writers need:
//   - cluster_head: the cluster's batch counter; its row lock is the batch lock every node's
//     writer holds from the start of a batch to its COMMIT (docs/architecture.md);
//   - `version` on every row a writer creates or changes: the cluster batch that last wrote it,
//     so a node reads exactly what the others changed since its last batch;
//   - user_units carries its sale's per_user_limit, so the per-user limit is a CHECK.
// Times are BIGINT milliseconds since the Unix epoch.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE cluster_head (
  id    SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1),
  batch BIGINT   NOT NULL CHECK (batch >= 0)
);
INSERT INTO cluster_head (id, batch) VALUES (1, 0);

CREATE FUNCTION flashsale_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0];
END $$;

-- A bulk statement's guard: it must have matched exactly the rows the writer expected.
CREATE FUNCTION flashsale_expect_rows(actual BIGINT, expected BIGINT, what TEXT)
RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
  IF actual <> expected THEN
    RAISE EXCEPTION '%: matched % rows, expected %', what, actual, expected;
  END IF;
  RETURN actual;
END $$;

CREATE TABLE skus (
  sku_id                  TEXT     NOT NULL PRIMARY KEY CHECK (length(sku_id) BETWEEN 1 AND 64),
  name                    TEXT     NOT NULL CHECK (length(name) >= 1),
  price_cents             BIGINT   NOT NULL CHECK (price_cents >= 0),
  currency                TEXT     NOT NULL CHECK (length(currency) = 3),
  total_stock             BIGINT   NOT NULL CHECK (total_stock >= 0),
  per_user_limit          INTEGER  NOT NULL CHECK (per_user_limit >= 1),
  reservation_ttl_seconds INTEGER  NOT NULL CHECK (reservation_ttl_seconds >= 1),
  starts_at_ms            BIGINT,
  ends_at_ms              BIGINT,
  override_state          SMALLINT NOT NULL CHECK (override_state IN (0, 1, 2)),
  created_at_ms           BIGINT   NOT NULL,
  held                    BIGINT   NOT NULL DEFAULT 0 CONSTRAINT held_not_negative CHECK (held >= 0),
  sold                    BIGINT   NOT NULL DEFAULT 0 CONSTRAINT sold_not_negative CHECK (sold >= 0),
  version                 BIGINT   NOT NULL,
  CONSTRAINT no_oversell CHECK (held + sold <= total_stock),
  CONSTRAINT ends_after_start
    CHECK (starts_at_ms IS NULL OR ends_at_ms IS NULL OR ends_at_ms > starts_at_ms)
);
CREATE INDEX skus_by_version ON skus (version);

CREATE FUNCTION skus_start_empty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.held <> 0 OR NEW.sold <> 0 THEN
    RAISE EXCEPTION 'a new sale must start with held = 0 and sold = 0';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER skus_start_empty BEFORE INSERT ON skus
  FOR EACH ROW EXECUTE FUNCTION skus_start_empty();
CREATE TRIGGER skus_never_deleted BEFORE DELETE ON skus
  FOR EACH ROW EXECUTE FUNCTION flashsale_refuse('sales are never deleted');
CREATE TRIGGER skus_never_truncated BEFORE TRUNCATE ON skus
  FOR EACH STATEMENT EXECUTE FUNCTION flashsale_refuse('sales are never deleted');

CREATE TABLE reservations (
  reservation_id TEXT     NOT NULL PRIMARY KEY CHECK (length(reservation_id) >= 1),
  sku_id         TEXT     NOT NULL REFERENCES skus (sku_id),
  user_id        TEXT     NOT NULL CHECK (length(user_id) >= 1),
  quantity       INTEGER  NOT NULL CHECK (quantity >= 1),
  status         SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 5),
  created_at_ms  BIGINT   NOT NULL,
  expires_at_ms  BIGINT   NOT NULL CHECK (expires_at_ms >= created_at_ms),
  updated_at_ms  BIGINT   NOT NULL,
  version        BIGINT   NOT NULL
);
CREATE INDEX reservations_by_sku ON reservations (sku_id);
CREATE INDEX reservations_by_version ON reservations (version);

-- Units each user holds or bought per sale, kept by the reservation triggers. The limit is
-- copied from the sale (it never changes) so that exceeding it is a CHECK violation.
CREATE TABLE user_units (
  sku_id         TEXT    NOT NULL REFERENCES skus (sku_id),
  user_id        TEXT    NOT NULL,
  units          INTEGER NOT NULL CONSTRAINT units_not_negative CHECK (units >= 0),
  per_user_limit INTEGER NOT NULL,
  CONSTRAINT units_within_limit CHECK (units <= per_user_limit),
  PRIMARY KEY (sku_id, user_id)
);

CREATE FUNCTION reservations_insert_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sale_limit INTEGER;
BEGIN
  IF NEW.status <> 1 THEN
    RAISE EXCEPTION 'a reservation must be created RESERVED';
  END IF;
  UPDATE skus SET held = held + NEW.quantity WHERE sku_id = NEW.sku_id
    RETURNING per_user_limit INTO sale_limit;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'reservation for an unknown sku';
  END IF;
  INSERT INTO user_units (sku_id, user_id, units, per_user_limit)
    VALUES (NEW.sku_id, NEW.user_id, NEW.quantity, sale_limit)
    ON CONFLICT (sku_id, user_id) DO UPDATE SET units = user_units.units + EXCLUDED.units;
  RETURN NULL;
END $$;
CREATE TRIGGER reservations_insert_counts AFTER INSERT ON reservations
  FOR EACH ROW EXECUTE FUNCTION reservations_insert_counts();

-- Only the state machine's edges; units move between held and sold and leave the user's
-- count when the reservation ends without a purchase. A reservation in checkout is sold only
-- with its order PAID and released only with it FAILED.
CREATE FUNCTION reservations_status_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ((OLD.status = 1 AND NEW.status IN (2, 4, 5))
       OR (OLD.status = 2 AND NEW.status IN (3, 5))) THEN
    RAISE EXCEPTION 'illegal reservation status transition % -> %', OLD.status, NEW.status;
  END IF;
  IF OLD.status = 2 AND NEW.status = 3 AND EXISTS (
      SELECT 1 FROM orders WHERE reservation_id = NEW.reservation_id AND status <> 2) THEN
    RAISE EXCEPTION 'a reservation in checkout is purchased only by a PAID order';
  END IF;
  IF OLD.status = 2 AND NEW.status = 5 AND EXISTS (
      SELECT 1 FROM orders WHERE reservation_id = NEW.reservation_id AND status <> 3) THEN
    RAISE EXCEPTION 'a reservation in checkout is released only by a FAILED order';
  END IF;
  UPDATE skus SET
      held = held - (CASE WHEN OLD.status IN (1, 2) THEN OLD.quantity ELSE 0 END)
                  + (CASE WHEN NEW.status IN (1, 2) THEN NEW.quantity ELSE 0 END),
      sold = sold - (CASE WHEN OLD.status = 3 THEN OLD.quantity ELSE 0 END)
                  + (CASE WHEN NEW.status = 3 THEN NEW.quantity ELSE 0 END)
    WHERE sku_id = NEW.sku_id;
  IF OLD.status IN (1, 2, 3) AND NEW.status IN (4, 5) THEN
    UPDATE user_units SET units = units - OLD.quantity
      WHERE sku_id = OLD.sku_id AND user_id = OLD.user_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER reservations_status_counts AFTER UPDATE OF status ON reservations
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION reservations_status_counts();

CREATE FUNCTION reservations_immutable_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.reservation_id <> OLD.reservation_id OR NEW.sku_id <> OLD.sku_id
     OR NEW.user_id <> OLD.user_id OR NEW.quantity <> OLD.quantity
     OR NEW.created_at_ms <> OLD.created_at_ms THEN
    RAISE EXCEPTION 'reservation id, sku, user, quantity and creation time are immutable';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER reservations_immutable_columns BEFORE UPDATE ON reservations
  FOR EACH ROW EXECUTE FUNCTION reservations_immutable_columns();
CREATE TRIGGER reservations_never_deleted BEFORE DELETE ON reservations
  FOR EACH ROW EXECUTE FUNCTION flashsale_refuse('reservations are never deleted');
CREATE TRIGGER reservations_never_truncated BEFORE TRUNCATE ON reservations
  FOR EACH STATEMENT EXECUTE FUNCTION flashsale_refuse('reservations are never deleted');

CREATE TABLE idempotency_keys (
  user_id             TEXT    NOT NULL,
  idem_key            TEXT    NOT NULL CHECK (length(idem_key) >= 1),
  request_fingerprint TEXT    NOT NULL,
  http_status         INTEGER NOT NULL CHECK (http_status BETWEEN 100 AND 599),
  response_body       TEXT    NOT NULL,
  created_at_ms       BIGINT  NOT NULL,
  version             BIGINT  NOT NULL,
  PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_by_created_at ON idempotency_keys (created_at_ms);
CREATE INDEX idempotency_keys_by_version ON idempotency_keys (version);

-- Audit trail: append-only and hash-chained (one chain for the whole cluster: event ids are
-- given under the batch lock).
CREATE TABLE audit_events (
  event_id           BIGINT NOT NULL PRIMARY KEY,
  event_type         TEXT   NOT NULL,
  user_id            TEXT,
  sku_id             TEXT,
  outcome            TEXT   NOT NULL,
  failure_reason     TEXT,
  occurred_at_ms     BIGINT NOT NULL,
  client_ip          TEXT,
  device_fingerprint TEXT,
  metadata           TEXT   NOT NULL,
  prev_hash          TEXT   NOT NULL,
  event_hash         TEXT   NOT NULL
);
CREATE INDEX audit_events_by_user ON audit_events (user_id, sku_id, event_id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION flashsale_refuse('audit events are append-only: UPDATE refused');
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION flashsale_refuse('audit events are append-only: DELETE refused');
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT
  EXECUTE FUNCTION flashsale_refuse('audit events are append-only: TRUNCATE refused');

CREATE TABLE orders (
  order_id           TEXT     NOT NULL PRIMARY KEY CHECK (length(order_id) >= 1),
  reservation_id     TEXT     NOT NULL REFERENCES reservations (reservation_id),
  sku_id             TEXT     NOT NULL REFERENCES skus (sku_id),
  user_id            TEXT     NOT NULL CHECK (length(user_id) >= 1),
  quantity           INTEGER  NOT NULL CHECK (quantity >= 1),
  amount_cents       BIGINT   NOT NULL CHECK (amount_cents >= 0),
  currency           TEXT     NOT NULL CHECK (length(currency) = 3),
  status             SMALLINT NOT NULL CHECK (status BETWEEN 1 AND 4),
  failure_reason     TEXT     NOT NULL,
  payment_method_id  TEXT     NOT NULL CHECK (length(payment_method_id) >= 1),
  attempts           INTEGER  NOT NULL CHECK (attempts >= 0),
  next_attempt_at_ms BIGINT   NOT NULL,
  created_at_ms      BIGINT   NOT NULL,
  updated_at_ms      BIGINT   NOT NULL,
  version            BIGINT   NOT NULL,
  -- The payment lease (docs/architecture.md): the node charging the order now, and until
  -- when. Written by the payment workers' own connections, outside the batch lock.
  lease_owner        TEXT,
  lease_until_ms     BIGINT
);
CREATE UNIQUE INDEX orders_one_per_reservation ON orders (reservation_id);
CREATE INDEX orders_by_status ON orders (status, created_at_ms);
CREATE INDEX orders_by_version ON orders (version);

CREATE FUNCTION orders_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 1 THEN
    RAISE EXCEPTION 'an order must be created PENDING';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM reservations r WHERE r.reservation_id = NEW.reservation_id
                   AND r.status = 2 AND r.sku_id = NEW.sku_id AND r.user_id = NEW.user_id
                   AND r.quantity = NEW.quantity) THEN
    RAISE EXCEPTION 'an order needs its reservation in CHECKOUT_PENDING';
  END IF;
  IF NEW.amount_cents <> (SELECT price_cents * NEW.quantity FROM skus
                          WHERE sku_id = NEW.sku_id) THEN
    RAISE EXCEPTION 'order amount must be price x quantity';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER orders_insert_guard AFTER INSERT ON orders
  FOR EACH ROW EXECUTE FUNCTION orders_insert_guard();

CREATE FUNCTION orders_update_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.order_id <> OLD.order_id OR NEW.reservation_id <> OLD.reservation_id
     OR NEW.sku_id <> OLD.sku_id OR NEW.user_id <> OLD.user_id
     OR NEW.quantity <> OLD.quantity OR NEW.amount_cents <> OLD.amount_cents
     OR NEW.currency <> OLD.currency OR NEW.payment_method_id <> OLD.payment_method_id
     OR NEW.created_at_ms <> OLD.created_at_ms THEN
    RAISE EXCEPTION 'order identity, amount and payment method are immutable';
  END IF;
  IF NEW.status <> OLD.status AND NOT ((OLD.status = 1 AND NEW.status IN (2, 3, 4))
                                    OR (OLD.status = 4 AND NEW.status IN (2, 3))) THEN
    RAISE EXCEPTION 'illegal order status transition % -> %', OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER orders_update_guard BEFORE UPDATE ON orders
  FOR EACH ROW EXECUTE FUNCTION orders_update_guard();
CREATE TRIGGER orders_never_deleted BEFORE DELETE ON orders
  FOR EACH ROW EXECUTE FUNCTION flashsale_refuse('orders are never deleted');

-- The transactional outbox. id orders all events: ids are drawn under the batch lock, so
-- they grow in commit order across nodes. sku_sequence numbers one SKU's events from 1.
CREATE TABLE outbox (
  id             BIGSERIAL NOT NULL PRIMARY KEY,
  event_id       TEXT      NOT NULL CHECK (event_id = sku_id || ':' || sku_sequence),
  type           TEXT      NOT NULL CHECK (length(type) >= 1),
  sku_id         TEXT      NOT NULL REFERENCES skus (sku_id),
  user_id        TEXT      NOT NULL,
  sku_sequence   BIGINT    NOT NULL CHECK (sku_sequence >= 1),
  occurred_at_ms BIGINT    NOT NULL,
  payload        TEXT      NOT NULL CHECK (payload::json IS NOT NULL),
  version        BIGINT    NOT NULL,
  UNIQUE (sku_id, sku_sequence)
);
CREATE INDEX outbox_by_version ON outbox (version);

CREATE FUNCTION outbox_sequence_gapless() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.sku_sequence <> 1 + COALESCE((SELECT MAX(sku_sequence) FROM outbox
                                       WHERE sku_id = NEW.sku_id), 0) THEN
    RAISE EXCEPTION 'outbox sequence of a sku must grow by exactly one';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER outbox_sequence_gapless BEFORE INSERT ON outbox
  FOR EACH ROW EXECUTE FUNCTION outbox_sequence_gapless();
CREATE TRIGGER outbox_rows_immutable BEFORE UPDATE ON outbox
  FOR EACH ROW EXECUTE FUNCTION flashsale_refuse('outbox rows are immutable');

CREATE TABLE outbox_cursors (
  sink    TEXT   NOT NULL PRIMARY KEY,
  last_id BIGINT NOT NULL CHECK (last_id >= 0)
);
)sql";

// Migration 2: what buyers read about a sale beside its terms (the catalog searches it), NULL
// when not set; tags comma-joined.
constexpr const char* kMigration2 = R"sql(
ALTER TABLE skus ADD COLUMN description TEXT CHECK (octet_length(description) <= 4000),
  ADD COLUMN image_url TEXT CHECK (octet_length(image_url) <= 2048),
  ADD COLUMN category TEXT,
  ADD COLUMN tags TEXT;
)sql";

// Migration 3: the buyer's e-mail address on an order (the checkout token's `email` claim, NULL
// when it had none), immutable like the amount: the SMTP notifications send to it.
constexpr const char* kMigration3 = R"sql(
ALTER TABLE orders ADD COLUMN buyer_email TEXT
  CHECK (buyer_email IS NULL OR (octet_length(buyer_email) BETWEEN 3 AND 254
                                 AND position('@' in buyer_email) > 1));
CREATE OR REPLACE FUNCTION orders_update_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.order_id <> OLD.order_id OR NEW.reservation_id <> OLD.reservation_id
     OR NEW.sku_id <> OLD.sku_id OR NEW.user_id <> OLD.user_id
     OR NEW.quantity <> OLD.quantity OR NEW.amount_cents <> OLD.amount_cents
     OR NEW.currency <> OLD.currency OR NEW.payment_method_id <> OLD.payment_method_id
     OR NEW.created_at_ms <> OLD.created_at_ms
     OR NEW.buyer_email IS DISTINCT FROM OLD.buyer_email THEN
    RAISE EXCEPTION 'order identity, amount, payment method and buyer e-mail are immutable';
  END IF;
  IF NEW.status <> OLD.status AND NOT ((OLD.status = 1 AND NEW.status IN (2, 3, 4))
                                    OR (OLD.status = 4 AND NEW.status IN (2, 3))) THEN
    RAISE EXCEPTION 'illegal order status transition % -> %', OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;
)sql";

// Migration 4: the X-Request-Id of the checkout that created an order (NULL when none), so the
// payment worker sends it to the gateway however long after the request the call is made.
constexpr const char* kMigration4 = R"sql(
ALTER TABLE orders ADD COLUMN request_id TEXT
  CHECK (request_id IS NULL OR octet_length(request_id) BETWEEN 1 AND 128);
)sql";

constexpr std::array<const char*, 4> kMigrations = {kMigration1, kMigration2, kMigration3,
                                                    kMigration4};
static_assert(kMigrations.size() == kSchemaVersion);

// pg_advisory_xact_lock key of migrations ("flashsale migrate"): any constant shared by
// every node; released at COMMIT.
constexpr const char* kMigrationLockKey = "7301164522117001";

}  // namespace

base::Result<std::int64_t> Migrate(pg_conn* connection) {
  FS_RETURN_IF_ERROR(Exec(connection, "BEGIN", "migrate"));
  auto rollback_after = [connection](base::Status failure) {
    (void)Exec(connection, "ROLLBACK", "migrate rollback");
    return failure;
  };
  base::Status locked =
      Exec(connection, std::string("SELECT pg_advisory_xact_lock(") + kMigrationLockKey + ")",
           "migration lock");
  if (!locked.ok()) return rollback_after(locked);
  base::Status created = Exec(connection,
                              "CREATE TABLE IF NOT EXISTS schema_version ("
                              " version BIGINT NOT NULL PRIMARY KEY,"
                              " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                              "schema_version");
  if (!created.ok()) return rollback_after(created);
  ResultHandle current(PQexec(connection, "SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  if (!current || PQresultStatus(current.get()) != PGRES_TUPLES_OK) {
    return rollback_after(ErrorOf(connection, current.get(), "schema version"));
  }
  auto version = Int64(current.get(), 0, 0);
  if (!version) return rollback_after(version.error());
  if (*version > kSchemaVersion) {
    return rollback_after(base::FailedPrecondition(
        "postgres: the database has schema version " + std::to_string(*version) +
        ", newer than this binary's " + std::to_string(kSchemaVersion)));
  }
  for (std::int64_t next = *version + 1; next <= kSchemaVersion; ++next) {
    const base::Status applied = Exec(connection, kMigrations[static_cast<std::size_t>(next - 1)],
                                      "migration " + std::to_string(next));
    if (!applied.ok()) return rollback_after(applied);
    const base::Status recorded = Exec(
        connection, "INSERT INTO schema_version (version) VALUES (" + std::to_string(next) + ")",
        "record migration");
    if (!recorded.ok()) return rollback_after(recorded);
  }
  FS_RETURN_IF_ERROR(Exec(connection, "COMMIT", "migrate commit"));
  return kSchemaVersion;
}

}  // namespace fs::store::pg
