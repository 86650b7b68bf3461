// Goal: the pure parts of the pages, without a browser: the console's reading of the Prometheus
// text (labels, counters, histogram buckets), the P95 of the observations between two scrapes
// and the figures charted from them; countdown formatting and the message of every error code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parsePrometheus,
  sum,
  buckets,
  quantileBetween,
  snapshot,
  figuresBetween,
} from '../../web/assets/metrics.js';
import { ApiError, formatDuration, messageFor } from '../../web/assets/common.js';

const SCRAPE = `# HELP flashsale_requests_total HTTP responses by route template and status code.
# TYPE flashsale_requests_total counter
flashsale_requests_total{route="/api/v1/products/{sku}/reserve",code="201"} 10
flashsale_requests_total{route="/api/v1/products/{sku}/reserve",code="429"} 5
flashsale_requests_total{route="/api/v1/orders/{id}",code="200"} 5
flashsale_requests_total{route="/metrics",code="200"} 100
flashsale_throttled_total{reason="user_limit",tier="normal"} 3
flashsale_throttled_total{reason="ip_limit",tier="bot"} 2
flashsale_available{sku="a"} 7
flashsale_available{sku="b \\"quoted\\""} 3
flashsale_reservation_latency_seconds_bucket{le="0.001"} 0
flashsale_reservation_latency_seconds_bucket{le="0.01"} 90
flashsale_reservation_latency_seconds_bucket{le="0.1"} 100
flashsale_reservation_latency_seconds_bucket{le="+Inf"} 100
`;

test('parses names, labels (with escaped quotes) and values, skipping comments', () => {
  const samples = parsePrometheus(SCRAPE);
  assert.equal(samples.length, 12);
  assert.deepEqual(samples[0], {
    name: 'flashsale_requests_total',
    labels: { route: '/api/v1/products/{sku}/reserve', code: '201' },
    value: 10,
  });
  assert.equal(samples[7].labels.sku, 'b "quoted"');
  assert.equal(sum(samples, 'flashsale_available'), 10);
  assert.equal(
    sum(samples, 'flashsale_throttled_total', (labels) => labels.tier === 'bot'),
    2,
  );
});

test('histogram buckets are sorted by bound, +Inf last', () => {
  const bounds = buckets(parsePrometheus(SCRAPE), 'flashsale_reservation_latency_seconds');
  assert.deepEqual(bounds, [
    [0.001, 0],
    [0.01, 90],
    [0.1, 100],
    [Infinity, 100],
  ]);
});

test('the quantile of the observations between two scrapes, interpolated in its bucket', () => {
  const before = [
    [0.01, 0],
    [0.1, 0],
    [Infinity, 0],
  ];
  // 100 observations: 90 under 10 ms, 10 between 10 and 100 ms.
  const after = [
    [0.01, 90],
    [0.1, 100],
    [Infinity, 100],
  ];
  assert.equal(quantileBetween(before, after, 0.5), (0.01 * 50) / 90);
  assert.ok(Math.abs(quantileBetween(before, after, 0.95) - 0.055) < 1e-12);
  // Nothing observed in between: no quantile.
  assert.equal(quantileBetween(after, after, 0.95), null);
  // Everything beyond the last finite bound: that bound, the most a histogram can say.
  assert.equal(
    quantileBetween(
      [],
      [
        [0.1, 0],
        [Infinity, 4],
      ],
      0.95,
    ),
    0.1,
  );
});

test('figures between two snapshots: rates per second and shares of user-route requests', () => {
  const first = snapshot(parsePrometheus(SCRAPE), 0);
  const later = SCRAPE.replace('code="201"} 10', 'code="201"} 30')
    .replace('tier="bot"} 2', 'tier="bot"} 7')
    .replace('le="0.01"} 90', 'le="0.01"} 110')
    .replace('le="0.1"} 100', 'le="0.1"} 120')
    .replace('le="+Inf"} 100', 'le="+Inf"} 120');
  const second = snapshot(parsePrometheus(later), 2000);
  const figures = figuresBetween(first, second);
  assert.equal(figures.reserveRate, 10); // 20 more reserves in 2 s
  assert.equal(figures.available, 10);
  // 20 more user-route requests, 5 more throttled, all of them bots.
  assert.equal(figures.throttledShare, 25);
  assert.equal(figures.botShare, 25);
  // All 20 new observations fell in the 1-10 ms bucket.
  assert.ok(figures.reserveP95Ms > 1 && figures.reserveP95Ms <= 10);
});

test('countdowns read as m:ss, h:mm:ss or days', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(-5000), '0:00');
  assert.equal(formatDuration(1), '0:01'); // a started second still counts
  assert.equal(formatDuration(65_000), '1:05');
  assert.equal(formatDuration(3_600_000), '1:00:00');
  assert.equal(formatDuration(90_061_000), '1d 01:01:01');
});

test('every error code of the API has its own sentence', () => {
  const codes = [
    'SOLD_OUT',
    'LIMIT_EXCEEDED',
    'SALE_NOT_OPEN',
    'SALE_CLOSED',
    'SKU_NOT_FOUND',
    'SKU_EXISTS',
    'INVALID_REQUEST',
    'UNAUTHENTICATED',
    'IDEMPOTENCY_KEY_REUSED',
    'RESERVATION_NOT_FOUND',
    'RESERVATION_EXPIRED',
    'RESERVATION_NOT_ACTIVE',
    'UNAVAILABLE',
    'PAYLOAD_TOO_LARGE',
    'NOT_FOUND',
    'METHOD_NOT_ALLOWED',
    'RATE_LIMITED',
    'STOCK_BELOW_COMMITTED',
    'ORDER_NOT_FOUND',
    'ORDER_NOT_RESOLVABLE',
    'QUEUE_PASS_REQUIRED',
    'QUEUE_PASS_INVALID',
    'WAITING_ROOM_DISABLED',
    'QUEUE_NOT_OPEN',
    'WAITING_ROOM_FULL',
    'TICKET_NOT_FOUND',
  ];
  const sentences = new Set();
  for (const code of codes) {
    const text = messageFor(new ApiError(409, code, 'server text'));
    assert.ok(!text.includes(code) && !text.includes('server text'), `${code}: ${text}`);
    sentences.add(text);
  }
  assert.equal(sentences.size, codes.length);
  assert.equal(messageFor(new ApiError(409, 'SOLD_OUT', 'x')), 'Sold out — every unit is taken');
  // An unknown code still says something, with the code for support.
  assert.equal(
    messageFor(new ApiError(418, 'TEAPOT', 'short and stout')),
    'short and stout (TEAPOT)',
  );
});
