#!/usr/bin/env python3
"""kill -9 campaign against the real server (docs/reliability.md, "kill -9 campaign").

Runs a keyed load (reserve, release, checkout through a Stripe-style gateway that charges once
per key) against `flashsale serve`, sends SIGKILL at seeded random moments, restarts, and after
every restart pauses the load and checks:
  - every acknowledged answer is stored with its state: a 201 reservation exists (user and
    quantity as answered), a 200 release left it RELEASED, a 202 checkout's order exists for
    its reservation;
  - the counters equal the rows, held + sold <= stock (no oversell), no user over the limit;
  - the audit chain verifies (`flashsale audit verify`);
  - a replay of every key acknowledged since the last check (and of a sample of older ones)
    returns the first answer, byte for byte;
and at the end, once every order has settled: each PAID order was charged exactly once, no
other order was charged, and no key was charged twice.

Stores: `sqlite` (the embedded store in a data directory) or `postgres` (a node on a private
PostgreSQL started here with initdb; with --pg-kill-ratio some rounds kill PostgreSQL itself
with SIGKILL too, so it recovers from its own crash).

Prints one line per round and a summary (JSON with --json): kills, acknowledgements checked,
lost acknowledgements, oversell, double charges, replay mismatches, recovery time P50/P99 (from
the restart to the server's "listening" line: recovery done). Exit 0 when nothing failed, 1
when a check failed, 2 on a setup error. The seed is printed; the same seed replays the same
kill schedule and the same choices (the server's timing still varies).
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JWT_SECRET = "campaign-jwt-secret-0123456789abcdef"
ADMIN_TOKEN = "campaign-admin-token-0123456789abcdef"
SKU = "campaign"
PG_BIN = "/usr/lib/postgresql/15/bin"
RESERVED, CHECKOUT_PENDING, PURCHASED, EXPIRED, RELEASED = 1, 2, 3, 4, 5
ORDER_PENDING, ORDER_PAID, ORDER_FAILED = 1, 2, 3


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def user_token(user):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": user, "exp": int(time.time()) + 86400}).encode())
    signature = hmac.new(JWT_SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{b64url(signature.digest())}"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values, fraction):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Gateway:
    """A Stripe-style gateway: POST /v1/payment_intents charges once per Idempotency-Key (a
    repeated key gets the first answer), GET /v1/payment_intents/{id} reads an intent. Answers
    take 0-150 ms, so kills also land while a charge is in flight."""

    def __init__(self, seed):
        self.lock = threading.Lock()
        self.intents = {}  # key -> (status code, body)
        self.by_id = {}  # intent id -> body
        self.charges = {}  # key -> real charges (must stay 1)
        self.rng = random.Random(seed)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(
                    pair.split("=", 1)
                    for pair in self.rfile.read(length).decode().split("&")
                    if "=" in pair
                )
                key = self.headers.get("Idempotency-Key", "")
                with gateway.lock:
                    delay = gateway.rng.uniform(0, 0.15)
                time.sleep(delay)
                with gateway.lock:
                    if key not in gateway.intents:
                        intent_id = f"pi_{len(gateway.intents) + 1}"
                        if form.get("payment_method") == "pm_card_chargeDeclined":
                            body = json.dumps({"error": {"code": "card_declined",
                                                         "decline_code": "generic_decline"}})
                            gateway.intents[key] = (402, body)
                        else:
                            body = json.dumps({"id": intent_id, "status": "succeeded",
                                               "amount": int(form.get("amount", "0"))})
                            gateway.intents[key] = (200, body)
                            gateway.by_id[intent_id] = body
                            gateway.charges[key] = gateway.charges.get(key, 0) + 1
                    status, body = gateway.intents[key]
                self.answer(status, body)

            def do_GET(self):
                intent_id = self.path.rsplit("/", 1)[-1]
                with gateway.lock:
                    body = gateway.by_id.get(intent_id)
                if body is None:
                    self.answer(404, json.dumps({"error": {"code": "resource_missing"}}))
                else:
                    self.answer(200, body)

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a killed server drops its connections: expected, not news

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def charged(self):
        with self.lock:
            return dict(self.charges)


class Postgres:
    """A private PostgreSQL 15 (initdb into a temporary directory, trust auth on 127.0.0.1)."""

    def __init__(self, root, port):
        self.data = os.path.join(root, "pgdata")
        self.log = os.path.join(root, "postgres.log")
        self.root = root
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/flashsale"
        self.prefix = ["/usr/sbin/runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        self.run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                  "-E", "UTF8"])
        self.start()
        self.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres",
                  "-c", "CREATE DATABASE flashsale"])

    def run(self, argv):
        subprocess.run(self.prefix + argv, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def start(self):
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
                   " -c max_connections=100 -c shared_buffers=64MB")
        self.run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w",
                  "-t", "120", "start"])

    def kill9(self):
        with open(os.path.join(self.data, "postmaster.pid")) as pid_file:
            pid = int(pid_file.readline())
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        # Its backends die with it (they notice the postmaster is gone); wait for them too.
        time.sleep(0.3)

    def stop(self):
        subprocess.run(self.prefix + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate",
                                      "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def query(self, sql):
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                              "-d", "flashsale", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-f", "-"],
                             input=sql, capture_output=True, text=True, check=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]


class SqliteReader:
    def __init__(self, path):
        self.path = path

    def query(self, sql):
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return [tuple(str(v) for v in row) for row in connection.execute(sql).fetchall()]
        finally:
            connection.close()


class Server:
    def __init__(self, binary, data_dir, store_args, gateway_url, log_path):
        self.binary = binary
        self.data_dir = data_dir
        self.store_args = store_args
        self.gateway_url = gateway_url
        self.log_path = log_path
        self.process = None
        self.port = 0

    def start(self, timeout=120):
        """Starts the server; returns seconds until its "listening" line (recovery done)."""
        args = [self.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
                "--jwt-secret", JWT_SECRET, "--admin-token", ADMIN_TOKEN, "--rate-limit", "off",
                "--shutdown-delay-seconds", "0", "--payment-gateway", "http",
                "--payment-gateway-url", self.gateway_url, "--payment-timeout-ms", "1000",
                "--payment-retry-schedule", "100ms,200ms,500ms,1s"] + self.store_args
        begin = time.monotonic()
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = begin + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                with open(self.log_path, errors="replace") as log:
                    tail = "".join(log.readlines()[-5:])
                raise RuntimeError(f"the server exited (code {self.process.wait()}); the end "
                                   f"of {self.log_path}:\n{tail}")
            if line.startswith("flashsale listening on http://127.0.0.1:"):
                self.port = int(line.strip().rsplit(":", 1)[1])
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return time.monotonic() - begin
        raise RuntimeError("the server did not start in time")

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()


def request(port, method, path, body, headers, timeout=5.0):
    """One request on a fresh connection: (status, body text), or None without an answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


class Load:
    """Client threads. Each reserves for new users (with keys), and releases or checks out
    (with keys) what it holds. Only answers it received count as acknowledged."""

    def __init__(self, server, threads, seed):
        self.server = server
        self.seed = seed
        self.lock = threading.Lock()
        self.acks = []  # dicts: kind, method, path, body, headers, status, answer, ...
        self.running = threading.Event()
        self.stopping = False
        self.idle = threading.Semaphore(0)
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(threads)]
        for thread in self.threads:
            thread.start()
        for _ in self.threads:
            self.idle.acquire()  # every thread waits for resume()

    def pause(self):
        self.running.clear()
        for _ in self.threads:
            self.idle.acquire()

    def resume(self):
        self.running.set()

    def finish(self):
        self.stopping = True
        self.running.set()
        for thread in self.threads:
            thread.join()

    def record(self, ack):
        with self.lock:
            self.acks.append(ack)

    def run(self, index):
        rng = random.Random(self.seed * 1000 + index)
        held = []  # (reservation id, user) acknowledged RESERVED by this thread
        n = 0
        while True:
            if not self.running.is_set():
                self.idle.release()
                self.running.wait()
            if self.stopping:
                return
            port = self.server.port
            choice = rng.random()
            if held and choice < 0.15:
                reservation_id, user = held.pop(rng.randrange(len(held)))
                headers = {"Authorization": "Bearer " + user_token(user)}
                path = f"/api/v1/reservations/{reservation_id}"
                answer = request(port, "DELETE", path, None, headers)
                if answer and answer[0] == 200:
                    self.record({"kind": "release", "reservation_id": reservation_id})
            elif held and choice < 0.45:
                reservation_id, user = held.pop(rng.randrange(len(held)))
                method = "pm_card_chargeDeclined" if rng.random() < 0.1 else "pm_card_visa"
                key = f"co-{self.seed}-{index}-{n}"
                n += 1
                headers = {"Authorization": "Bearer " + user_token(user),
                           "Content-Type": "application/json", "Idempotency-Key": key}
                body = json.dumps({"reservation_id": reservation_id, "payment_method_id": method})
                answer = request(port, "POST", "/api/v1/checkout", body, headers)
                if answer and answer[0] == 202:
                    self.record({"kind": "checkout", "method": "POST", "path": "/api/v1/checkout",
                                 "body": body, "user": user, "key": key, "status": 202,
                                 "answer": answer[1], "reservation_id": reservation_id,
                                 "order_id": json.loads(answer[1])["order_id"]})
            else:
                user = f"u{self.seed}-{index}-{n}"
                key = f"rs-{self.seed}-{index}-{n}"
                n += 1
                quantity = 1 + rng.randrange(2)
                headers = {"Authorization": "Bearer " + user_token(user),
                           "Content-Type": "application/json", "Idempotency-Key": key}
                body = json.dumps({"quantity": quantity})
                path = f"/api/v1/products/{SKU}/reserve"
                answer = request(port, "POST", path, body, headers)
                if answer and answer[0] == 201:
                    reservation_id = json.loads(answer[1])["reservation_id"]
                    held.append((reservation_id, user))
                    self.record({"kind": "reserve", "method": "POST", "path": path, "body": body,
                                 "user": user, "key": key, "status": 201, "answer": answer[1],
                                 "reservation_id": reservation_id, "quantity": quantity})


def id_list(ids):
    return ",".join("'" + i.replace("'", "''") + "'" for i in ids) or "''"


class Checker:
    def __init__(self, reader, binary, tool_args, rng):
        self.reader = reader
        self.binary = binary
        self.tool_args = tool_args
        self.rng = rng
        self.failures = []
        self.checked = 0
        self.replayed = 0

    def fail(self, message):
        self.failures.append(message)
        print("FAILED: " + message, flush=True)

    def stored_state(self, acks):
        reservations = {}
        orders = {}
        ids = [a["reservation_id"] for a in acks]
        order_ids = [a["order_id"] for a in acks if a["kind"] == "checkout"]
        for start in range(0, len(ids), 500):
            for row in self.reader.query(
                    "SELECT reservation_id, status, user_id, quantity FROM reservations WHERE"
                    f" reservation_id IN ({id_list(ids[start:start + 500])})"):
                reservations[row[0]] = (int(row[1]), row[2], int(row[3]))
        for start in range(0, len(order_ids), 500):
            for row in self.reader.query(
                    "SELECT order_id, reservation_id, status FROM orders WHERE order_id IN"
                    f" ({id_list(order_ids[start:start + 500])})"):
                orders[row[0]] = (row[1], int(row[2]))
        return reservations, orders

    def check_acks(self, acks):
        reservations, orders = self.stored_state(acks)
        for ack in acks:
            self.checked += 1
            stored = reservations.get(ack["reservation_id"])
            if stored is None:
                self.fail(f"lost acknowledgement: {ack['kind']} {ack['reservation_id']}")
                continue
            status, user, quantity = stored
            if ack["kind"] == "reserve" and (user != ack["user"] or quantity != ack["quantity"]):
                self.fail(f"reservation {ack['reservation_id']} stored as {stored}")
            if ack["kind"] == "release" and status != RELEASED:
                self.fail(f"released reservation {ack['reservation_id']} has status {status}")
            if ack["kind"] == "checkout":
                order = orders.get(ack["order_id"])
                if order is None or order[0] != ack["reservation_id"]:
                    self.fail(f"lost acknowledgement: order {ack['order_id']}")
                elif status not in (CHECKOUT_PENDING, PURCHASED, RELEASED):
                    self.fail(f"checked-out reservation {ack['reservation_id']} has status "
                              f"{status}")

    def check_books(self):
        rows = self.reader.query(
            "SELECT s.total_stock, s.held, s.sold,"
            " (SELECT coalesce(sum(quantity), 0) FROM reservations r WHERE r.sku_id = s.sku_id"
            "  AND r.status IN (1, 2)),"
            " (SELECT coalesce(sum(quantity), 0) FROM reservations r WHERE r.sku_id = s.sku_id"
            "  AND r.status = 3) FROM skus s")
        oversold = 0
        for stock, held, sold, held_rows, sold_rows in rows:
            if (held, sold) != (held_rows, sold_rows):
                self.fail(f"counters held={held} sold={sold} but rows {held_rows}/{sold_rows}")
            if int(held) + int(sold) > int(stock):
                oversold += int(held) + int(sold) - int(stock)
                self.fail(f"oversell: held {held} + sold {sold} > stock {stock}")
        over = self.reader.query(
            "SELECT count(*) FROM (SELECT r.user_id FROM reservations r JOIN skus s ON"
            " s.sku_id = r.sku_id WHERE r.status IN (1, 2, 3) GROUP BY r.sku_id, r.user_id,"
            " s.per_user_limit HAVING sum(r.quantity) > s.per_user_limit) x")[0][0]
        if over != "0":
            self.fail(f"{over} users over the limit")
        return oversold

    def check_chain(self):
        run = subprocess.run([self.binary, "audit", "verify"] + self.tool_args,
                             capture_output=True, text=True)
        if run.returncode != 0:
            self.fail(f"audit verify exit {run.returncode}: {run.stdout.strip()} "
                      f"{run.stderr.strip()}")

    def check_replays(self, port, acks):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for ack in acks:
            if ack["kind"] == "release":
                continue
            headers = {"Authorization": "Bearer " + user_token(ack["user"]),
                       "Content-Type": "application/json", "Idempotency-Key": ack["key"]}
            try:  # one keep-alive connection for all of them
                connection.request(ack["method"], ack["path"], body=ack["body"], headers=headers)
                response = connection.getresponse()
                answer = (response.status, response.read().decode())
            except (OSError, http.client.HTTPException) as error:
                answer = ("no answer", str(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            self.replayed += 1
            if answer != (ack["status"], ack["answer"]):
                self.fail(f"replay of {ack['key']} answered {answer}, first answer "
                          f"{(ack['status'], ack['answer'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="build/flashsale")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--interval-ms", type=int, default=500,
                        help="a kill comes 50 ms to this long after the load resumed")
    parser.add_argument("--pg-kill-ratio", type=float, default=0.2,
                        help="postgres: share of rounds that also kill PostgreSQL")
    parser.add_argument("--replay-sample", type=int, default=25,
                        help="older acknowledged keys replayed after each restart")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    rng = random.Random(seed)
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print(f"kill-campaign: no server binary at {binary}", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="flashsale-kill-campaign-")
    os.chmod(work, 0o755)
    print(f"kill-campaign: store {args.store}, {args.kills} kills, seed {seed}, work dir {work}",
          flush=True)
    gateway = Gateway(seed)
    data_dir = os.path.join(work, "data")
    postgres = None
    if args.store == "postgres":
        pg_root = os.path.join(work, "pg")
        os.mkdir(pg_root)
        postgres = Postgres(pg_root, free_port())
        store_args = ["--store", postgres.url]
        tool_args = ["--store", postgres.url]
        reader = postgres
    else:
        store_args = []
        tool_args = ["--data-dir", data_dir]
        reader = SqliteReader(os.path.join(data_dir, "flashsale.db"))
    server = Server(binary, data_dir, store_args, gateway.url, os.path.join(work, "server.log"))
    recoveries = []
    postgres_kills = 0
    checker = Checker(reader, binary, tool_args, rng)
    oversold = 0
    setup_failed = False
    try:
        server.start()
        sale = json.dumps({"sku_id": SKU, "name": "Kill campaign", "price_cents": 1000,
                           "currency": "USD", "total_stock": 100_000_000, "per_user_limit": 2,
                           "reservation_ttl_seconds": 2})
        created = request(server.port, "POST", "/admin/v1/skus", sale,
                          {"Authorization": "Bearer " + ADMIN_TOKEN,
                           "Content-Type": "application/json"})
        if not created or created[0] != 201:
            print(f"kill-campaign: cannot create the sale: {created}", file=sys.stderr)
            return 2
        load = Load(server, args.threads, seed)
        checked_upto = 0
        for kill in range(1, args.kills + 1):
            load.resume()
            time.sleep(rng.uniform(0.05, args.interval_ms / 1000))
            kill_postgres = postgres is not None and rng.random() < args.pg_kill_ratio
            server.kill9()
            if kill_postgres:
                postgres.kill9()
                postgres_kills += 1
            load.pause()
            if kill_postgres:
                postgres.start()
            recoveries.append(server.start())
            checks_began = time.monotonic()
            with load.lock:
                new_acks = load.acks[checked_upto:]
                older = load.acks[:checked_upto]
                checked_upto = len(load.acks)
            sample = rng.sample(older, min(len(older), args.replay_sample))
            checker.check_acks(new_acks + sample)
            oversold += checker.check_books()
            checker.check_chain()
            checker.check_replays(server.port, new_acks + sample)
            print(f"round {kill}: {'server+postgres' if kill_postgres else 'server'} killed, "
                  f"recovered in {recoveries[-1] * 1000:.0f} ms, {len(new_acks)} new "
                  f"acknowledgements, checked in {time.monotonic() - checks_began:.1f} s, "
                  f"{len(checker.failures)} failures so far", flush=True)
        load.finish()
        # Let every order settle (the retry schedule and the gateway's answers), then the books
        # of money: each PAID order charged once, nothing else charged.
        deadline = time.time() + 60
        while time.time() < deadline and reader.query(
                "SELECT count(*) FROM orders WHERE status = 1")[0][0] != "0":
            time.sleep(0.5)
        with load.lock:
            all_acks = list(load.acks)
        checker.check_acks(all_acks)
        oversold += checker.check_books()
        checker.check_chain()
        charges = gateway.charged()
        orders = {row[0]: int(row[1]) for row in reader.query("SELECT order_id, status FROM orders")}
        double_charges = sum(1 for count in charges.values() if count > 1)
        for order_id, status in orders.items():
            if status == ORDER_PENDING:
                checker.fail(f"order {order_id} still PENDING after 60 s")
            if status == ORDER_PAID and charges.get(order_id) != 1:
                checker.fail(f"PAID order {order_id} charged {charges.get(order_id, 0)} times")
            if status == ORDER_FAILED and order_id in charges:
                checker.fail(f"FAILED order {order_id} was charged")
        for key in charges:
            if key not in orders:
                checker.fail(f"a charge for an unknown order {key}")
        if double_charges:
            checker.fail(f"{double_charges} keys charged twice")
        summary = {
            "store": args.store, "seed": seed, "kills": args.kills,
            "postgres_kills": postgres_kills,
            "acknowledged": len(all_acks),
            "acknowledged_by_kind": {kind: sum(1 for a in all_acks if a["kind"] == kind)
                                     for kind in ("reserve", "release", "checkout")},
            "ack_checks": checker.checked, "replays": checker.replayed,
            "orders": len(orders),
            "orders_paid": sum(1 for s in orders.values() if s == ORDER_PAID),
            "charges": sum(charges.values()), "double_charges": double_charges,
            "oversold_units": oversold,
            "lost_acknowledgements": sum(1 for f in checker.failures
                                         if f.startswith("lost acknowledgement")),
            "failures": len(checker.failures),
            "recovery_ms_p50": round(percentile(recoveries, 0.5) * 1000, 1),
            "recovery_ms_p99": round(percentile(recoveries, 0.99) * 1000, 1),
            "recovery_ms_max": round(max(recoveries, default=0) * 1000, 1),
        }
        if args.json:
            print(json.dumps(summary))
        else:
            for name, value in summary.items():
                print(f"  {name}: {value}")
        return 0 if not checker.failures else 1
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"kill-campaign: {error}", file=sys.stderr)
        setup_failed = True
        return 2
    finally:
        server.stop()
        if postgres:
            postgres.stop()
        gateway.server.shutdown()
        if not args.keep and not checker.failures and not setup_failed:
            shutil.rmtree(work, ignore_errors=True)
        elif not args.keep:
            print(f"kill-campaign: work directory kept: {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
