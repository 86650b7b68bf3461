// Goal: the server in the container image works through its published port as a buyer and
// an operator use it: ready, reserve, check out, the order paid, the admin API behind the
// token the container read from its secret file; and after a restart of the container the
// same order is still there (the data directory is on the volume).
//
// Usage: node tests/deploy/smoke.mjs first|after-restart BASE_URL ADMIN_TOKEN_FILE STATE_FILE
// tests/deploy/image_test.sh runs `first`, restarts the container, then `after-restart`.
// The container runs with --demo (FLASHSALE_DEMO=1): sale demo-sku, POST /demo/v1/token.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';

const [phase, base, adminTokenFile, stateFile] = process.argv.slice(2);
assert.ok(['first', 'after-restart'].includes(phase), 'phase: first or after-restart');
const adminToken = readFileSync(adminTokenFile, 'utf8').trim();
let checks = 0;
function ok(name) {
  checks += 1;
  console.log(`ok ${checks} ${name}`);
}

// One request; a bounded time so a hung server fails the test instead of blocking it.
async function call(method, path, { token, body, headers = {} } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15000),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (metrics, pages)
  }
  return { status: response.status, text, json };
}

function expectStatus(reply, status, what) {
  assert.equal(reply.status, status, `${what}: ${reply.status} ${reply.text.slice(0, 300)}`);
}

const health = await call('GET', '/healthz');
expectStatus(health, 200, '/healthz');
const ready = await call('GET', '/readyz');
expectStatus(ready, 200, '/readyz');
assert.equal(ready.json.status, 'ok');
ok('/healthz and /readyz answer 200 through the published port');

const wrongAdmin = await call('GET', '/admin/v1/skus/demo-sku/reconciliation', { token: 'x'.repeat(40) });
expectStatus(wrongAdmin, 401, 'admin API with a wrong token');
ok('the admin API refuses a wrong token');

if (phase === 'first') {
  const signedIn = await call('POST', '/demo/v1/token', { body: { user_id: 'image-smoke' } });
  expectStatus(signedIn, 200, 'demo token');
  const token = signedIn.json.token;

  const reserved = await call('POST', '/api/v1/products/demo-sku/reserve', {
    token, body: { quantity: 1 }, headers: { 'Idempotency-Key': 'image-smoke-reserve' },
  });
  expectStatus(reserved, 201, 'reserve');
  assert.equal(reserved.json.status, 'RESERVED');
  ok('reserve: 201 RESERVED');

  const checkout = await call('POST', '/api/v1/checkout', {
    token,
    body: { reservation_id: reserved.json.reservation_id, payment_method_id: 'pm_card_visa' },
    headers: { 'Idempotency-Key': 'image-smoke-checkout' },
  });
  expectStatus(checkout, 202, 'checkout');
  const orderId = checkout.json.order_id;
  ok('checkout: 202, order created');

  // The server holds the read until the order settles (at most 10 s): no polling.
  const order = await call('GET', `/api/v1/orders/${orderId}?wait_seconds=10`, { token });
  expectStatus(order, 200, 'order');
  assert.equal(order.json.status, 'PAID', order.text);
  ok('the order is PAID (simulated gateway)');

  const metrics = await call('GET', '/metrics');
  expectStatus(metrics, 200, '/metrics');
  assert.match(metrics.text, /^flashsale_sold_count\{sku="demo-sku"\} 1$/m);
  ok('/metrics counts the unit sold');

  writeFileSync(stateFile, JSON.stringify({ orderId, token }));
} else {
  const { orderId, token } = JSON.parse(readFileSync(stateFile, 'utf8'));
  const order = await call('GET', `/admin/v1/orders/${orderId}`, { token: adminToken });
  expectStatus(order, 200, 'admin order read after the restart');
  assert.equal(order.json.status, 'PAID', order.text);
  ok('after the restart the order is still PAID (admin API, token from the secret file)');

  // The demo sale allows one unit per user: the unit bought before the restart still counts.
  const again = await call('POST', '/api/v1/products/demo-sku/reserve', {
    token, body: { quantity: 1 }, headers: { 'Idempotency-Key': 'image-smoke-again' },
  });
  expectStatus(again, 409, 'a second unit for the same buyer');
  ok('the buyer\'s purchase survived the restart (second unit refused, 409)');
}

console.log(`${checks} passed, 0 failed`);
