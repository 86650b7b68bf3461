// A sale's page: live availability, the countdown to the start, the waiting room, reserve with
// an idempotency key, the hold with release and checkout, and the order followed to the end.
// The SKU comes from the address (/sales/{sku}); one file serves every sale.
import {
  api,
  ApiError,
  messageFor,
  everySecond,
  formatDuration,
  formatPrice,
  formatNumber,
  formatTime,
  statusBadge,
  statusLabel,
  sleep,
} from './common.js';
import { followAvailability, followOrder } from './live.js';
import { setUpSignIn } from './signin.js';

const sku = decodeURIComponent(
  window.location.pathname.replace(/^\/sales\//, '').replace(/\/$/, ''),
);
const $ = (id) => document.getElementById(id);

// Kept per tab and sale, so a reload finds the hold, the order and the place in line again.
const saved = {
  get: (name) => sessionStorage.getItem(`flashsale.${name}.${sku}`),
  set: (name, value) => sessionStorage.setItem(`flashsale.${name}.${sku}`, value),
  clear: (name) => sessionStorage.removeItem(`flashsale.${name}.${sku}`),
};

// Ticket polls when the server suggests no delay (poll_after_ms).
const QUEUE_POLL_MS = 1000;
// Attempts of a reserve, release or checkout after a network error or 503 (1 s, then 2 s apart).
const RETRIES = 3;

let product = null;
let token = null; // the buyer's JWT, kept in step with the sign-in panel
let signIn = null;
let reservation = null;
let rateLimitedUntil = 0;
let reserving = false;
// The Idempotency-Key of the reserve being attempted: kept across retries after a network
// error or 503 so the server makes at most one reservation, dropped once it was decided.
let reserveKey = null;
let checkoutKey = null;
let queueTicket = null;
let queuePass = null;

function say(text, kind = 'info') {
  const box = $('message');
  box.className = `message ${kind}`;
  box.textContent = text;
}

function sayError(error) {
  say(messageFor(error), 'error');
}

// ---- Signed in or out -------------------------------------------------------------------------

function onSignInChange(newToken) {
  token = newToken;
  if (!token) {
    for (const name of ['reservation', 'order', 'ticket']) saved.clear(name);
    reservation = null;
    queueTicket = null;
    queuePass = null;
    showHold();
    $('order').hidden = true;
    $('queue-facts').hidden = true;
    $('join-queue').hidden = false;
  }
  $('purchase').hidden = !token;
  updateActions();
}

// Any answer 401 means the token is no longer good: ask for a new one.
function handleAuthError(error) {
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
    signIn.signOut(messageFor(error));
    return true;
  }
  return false;
}

// ---- Product and live availability ----------------------------------------------------------

function showAvailability({ available, status }) {
  if (!product) return;
  // Only a change is written: live regions announce every write, and polls repeat themselves.
  const shown = $('available').dataset;
  if (shown.value !== String(available)) {
    $('available').textContent = formatNumber(available);
    shown.value = String(available);
  }
  if (shown.status !== status) {
    $('sale-status').replaceChildren(statusBadge(status));
    shown.status = status;
  }
  product.available = available;
  product.status = status;
  updateActions();
  updateStartsCountdown();
}

function showProduct() {
  document.title = `${product.name} — flashsale`;
  $('product-name').textContent = product.name;
  $('product-price').textContent = formatPrice(product.price_cents, product.currency);
  $('product-category').textContent = product.category || '';
  $('product-description').textContent = product.description || '';
  if (product.image_url) {
    $('product-image').src = product.image_url;
    $('product-image').hidden = false;
  }
  const terms = [
    `Limit ${product.per_user_limit} per buyer`,
    `holds last ${formatDuration(product.reservation_ttl_seconds * 1000)}`,
  ];
  if (product.starts_at) terms.push(`starts ${formatTime(product.starts_at)}`);
  if (product.ends_at) terms.push(`ends ${formatTime(product.ends_at)}`);
  $('sale-terms').textContent = terms.join(' · ');
  if (product.per_user_limit > 1) {
    $('quantity-field').hidden = false;
    $('quantity').max = String(product.per_user_limit);
  }
  $('queue').hidden = !product.waiting_room;
  $('sale').hidden = false;
  showAvailability(product);
}

function updateStartsCountdown() {
  const startsAt = product && product.starts_at ? Date.parse(product.starts_at) : 0;
  const left = startsAt - Date.now();
  const show = product && product.status === 'SCHEDULED' && left > 0;
  $('starts-stat').hidden = !show;
  if (show) $('starts-countdown').textContent = formatDuration(left);
}

// ---- Reserve --------------------------------------------------------------------------------

function updateActions() {
  const button = $('reserve');
  const waitLeft = Math.ceil((rateLimitedUntil - Date.now()) / 1000);
  // Sold out stays clickable: held units come back when holds expire or payments fail, and the
  // server, not this page's last update, decides.
  const canTry = product && (product.status === 'OPEN' || product.status === 'SOLD_OUT');
  button.disabled = reserving || !token || !canTry || waitLeft > 0 || Boolean(reservation);
  $('reserve-box').hidden = Boolean(reservation);
  // While rate limited every action waits: another request would only be refused again.
  $('release').disabled = waitLeft > 0;
  $('checkout').disabled = waitLeft > 0;
  $('reserve-hint').textContent =
    product && product.status === 'SOLD_OUT'
      ? 'Sold out right now — units come back when holds expire or payments fail.'
      : '';
  const startsIn =
    product && product.status === 'SCHEDULED' && product.starts_at
      ? Date.parse(product.starts_at) - Date.now()
      : 0;
  if (waitLeft > 0) button.textContent = `Try again in ${waitLeft} s`;
  else if (startsIn > 0) button.textContent = `Opens in ${formatDuration(startsIn)}`;
  else if (reserving) button.textContent = 'Reserving…';
  else if (canTry)
    button.textContent = product.waiting_room && !queuePass ? 'Reserve (join the line)' : 'Reserve';
  else button.textContent = statusLabel(product.status);
}

function newKey() {
  return crypto.randomUUID();
}

// Sends `request` (which gets the attempt's idempotency key), retrying a network error or a
// 503 with the same key. Other refusals are thrown at once.
async function withRetries(request) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await request();
    } catch (error) {
      const retryable =
        error instanceof ApiError && (error.code === 'NETWORK' || error.status === 503);
      if (!retryable || attempt >= RETRIES) throw error;
      say(`${messageFor(error)} — retrying…`, 'info');
      await sleep(1000 * attempt);
    }
  }
}

function startRateLimitWait(error) {
  const seconds = error.retryAfterSeconds || 1;
  rateLimitedUntil = Date.now() + seconds * 1000;
  const stop = everySecond(() => {
    const left = Math.ceil((rateLimitedUntil - Date.now()) / 1000);
    if (left > 0) {
      say(`Too many requests — you can try again in ${left} s`, 'error');
    } else {
      stop();
      say('You can try again now', 'info');
    }
    updateActions();
  });
}

async function reserve() {
  if (reserving) return;
  if (product.waiting_room && !queuePass) {
    if (queueTicket)
      say('You are in line — you reserve automatically when it is your turn', 'info');
    else await joinQueue();
    return;
  }
  reserving = true;
  updateActions();
  reserveKey = reserveKey || newKey();
  const quantity = Math.max(1, Number.parseInt($('quantity').value, 10) || 1);
  const headers = { 'Idempotency-Key': reserveKey };
  if (queuePass) headers['X-Queue-Pass'] = queuePass;
  say('Reserving…', 'info');
  try {
    const { data } = await withRetries(() =>
      api(`/api/v1/products/${encodeURIComponent(sku)}/reserve`, {
        method: 'POST',
        token,
        headers,
        body: { quantity },
      }),
    );
    reserveKey = null;
    queuePass = null;
    saved.set('reservation', data.reservation_id);
    reservation = data;
    showHold();
    say('Reserved — it is yours while the hold lasts. Check out now.', 'ok');
  } catch (error) {
    const retryable =
      error instanceof ApiError && (error.code === 'NETWORK' || error.status === 503);
    if (!retryable) reserveKey = null; // decided: the next click is a new attempt
    if (handleAuthError(error)) return;
    if (error.code === 'RATE_LIMITED') {
      startRateLimitWait(error);
    } else if (error.code === 'QUEUE_PASS_REQUIRED' || error.code === 'QUEUE_PASS_INVALID') {
      queuePass = null;
      sayError(error);
      if (error.code === 'QUEUE_PASS_REQUIRED') await joinQueue();
    } else {
      sayError(error);
    }
  } finally {
    reserving = false;
    updateActions();
  }
}

// ---- The hold: countdown, release, checkout --------------------------------------------------

let stopHoldCountdown = null;

function showHold() {
  if (stopHoldCountdown) stopHoldCountdown();
  stopHoldCountdown = null;
  const held = reservation && reservation.status === 'RESERVED';
  $('hold').hidden = !held;
  updateActions();
  if (!held) return;
  const expiresAt = Date.parse(reservation.expires_at);
  stopHoldCountdown = everySecond(() => {
    const left = expiresAt - Date.now();
    $('hold-countdown').textContent = formatDuration(left);
    if (left <= 0) {
      endHold();
      say(messageFor(new ApiError(409, 'RESERVATION_EXPIRED')), 'error');
    }
  });
}

function endHold() {
  reservation = null;
  saved.clear('reservation');
  showHold();
}

async function release() {
  if (!reservation) return;
  $('release').disabled = true;
  try {
    await withRetries(() =>
      api(`/api/v1/reservations/${encodeURIComponent(reservation.reservation_id)}`, {
        method: 'DELETE',
        token,
      }),
    );
    endHold();
    say('Released — the unit is back on sale', 'info');
  } catch (error) {
    if (handleAuthError(error)) return;
    if (['RESERVATION_EXPIRED', 'RESERVATION_NOT_FOUND'].includes(error.code)) endHold();
    if (error.code === 'RATE_LIMITED') startRateLimitWait(error);
    else sayError(error);
  } finally {
    updateActions();
  }
}

async function checkout() {
  if (!reservation) return;
  $('checkout').disabled = true;
  const paymentMethod = $('card').value;
  checkoutKey = checkoutKey || newKey();
  say('Sending your order…', 'info');
  try {
    const { data } = await withRetries(() =>
      api('/api/v1/checkout', {
        method: 'POST',
        token,
        headers: { 'Idempotency-Key': checkoutKey },
        body: { reservation_id: reservation.reservation_id, payment_method_id: paymentMethod },
      }),
    );
    checkoutKey = null;
    endHold();
    saved.set('order', data.order_id);
    showOrder(data);
    say('Order placed — waiting for the payment', 'info');
    watchOrder(data.order_id);
  } catch (error) {
    const retryable =
      error instanceof ApiError && (error.code === 'NETWORK' || error.status === 503);
    if (!retryable) checkoutKey = null;
    if (handleAuthError(error)) return;
    if (
      ['RESERVATION_EXPIRED', 'RESERVATION_NOT_FOUND', 'RESERVATION_NOT_ACTIVE'].includes(
        error.code,
      )
    )
      endHold();
    if (error.code === 'RATE_LIMITED') startRateLimitWait(error);
    else sayError(error);
  } finally {
    $('checkout').disabled = false;
    updateActions();
  }
}

// ---- The order, followed until it leaves PENDING ----------------------------------------------

const ORDER_NOTES = {
  PENDING: 'Charging your card…',
  PAID: 'Paid — it is yours. A receipt is on its way.',
  FAILED: 'The payment failed and the unit went back on sale. Nothing was charged.',
  NEEDS_ATTENTION:
    'The bank did not answer in time. Our team will settle this order; ' +
    'you will not be charged twice.',
};

const ORDER_OUTCOMES = {
  PAID: 'Payment accepted — thank you!',
  FAILED: 'Payment failed',
  NEEDS_ATTENTION: 'Payment not confirmed yet',
};

function showOrder(order) {
  $('order').hidden = false;
  $('order-id').textContent = order.order_id;
  $('order-amount').textContent = formatPrice(order.amount_cents, order.currency);
  $('order-status').replaceChildren(statusBadge(order.status));
  let note = ORDER_NOTES[order.status] || '';
  if (order.status === 'FAILED' && order.failure_reason)
    note += ` (${order.failure_reason.replace(/_/g, ' ')})`;
  $('order-note').textContent = note;
}

async function watchOrder(orderId) {
  try {
    const order = await followOrder(orderId, () => token, showOrder);
    if (!order) return;
    saved.clear('order');
    say(
      ORDER_OUTCOMES[order.status] || statusLabel(order.status),
      order.status === 'PAID' ? 'ok' : 'error',
    );
  } catch (error) {
    if (handleAuthError(error)) return;
    saved.clear('order');
    sayError(error);
  }
}

// ---- Waiting room ---------------------------------------------------------------------------

function showTicket(ticket) {
  $('queue-facts').hidden = false;
  $('queue-status').replaceChildren(statusBadge(ticket.status));
  $('queue-position').textContent =
    ticket.position != null
      ? formatNumber(ticket.position)
      : ticket.status === 'WAITING'
        ? 'drawn when the sale starts'
        : '–';
  $('queue-wait').textContent =
    ticket.estimated_wait_seconds != null
      ? `about ${formatDuration(ticket.estimated_wait_seconds * 1000)}`
      : '–';
  $('join-queue').hidden = true;
}

async function joinQueue() {
  if (queueTicket) return;
  $('join-queue').disabled = true;
  try {
    const { data } = await api(`/api/v1/products/${encodeURIComponent(sku)}/queue`, {
      method: 'POST',
      token,
    });
    queueTicket = data.ticket;
    saved.set('ticket', queueTicket);
    showTicket(data);
    say(
      'You are in the waiting room. Keep this page open: ' +
        'you reserve automatically when it is your turn.',
      'info',
    );
    followTicket(data);
  } catch (error) {
    if (handleAuthError(error)) return;
    sayError(error);
  } finally {
    $('join-queue').disabled = false;
  }
}

async function followTicket(first) {
  let ticket = first;
  let triedPass = null;
  for (;;) {
    // A pass is tried once: a refused reserve (e.g. sold out) leaves it valid, so retrying it
    // every poll would only repeat the refusal.
    if (ticket.status === 'ADMITTED' && ticket.pass && ticket.pass !== triedPass) {
      triedPass = ticket.pass;
      queuePass = ticket.pass;
      say('It is your turn — reserving…', 'ok');
      await reserve();
      if (reservation) {
        saved.clear('ticket');
        return;
      }
    }
    if (ticket.status === 'USED' || ticket.status === 'CLOSED' || ticket.status === 'EXPIRED') {
      saved.clear('ticket');
      queueTicket = null;
      if (ticket.status === 'CLOSED') say(messageFor(new ApiError(409, 'SALE_CLOSED')), 'error');
      if (ticket.status === 'EXPIRED')
        say('Your turn passed before you reserved. Join the waiting room again.', 'error');
      $('join-queue').hidden = false;
      return;
    }
    if (ticket.status === 'SOLD_OUT')
      say('Sold out for now — you keep your place in case units come back', 'error');
    const delay =
      Number.isInteger(ticket.poll_after_ms) && ticket.poll_after_ms > 0
        ? ticket.poll_after_ms
        : QUEUE_POLL_MS;
    await sleep(delay);
    if (!queueTicket || !token) return;
    try {
      const { data } = await api(
        `/api/v1/products/${encodeURIComponent(sku)}/queue/${encodeURIComponent(queueTicket)}`,
        { token },
      );
      ticket = data;
      showTicket(ticket);
    } catch (error) {
      if (handleAuthError(error)) return;
      if (error.code === 'TICKET_NOT_FOUND') {
        saved.clear('ticket');
        queueTicket = null;
        $('join-queue').hidden = false;
        sayError(error);
        return;
      }
      if (error.code === 'RATE_LIMITED') await sleep((error.retryAfterSeconds || 1) * 1000);
    }
  }
}

// ---- Start ----------------------------------------------------------------------------------

async function restore() {
  const reservationId = saved.get('reservation');
  if (reservationId) {
    try {
      const { data } = await api(`/api/v1/reservations/${encodeURIComponent(reservationId)}`, {
        token,
      });
      if (data.status === 'RESERVED') {
        reservation = data;
        showHold();
      } else {
        saved.clear('reservation');
      }
    } catch {
      saved.clear('reservation');
    }
  }
  const orderId = saved.get('order');
  if (orderId) watchOrder(orderId);
  const ticket = saved.get('ticket');
  if (ticket && product.waiting_room) {
    queueTicket = ticket;
    followTicket({ status: 'WAITING' });
  }
}

async function start() {
  if (!sku) {
    $('page-error').textContent = messageFor(new ApiError(404, 'SKU_NOT_FOUND'));
    return;
  }
  try {
    const { data } = await api(`/api/v1/products/${encodeURIComponent(sku)}`);
    product = data;
  } catch (error) {
    $('page-error').textContent = messageFor(error);
    document.title = 'Sale not found — flashsale';
    return;
  }
  showProduct();
  signIn = setUpSignIn({ onChange: onSignInChange, say });
  token = signIn.currentToken();
  $('purchase').hidden = !token;
  followAvailability(sku, showAvailability);
  everySecond(() => {
    const wasScheduled = product.status === 'SCHEDULED';
    updateStartsCountdown();
    if (wasScheduled) updateActions();
    if (wasScheduled && product.starts_at && Date.parse(product.starts_at) <= Date.now()) {
      // The start has come: read the status now rather than waiting for the next update.
      api(`/api/v1/products/${encodeURIComponent(sku)}/availability`)
        .then(({ data }) => showAvailability(data))
        .catch(() => {});
    }
  });
  $('reserve').addEventListener('click', reserve);
  $('release').addEventListener('click', release);
  $('checkout').addEventListener('click', checkout);
  $('join-queue').addEventListener('click', joinQueue);
  if (token) await restore();
}

start();
