#!/usr/bin/env python3
"""Bytes the writer keeps per item (docs/operations.md, "Sizing").

Starts BUILD_DIR/flashsale on a fresh data dir and reads its resident set (VmRSS) around
phases of N requests each (16 clients at once):
  1. N reserves by N users, no key      -> bytes per active reservation (with its user units)
  2. N keyed reserves by N other users  -> minus (1): bytes per idempotency record
  3. every reservation of (1) released  -> what the writer keeps of an ended one (about 0)
Allocators keep freed pages, so (3) shows as no growth rather than a drop.

  bench/memory.py [BUILD_DIR] [N]     (defaults: build, 50000)
"""
import base64, hashlib, hmac, http.client, json, os, re, subprocess, sys, tempfile, threading
import time

SECRET = "bench-jwt-secret-0123456789abcdef"
ADMIN = "bench-admin-token-0123456789abcdef"
CLIENTS = 16


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(user):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": user, "exp": int(time.time()) + 3600}).encode())
    signature = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def rss(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def run(port, jobs):
    """Runs (method, path, body, headers) jobs from CLIENTS connections; returns the answers."""
    answers = [None] * len(jobs)

    def client(first):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(first, len(jobs), CLIENTS):
            method, path, body, headers = jobs[i]
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answers[i] = (response.status, response.read())
        connection.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def reserves(sku, users, keyed):
    jobs = []
    for user in users:
        headers = {"Authorization": "Bearer " + token(user), "Content-Type": "application/json"}
        if keyed:
            headers["Idempotency-Key"] = "key-" + user
        jobs.append(("POST", f"/api/v1/products/{sku}/reserve", '{"quantity":1}', headers))
    return jobs


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    data = tempfile.mkdtemp(prefix="flashsale-memory-")
    server = subprocess.Popen(
        [os.path.join(build, "flashsale"), "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
         "--jwt-secret", SECRET, "--admin-token", ADMIN, "--rate-limit", "off",
         "--sqlite-synchronous", "off", "--log-level", "warn"],
        stdout=subprocess.PIPE, text=True)
    try:
        port = None
        for line in server.stdout:
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        admin = {"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"}
        for sku in ("plain", "keyed"):
            sale = {"sku_id": sku, "name": sku, "price_cents": 100, "currency": "EUR",
                    "total_stock": 10 * n, "per_user_limit": 1, "reservation_ttl_seconds": 3600}
            assert run(port, [("POST", "/admin/v1/skus", json.dumps(sale), admin)])[0][0] == 201
        run(port, reserves("plain", [f"warm-{i}" for i in range(2000)], False))
        start = rss(server.pid)
        plain = run(port, reserves("plain", [f"p-{i}" for i in range(n)], False))
        assert all(status == 201 for status, _ in plain), "a reserve failed"
        after_plain = rss(server.pid)
        keyed = run(port, reserves("keyed", [f"k-{i}" for i in range(n)], True))
        assert all(status == 201 for status, _ in keyed), "a keyed reserve failed"
        after_keyed = rss(server.pid)
        releases = []
        for i, (_, body) in enumerate(plain):
            reservation_id = json.loads(body)["reservation_id"]
            releases.append(("DELETE", f"/api/v1/reservations/{reservation_id}", None,
                             {"Authorization": "Bearer " + token(f"p-{i}")}))
        assert all(status == 200 for status, _ in run(port, releases)), "a release failed"
        plain_more = run(port, reserves("plain", [f"q-{i}" for i in range(n)], False))
        assert all(status == 201 for status, _ in plain_more)
        after_reuse = rss(server.pid)
        per_reservation = (after_plain - start) / n
        per_key = (after_keyed - after_plain) / n - per_reservation
        print(json.dumps({
            "n": n,
            "rss_start_mib": round(start / 2**20, 1),
            "bytes_per_active_reservation": round(per_reservation),
            "bytes_per_idempotency_record": round(per_key),
            "growth_for_n_more_after_releasing_n_mib": round((after_reuse - after_keyed) / 2**20, 1),
        }))
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
