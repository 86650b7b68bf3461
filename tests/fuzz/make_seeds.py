#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

The seeds are realistic inputs: a request for every route, the JSON bodies the API documents,
tokens and queue passes signed with the secrets the targets use, RESP replies as Redis sends
them. Tokens are signed here (HMAC-SHA256), so the seeds must be rewritten when a target's
secret or fixed clock changes. Run from anywhere: python3 tests/fuzz/make_seeds.py
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

JWT_SECRET = b"fuzz-jwt-secret"
ADMIN_TOKEN = "fuzz-admin-token"
EXP_2030 = 1_900_000_000  # after the targets' fixed clock (2026-06-01)
QUEUE_PASS_LABEL = b"flashsale queue pass key v1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict, secret: bytes = JWT_SECRET) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(mac)}"


def queue_pass(sku: str, ticket: str, user: str, expires_ms: int) -> str:
    key = hmac.new(JWT_SECRET, QUEUE_PASS_LABEL, hashlib.sha256).digest()
    signed = "qp1." + b64url(f"{sku}\n{ticket}\n{user}\n{expires_ms}".encode())
    return signed + "." + b64url(hmac.new(key, signed.encode(), hashlib.sha256).digest())


ALICE = jwt({"sub": "alice", "exp": EXP_2030, "email": "alice@example.com"})
BOB = jwt({"sub": "bob", "exp": EXP_2030, "tier": "premium"})
TICKET = "3f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
RESERVATION = "0b1c2d3e-4f50-4617-8899-aabbccddeeff"
PASS = queue_pass("FUZZ-2", TICKET, "alice", 1_780_300_000_000)


def write(target: str, name: str, data) -> None:
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), "wb") as out:
        out.write(data)


def request(method: str, target: str, headers=(), body: str = "") -> str:
    lines = [f"{method} {target} HTTP/1.1", "Host: shop.example"]
    lines += list(headers)
    if body or method in ("POST", "PATCH", "PUT"):
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def user(token: str = ALICE):
    return [f"Authorization: Bearer {token}"]


ADMIN = [f"Authorization: Bearer {ADMIN_TOKEN}"]
SALE = {
    "sku_id": "FUZZ-3", "name": "Running shoes", "price_cents": 12999, "currency": "EUR",
    "total_stock": 500, "per_user_limit": 2, "reservation_ttl_seconds": 300,
    "starts_at": "2026-06-01T10:00:00Z", "ends_at": "2026-06-02T10:00:00.250+02:00",
    "waiting_room": False, "description": "Light trail shoes", "image_url": "/img/shoe.png",
    "category": "shoes", "tags": ["trail", "sale-2026"],
}


def http_request() -> None:
    reserve = json.dumps({"quantity": 1})
    seeds = {
        "healthz": request("GET", "/healthz"),
        "readyz": request("GET", "/readyz"),
        "metrics": request("GET", "/metrics"),
        "products": request("GET", "/api/v1/products?q=fuzz&status=OPEN&sort=price&limit=5"),
        "product": request("GET", "/api/v1/products/FUZZ-1", ["If-None-Match: \"abc\""]),
        "availability": request("GET", "/api/v1/products/FUZZ-1/availability"),
        "events": request("GET", "/api/v1/products/FUZZ-1/events"),
        "reserve_path": request("POST", "/api/v1/products/FUZZ-1/reserve",
                                user() + ["Idempotency-Key: key-0001",
                                          "X-Forwarded-For: 203.0.113.9, 10.0.0.1",
                                          "User-Agent: fuzz/1.0", "Accept-Language: de",
                                          "X-Device-Id: dev-1", "X-Request-Id: req-1",
                                          "traceparent: 00-0af7651916cd43dd8448eb211c80319c-"
                                          "b7ad6b7169203331-01",
                                          "tracestate: vendor=abc"], reserve),
        "reserve_body": request("POST", "/api/v1/reserve", user(BOB), json.dumps(
            {"sku_id": "FUZZ-1", "quantity": 2, "idempotency_key": "key-0002"})),
        "reserve_pass": request("POST", "/api/v1/products/FUZZ-2/reserve",
                                user() + [f"X-Queue-Pass: {PASS}"], reserve),
        "reservation": request("GET", f"/api/v1/reservations/{RESERVATION}", user()),
        "release": request("DELETE", f"/api/v1/reservations/{RESERVATION}", user()),
        "checkout": request("POST", "/api/v1/checkout", user() + ["Idempotency-Key: co-1"],
                            json.dumps({"reservation_id": RESERVATION,
                                        "payment_method_id": "pm_card_visa"})),
        "orders_checkout": request("POST", "/api/v1/orders/checkout", user(), json.dumps(
            {"reservation_id": RESERVATION, "payment_method_id": "pm_1",
             "idempotency_key": "co-2"})),
        "order": request("GET", f"/api/v1/orders/{RESERVATION}?wait_seconds=5", user()),
        "queue_join": request("POST", "/api/v1/products/FUZZ-2/queue", user()),
        "queue_ticket": request("GET", f"/api/v1/products/FUZZ-2/queue/{TICKET}", user()),
        "admin_create": request("POST", "/admin/v1/skus", ADMIN, json.dumps(SALE)),
        "admin_get": request("GET", "/admin/v1/skus/FUZZ-1", ADMIN),
        "admin_patch": request("PATCH", "/admin/v1/skus/FUZZ-1", ADMIN,
                               json.dumps({"name": "New name", "tags": None})),
        "admin_open": request("POST", "/admin/v1/skus/FUZZ-1/open", ADMIN),
        "admin_close": request("POST", "/admin/v1/skus/FUZZ-1/close", ADMIN),
        "admin_stock": request("POST", "/admin/v1/skus/FUZZ-1/stock", ADMIN,
                               json.dumps({"delta": -5})),
        "admin_reconciliation": request("GET", "/admin/v1/skus/FUZZ-1/reconciliation", ADMIN),
        "admin_audit": request("GET", "/admin/v1/audit?user_id=alice&sku_id=FUZZ-1&from="
                               "2026-01-01T00:00:00Z&to=2027-01-01T00:00:00%2B01:00&limit=10",
                               ADMIN),
        "admin_audit_verify": request("GET", "/admin/v1/audit/verify", ADMIN),
        "admin_orders": request("GET", "/admin/v1/orders?status=PENDING", ADMIN),
        "admin_order": request("GET", f"/admin/v1/orders/{RESERVATION}", ADMIN),
        "admin_resolve": request("POST", f"/admin/v1/orders/{RESERVATION}/resolve", ADMIN,
                                 json.dumps({"outcome": "paid"})),
        "page_index": request("GET", "/"),
        "page_sale": request("GET", "/sales/FUZZ-1"),
        "page_admin": request("GET", "/admin/"),
        "page_admin_redirect": request("GET", "/admin"),
        "asset": request("GET", "/assets/app.css"),
        "demo_token": request("POST", "/demo/v1/token", [], json.dumps({"user_id": "carol"})),
        "head": request("HEAD", "/api/v1/products/FUZZ-1"),
        "method_not_allowed": request("PUT", "/api/v1/reserve", user(), "{}"),
        "chunked": "POST /api/v1/reserve HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + ALICE +
                   "\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "d\r\n{\"quantity\":1\r\n1\r\n}\r\n0\r\n\r\n",
        "expect_continue": "POST /api/v1/reserve HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                           "Content-Length: 2\r\n\r\n{}",
        "http10_no_host": "GET /healthz HTTP/1.0\r\n\r\n",
        "http11_no_host": "GET /healthz HTTP/1.1\r\n\r\n",
        "two_forwarded": request("GET", "/healthz", ["X-Forwarded-For: 1.2.3.4",
                                                     "X-Forwarded-For: 10.0.0.1"]),
    }
    for name, data in seeds.items():
        write("http_request", name, data)


def request_bodies() -> None:
    bodies = [
        (0, {"sku_id": "FUZZ-1", "quantity": 2, "idempotency_key": "k-1", "queue_pass": PASS}),
        (0, ""),
        (1, {"reservation_id": RESERVATION, "payment_method_id": "pm_card_visa",
             "idempotency_key": "co-1"}),
        (2, SALE),
        (2, {"sku_id": "A", "name": "B", "price_cents": 1, "currency": "USD", "total_stock": 1}),
        (3, {"name": "Renamed", "description": None, "tags": ["a", "b-c"]}),
        (4, {"delta": 25}),
        (5, {"outcome": "failed"}),
        (6, {"user_id": "carol"}),
    ]
    for index, (route, body) in enumerate(bodies):
        text = body if isinstance(body, str) else json.dumps(body)
        write("request_bodies", f"route{route}_{index}", bytes([route]) + text.encode())


def query_strings() -> None:
    targets = [
        "/api/v1/products?q=running+shoes&status=OPEN,SCHEDULED&min_price_cents=100"
        "&max_price_cents=20000&category=shoes&tag=trail&sort=-price&limit=20",
        "/api/v1/products?starts_after=2026-01-01T00:00:00Z&starts_before=2026-12-31T00:00:00Z"
        "&sort=relevance&cursor=abc",
        "/admin/v1/audit?user_id=alice&sku_id=FUZZ-1&from=2026-01-01T00%3A00%3A00Z"
        "&after_id=42&limit=100",
        "/api/v1/orders/x?wait_seconds=30",
        "/x?a=%41%42&b=&c&=d&e=%zz",
    ]
    for index, target in enumerate(targets):
        write("query_strings", f"target{index}", target)


def jwt_seeds() -> None:
    write("jwt", "alice", ALICE)
    write("jwt", "bob_tier", BOB)
    write("jwt", "issuer_audience", jwt({"sub": "dave", "exp": EXP_2030, "iss": "fuzz-issuer",
                                         "aud": ["x", "fuzz-audience"], "nbf": 1_700_000_000,
                                         "iat": 1_700_000_000}))
    write("jwt", "expired", jwt({"sub": "erin", "exp": 1_600_000_000}))
    write("jwt", "alg_none", b64url(b'{"alg":"none"}') + "." + b64url(b'{"sub":"x"}') + ".")
    write("jwt", "other_secret", jwt({"sub": "alice", "exp": EXP_2030}, b"another secret"))


def queue_pass_seeds() -> None:
    write("queue_pass", "admitted", PASS)
    write("queue_pass", "other_user", queue_pass("FUZZ-1", TICKET, "bob", 1_780_000_000_000))
    write("queue_pass", "ticket_parts", f"FUZZ-2\n{TICKET}\nalice")


def header_values() -> None:
    for name, value in {"key": "order-2026-06-01-0001", "request_id": "req_7f3a9c",
                        "bearer": "Bearer " + ALICE, "bearer_spaces": "bearer   tok  ",
                        "uuid": RESERVATION, "space": "a b"}.items():
        write("header_values", name, value)


def forwarded_for() -> None:
    for index, value in enumerate(["203.0.113.7", "203.0.113.7, 10.0.0.2, 192.168.1.1",
                                   "2001:db8::1, ::ffff:198.51.100.4, 2001:db8:0:0:1:0:0:1",
                                   "10.0.0.0/8, fe80::1%eth0, [::1]:80", "garbage, 10.0.0.1"]):
        write("forwarded_for", f"hops{index}", value)


def rfc3339() -> None:
    for index, value in enumerate(["2026-11-24T10:00:00.000Z", "2026-02-28T23:59:60+01:00",
                                   "1970-01-01T00:00:00.123456789-23:59", "9999-12-31 23:59:59z",
                                   "2024-02-29t12:00:00Z"]):
        write("rfc3339", f"time{index}", value)


def traceparent() -> None:
    for index, value in enumerate([
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-extra",
            "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"]):
        write("traceparent", f"header{index}", value)


def flag_lists() -> None:
    values = [
        (0, "bot=10,new=50,normal=100,premium=200"),
        (0, "normal=120:30,premium=1000000:60000000"),
        (1, "10.0.0.0/8,192.168.0.0/16,2001:db8::/32,127.0.0.1"),
        (2, "50ms,100ms,1s,2m"),
        (3, "\nhttps://otel.example:4318/\nhttp/json\napi-key=secret, x-team = shop\nflashsale"
            "\nparentbased_traceidratio\n0.25"),
    ]
    for index, (flag, text) in enumerate(values):
        write("flag_lists", f"flag{flag}_{index}", bytes([flag]) + text.encode())


def redis_reply() -> None:
    for index, value in enumerate([
            "*3\r\n:1\r\n:99\r\n:1500\r\n",
            "+OK\r\n$-1\r\n",
            "-NOSCRIPT No matching script. Please use EVAL.\r\n",
            "$11\r\n500:20:100\r\n",
            "*2\r\n*1\r\n$3\r\nabc\r\n*-1\r\n",
            "500:20:100"]):
        write("redis_reply", f"reply{index}", value)


def audit_record() -> None:
    write("audit_record", "reserve",
          "RESERVE_ATTEMPT\nSUCCESS\nalice\nFUZZ-1\n\n203.0.113.7\n" + "ab" * 32 +
          '\n{"quantity":1,"reservation_id":"' + RESERVATION + '"}\n' + "0123456789abcdef" * 4)
    write("audit_record", "throttled",
          "BOT_DETECTED\nTHROTTLED\nbob\n\nRATE_LIMITED\n10.0.0.1\n\n{\"count\":7,\"tier\":\"bot\"}"
          "\n" + "F" * 64)
    write("audit_record", "numbers", struct.pack("<q", 9) + b"\nSALE_UPDATED\nFAILED")


def main() -> None:
    shutil.rmtree(CORPUS, ignore_errors=True)
    for target in ["http_request", "request_bodies", "query_strings", "jwt", "queue_pass",
                   "header_values", "forwarded_for", "rfc3339", "traceparent", "flag_lists",
                   "redis_reply", "audit_record"]:
        os.makedirs(os.path.join(CORPUS, target))
    http_request()
    request_bodies()
    query_strings()
    jwt_seeds()
    queue_pass_seeds()
    header_values()
    forwarded_for()
    rfc3339()
    traceparent()
    flag_lists()
    redis_reply()
    audit_record()


if __name__ == "__main__":
    main()
