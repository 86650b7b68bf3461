// The sale page's two live feeds: a sale's availability (Server-Sent Events, polling when the
// node does not offer them) and an order followed until it leaves PENDING (long-polling).
import { api, sleep } from './common.js';

// The fallback's period: the stream's updates come every 250 ms; polling trades freshness for load.
const AVAILABILITY_POLL_MS = 2000;
// Under the server's 30 s idle timeout, within the endpoint's 0-30 s.
const ORDER_WAIT_SECONDS = 25;

// Calls `onUpdate({sku_id, available, status})` on every change. Uses
// GET /api/v1/products/{sku}/events; polls .../availability every 2 s when the stream is refused
// (404 on a node without it, 503 when the node has too many subscribers) or EventSource is
// missing. A dropped stream is reconnected by the browser itself.
export function followAvailability(sku, onUpdate) {
  const path = `/api/v1/products/${encodeURIComponent(sku)}`;
  let polling = false;
  const poll = async () => {
    try {
      const { data } = await api(`${path}/availability`);
      onUpdate(data);
    } catch {
      // A missed poll is retried on the next one.
    }
    setTimeout(poll, AVAILABILITY_POLL_MS);
  };
  const startPolling = () => {
    if (polling) return;
    polling = true;
    poll();
  };
  if (!('EventSource' in window)) {
    startPolling();
    return;
  }
  const source = new EventSource(`${path}/events`);
  const onEvent = (event) => {
    try {
      onUpdate(JSON.parse(event.data));
    } catch {
      // A malformed event is skipped; the next one carries the full state.
    }
  };
  source.addEventListener('availability', onEvent);
  source.addEventListener('status', onEvent);
  source.addEventListener('error', () => {
    // CLOSED: the server answered something other than an event stream; the browser will not
    // retry it, so polling takes over.
    if (source.readyState === EventSource.CLOSED) startPolling();
  });
}

// Long-polls GET /api/v1/orders/{id}?wait_seconds=25 until the order is no longer PENDING and
// returns it, calling `onUpdate(order)` with each answer. A server without long-polling answers
// at once: then the loop pauses 1 s between reads. Network errors, 503 and 429 wait and retry;
// any other refusal is thrown. `token()` is read before each request; null stops the loop
// (the buyer signed out) and returns null.
export async function followOrder(orderId, token, onUpdate) {
  const path = `/api/v1/orders/${encodeURIComponent(orderId)}?wait_seconds=${ORDER_WAIT_SECONDS}`;
  for (;;) {
    if (!token()) return null;
    const started = Date.now();
    try {
      const { data } = await api(path, { token: token() });
      onUpdate(data);
      if (data.status !== 'PENDING') return data;
    } catch (error) {
      if (error.code === 'RATE_LIMITED') await sleep((error.retryAfterSeconds || 1) * 1000);
      else if (error.code === 'NETWORK' || error.status === 503) await sleep(2000);
      else throw error;
    }
    if (Date.now() - started < 1000) await sleep(1000);
  }
}
