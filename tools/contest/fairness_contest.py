#!/usr/bin/env python3
"""Fairness contest (issue 4): honest users against bots for scarce stock, with and without
rate limiting. Starts the real server twice (--rate-limit off, then on), each on a fresh data
dir, and prints the bots' share of units against their share of the population.

Honest users: one reserve each, at a uniformly random moment within the first SPREAD seconds,
each from its own client IP (X-Forwarded-For through 127.0.0.1 as a trusted proxy) and its own
browser User-Agent. Bots: a few clients, each one IP and one device, cycling through many user
ids and firing back-to-back on keep-alive connections from t=0 until the sale is sold out or
the run ends. Standard library only.

Usage: fairness_contest.py BUILD/flashsale [--honest 400] [--bots 4] [--bot-accounts 50]
       [--stock 100] [--spread 2.0] [--seed 1]
"""
import argparse, base64, hashlib, hmac, http.client, json, os, random, re, subprocess
import tempfile, threading, time

SECRET = "contest-jwt-secret-0123456789abcdef"
ADMIN = "contest-admin-token-0123456789abcdef"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(user):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": user, "exp": int(time.time()) + 3600}).encode())
    sig = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def start_server(binary, rate_limit, data_dir):
    args = [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
            "--jwt-secret", SECRET, "--admin-token", ADMIN, "--rate-limit", rate_limit,
            "--trusted-proxies", "127.0.0.1/32", "--log-level", "warn"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    port = int(re.search(r":(\d+)$", line.strip()).group(1))
    return proc, port


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def run(binary, rate_limit, opts):
    rng = random.Random(opts.seed)
    with tempfile.TemporaryDirectory() as data_dir:
        proc, port = start_server(binary, rate_limit, data_dir)
        try:
            admin = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            sale = {"sku_id": "contest", "name": "Scarce", "price_cents": 100, "currency": "EUR",
                    "total_stock": opts.stock, "per_user_limit": 1}
            status, _ = request(admin, "POST", "/admin/v1/skus", json.dumps(sale),
                                {"Authorization": "Bearer " + ADMIN,
                                 "Content-Type": "application/json"})
            assert status == 201, status
            won = {"honest": 0, "bot": 0}
            codes = {}
            lock = threading.Lock()
            sold_out = threading.Event()
            start = time.monotonic() + 0.5
            honest_tokens = [(f"honest-{i}", token(f"honest-{i}")) for i in range(opts.honest)]
            bot_tokens = [[(f"bot{b}-{a}", token(f"bot{b}-{a}")) for a in range(opts.bot_accounts)]
                          for b in range(opts.bots)]

            def record(kind, status):
                with lock:
                    codes[(kind, status)] = codes.get((kind, status), 0) + 1
                    if status == 201:
                        won[kind] += 1

            def bot(index):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                headers = {"X-Forwarded-For": f"203.0.113.{index + 1}",
                           "User-Agent": "python-requests/2.31", "X-Device-Id": f"rig-{index}",
                           "Content-Type": "application/json"}
                while time.monotonic() < start:
                    time.sleep(0.001)
                n = 0
                while not sold_out.is_set() and time.monotonic() < start + opts.spread + 1:
                    user, tok = bot_tokens[index][n % opts.bot_accounts]
                    n += 1
                    status, body = request(conn, "POST", "/api/v1/products/contest/reserve",
                                           '{"quantity":1}',
                                           dict(headers, Authorization="Bearer " + tok))
                    record("bot", status)
                    if status == 409 and b"SOLD_OUT" in body:
                        sold_out.set()

            def honest(chunk):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for at, i in chunk:
                    delay = start + at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    user, tok = honest_tokens[i]
                    status, _ = request(conn, "POST", "/api/v1/products/contest/reserve",
                                        '{"quantity":1}',
                                        {"Authorization": "Bearer " + tok,
                                         "X-Forwarded-For": f"10.{i // 250}.{i % 250}.1",
                                         "User-Agent": f"Mozilla/5.0 (user {i})",
                                         "Accept-Language": "en",
                                         "Content-Type": "application/json"})
                    record("honest", status)

            schedule = sorted((rng.uniform(0, opts.spread), i) for i in range(opts.honest))
            workers = 16
            chunks = [schedule[w::workers] for w in range(workers)]
            threads = [threading.Thread(target=bot, args=(b,)) for b in range(opts.bots)]
            threads += [threading.Thread(target=honest, args=(c,)) for c in chunks]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return won, codes
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--honest", type=int, default=400)
    parser.add_argument("--bots", type=int, default=4)
    parser.add_argument("--bot-accounts", type=int, default=50)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--spread", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args()
    accounts = opts.honest + opts.bots * opts.bot_accounts
    share = opts.bots * opts.bot_accounts / accounts
    print(f"population: {opts.honest} honest users, {opts.bots} bot clients x "
          f"{opts.bot_accounts} accounts; bots are {share:.1%} of accounts, "
          f"{opts.bots / (opts.bots + opts.honest):.1%} of clients; stock {opts.stock}")
    for mode in ("off", "on"):
        won, codes = run(opts.binary, mode, opts)
        total = won["honest"] + won["bot"]
        print(f"--rate-limit {mode}: units sold {total}, bots {won['bot']} "
              f"({won['bot'] / max(total, 1):.1%}), honest {won['honest']}; "
              f"responses {dict(sorted((f'{k}:{s}', n) for (k, s), n in codes.items()))}")


if __name__ == "__main__":
    main()
