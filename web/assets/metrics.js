// Reads the Prometheus text exposition of GET /metrics and turns two successive scrapes into the
// console's live figures: rates from counter deltas, a P95 from histogram bucket deltas.

// Parses the text format into [{name, labels, value}]. Comments and blank lines are skipped.
export function parsePrometheus(text) {
  const samples = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split('\n')) {
    if (!raw || raw.startsWith('#')) continue;
    const match = line.exec(raw);
    if (!match) continue;
    const labels = {};
    for (const [, key, value] of (match[2] || '').matchAll(label)) {
      labels[key] = value.replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

// The sum of every sample of `name` whose labels pass `keep`.
export function sum(samples, name, keep = () => true) {
  let total = 0;
  for (const sample of samples) {
    if (sample.name === name && keep(sample.labels) && Number.isFinite(sample.value))
      total += sample.value;
  }
  return total;
}

// Cumulative bucket counts of a histogram by upper bound, summed over label sets.
export function buckets(samples, histogram) {
  const byBound = new Map();
  for (const sample of samples) {
    if (sample.name !== `${histogram}_bucket`) continue;
    const bound = sample.labels.le === '+Inf' ? Infinity : Number(sample.labels.le);
    byBound.set(bound, (byBound.get(bound) || 0) + sample.value);
  }
  return [...byBound.entries()].sort((a, b) => a[0] - b[0]);
}

// The q-quantile of the observations made between two scrapes, interpolated linearly inside the
// bucket it falls in (as Prometheus' histogram_quantile does). null when nothing was observed.
export function quantileBetween(before, after, q) {
  const previous = new Map(before);
  const deltas = after.map(([bound, count]) => [bound, count - (previous.get(bound) || 0)]);
  const total = deltas.length ? deltas[deltas.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of deltas) {
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket > 0
        ? lowerBound + (bound - lowerBound) * ((rank - lowerCount) / inBucket)
        : bound;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

const RESERVE_ROUTES = new Set(['/api/v1/products/{sku}/reserve', '/api/v1/reserve']);
// The rate-limited user routes: the denominator of the throttled and bot shares.
const USER_ROUTE = /reserve|reservations|checkout|orders|queue/;

// What the console charts, from one scrape: counters are turned into rates by `figuresBetween`.
export function snapshot(samples, at) {
  return {
    at,
    reserves: sum(samples, 'flashsale_requests_total', (l) => RESERVE_ROUTES.has(l.route)),
    userRequests: sum(
      samples,
      'flashsale_requests_total',
      (l) => USER_ROUTE.test(l.route || '') && !l.route.startsWith('/admin'),
    ),
    throttled: sum(samples, 'flashsale_throttled_total'),
    throttledBots: sum(samples, 'flashsale_throttled_total', (l) => l.tier === 'bot'),
    available: sum(samples, 'flashsale_available'),
    latency: buckets(samples, 'flashsale_reservation_latency_seconds'),
  };
}

// Reserve rate (per second), reserve P95 (ms), available units, throttled share and bot share
// (percent of user-route requests) between two snapshots.
export function figuresBetween(before, after) {
  const seconds = Math.max(0.001, (after.at - before.at) / 1000);
  const requests = after.userRequests - before.userRequests;
  const share = (part) => (requests > 0 ? Math.min(100, (100 * part) / requests) : 0);
  const p95 = quantileBetween(before.latency, after.latency, 0.95);
  return {
    reserveRate: Math.max(0, (after.reserves - before.reserves) / seconds),
    reserveP95Ms: p95 === null ? null : p95 * 1000,
    available: after.available,
    throttledShare: share(after.throttled - before.throttled),
    botShare: share(after.throttledBots - before.throttledBots),
  };
}
