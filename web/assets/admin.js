// The operator console: sales with live counters and their lifecycle (create, open, close,
// restock), live charts from /metrics, orders needing attention, reconciliation, the audit
// chain and disputes. The admin token is asked once and kept in this tab's sessionStorage.
import {
  api,
  ApiError,
  messageFor,
  tokens,
  el,
  formatNumber,
  formatPrice,
  formatTime,
  statusBadge,
} from './common.js';
import { parsePrometheus, snapshot, figuresBetween } from './metrics.js';
import { LineChart } from './charts.js';

const $ = (id) => document.getElementById(id);
// Counters are read from published snapshots (cheap), so every 1.5 s keeps them live.
const SALES_POLL_MS = 1500;
// One scrape per chart point: 2 s gives a readable rate over 60 points (two minutes).
const METRICS_POLL_MS = 2000;
const READY_POLL_MS = 2000;
// Orders needing attention appear after minutes of payment retries: no hurry.
const ORDERS_POLL_MS = 5000;
// Sales listed at most: each is read every SALES_POLL_MS.
const MAX_SALES = 100;

let adminToken = null;
const timers = [];
// Sales shown, by sku_id: {row, cells}. Rows are updated in place so a focused control or a
// typed stock change survives the refresh.
const saleRows = new Map();

function say(text, kind = 'info') {
  const box = $('console-message');
  box.className = `message ${kind}`;
  box.textContent = text;
}

function adminApi(path, options = {}) {
  return api(path, { ...options, token: adminToken });
}

// A 401 on any console call means the token is wrong or was rotated: ask again.
function failed(error) {
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
    signOut('The admin token was refused — sign in again');
    return;
  }
  say(messageFor(error), 'error');
}

// ---- Sign-in --------------------------------------------------------------------------------

function signOut(reason) {
  tokens.clearAdmin();
  adminToken = null;
  timers.splice(0).forEach(clearInterval);
  $('console').hidden = true;
  $('admin-signout').hidden = true;
  $('admin-signin').hidden = false;
  $('signin-message').textContent = reason || '';
  $('admin-token').focus();
}

// Checks the token with one admin read. A token kept from before is only dropped when the node
// refuses it (401): a node that is down or not ready says nothing about the token.
async function signIn(candidate, { kept = false } = {}) {
  try {
    await api('/admin/v1/orders?status=NEEDS_ATTENTION', { token: candidate });
  } catch (error) {
    const refused = error.code === 'UNAUTHENTICATED';
    if (refused || !kept) {
      $('signin-message').textContent = refused
        ? 'That admin token was refused'
        : messageFor(error);
      return false;
    }
  }
  adminToken = candidate;
  tokens.setAdmin(candidate);
  $('admin-signin').hidden = true;
  $('admin-signout').hidden = false;
  $('console').hidden = false;
  startConsole();
  return true;
}

// ---- Node readiness -------------------------------------------------------------------------

async function checkReady() {
  const banner = $('degraded');
  let reason = null;
  try {
    const { data } = await api('/readyz');
    if (data && data.status === 'degraded') {
      reason =
        data.redis === 'down'
          ? 'Degraded: Redis is down — the node serves from local state'
          : 'Degraded';
    }
  } catch (error) {
    reason =
      error.code === 'NETWORK'
        ? 'The node cannot be reached'
        : `Node not ready: ${error.message || 'the engine failed or the store refuses writes'}`;
  }
  // Written only when it changes: the banner is an alert, read out at every write.
  if (banner.textContent !== (reason || '')) banner.textContent = reason || '';
  banner.hidden = !reason;
  const health = reason ? 'Node degraded' : 'Node ready';
  if ($('node-health').textContent !== health) $('node-health').textContent = health;
}

// ---- Sales ----------------------------------------------------------------------------------

async function listSkus() {
  const skus = [];
  let cursor = null;
  do {
    const params = new URLSearchParams({ status: 'SCHEDULED,OPEN,SOLD_OUT,CLOSED', limit: '100' });
    if (cursor) params.set('cursor', cursor);
    const { data } = await api(`/api/v1/products?${params}`);
    for (const item of data.items) skus.push(item.sku_id);
    cursor = data.next_cursor;
  } while (cursor && skus.length < MAX_SALES);
  return skus;
}

function saleAction(label, sku, className, handler) {
  const button = el(
    'button',
    { type: 'button', class: `small ${className}`, 'aria-label': `${label} ${sku}` },
    label,
  );
  button.addEventListener('click', () => handler(button));
  return button;
}

function createRow(sku) {
  const cells = {
    name: el('td', {}),
    status: el('td', {}),
    stock: el('td', { class: 'num' }),
    available: el('td', { class: 'num' }),
    reserved: el('td', { class: 'num' }),
    sold: el('td', { class: 'num' }),
  };
  const delta = el('input', {
    type: 'number',
    step: '1',
    value: '10',
    class: 'delta',
    'aria-label': `Stock change for ${sku}`,
  });
  const actions = el(
    'td',
    {},
    el(
      'div',
      { class: 'actions' },
      saleAction('Open', sku, 'secondary', () => lifecycle(sku, 'open')),
      saleAction('Close', sku, 'danger', () => lifecycle(sku, 'close')),
      delta,
      saleAction('Adjust stock', sku, 'secondary', () => adjustStock(sku, delta)),
      saleAction('Reconcile', sku, 'secondary', () => reconcile(sku)),
    ),
  );
  const row = el(
    'tr',
    { dataset: { sku } },
    cells.name,
    cells.status,
    cells.stock,
    cells.available,
    cells.reserved,
    cells.sold,
    actions,
  );
  $('sales-body').append(row);
  $('recon-sku').append(el('option', { value: sku }, sku));
  const entry = { row, cells };
  saleRows.set(sku, entry);
  return entry;
}

function showSale(sale) {
  const { cells } = saleRows.get(sale.sku_id) || createRow(sale.sku_id);
  cells.name.replaceChildren(
    el('a', { href: `/sales/${encodeURIComponent(sale.sku_id)}` }, sale.name),
    el('div', { class: 'muted mono' }, sale.sku_id),
    el(
      'div',
      { class: 'muted' },
      formatPrice(sale.price_cents, sale.currency),
      sale.waiting_room ? ' · waiting room' : '',
      sale.starts_at ? ` · starts ${formatTime(sale.starts_at)}` : '',
    ),
  );
  cells.status.replaceChildren(statusBadge(sale.status));
  cells.stock.textContent = formatNumber(sale.total_stock);
  cells.available.textContent = formatNumber(sale.available);
  cells.reserved.textContent = formatNumber(sale.reserved);
  cells.sold.textContent = formatNumber(sale.sold);
}

let salesInFlight = false;
// Bumped by every change the operator makes: a refresh that started before it carries older
// counters than the change's own answer, so it is not shown.
let changes = 0;

async function refreshSales() {
  // A slow node must not pile up refreshes.
  if (salesInFlight) return;
  salesInFlight = true;
  const changesAtStart = changes;
  try {
    const skus = await listSkus();
    for (const sku of saleRows.keys()) if (!skus.includes(sku)) skus.push(sku);
    const sales = await Promise.all(
      skus.map((sku) =>
        adminApi(`/admin/v1/skus/${encodeURIComponent(sku)}`)
          .then((r) => r.data)
          .catch((error) => {
            if (error.code === 'UNAUTHENTICATED') throw error;
            return null;
          }),
      ),
    );
    if (changes !== changesAtStart) return;
    for (const sale of sales) if (sale) showSale(sale);
    $('sales-empty').hidden = saleRows.size > 0;
  } catch (error) {
    failed(error);
  } finally {
    salesInFlight = false;
  }
}

async function lifecycle(sku, action) {
  try {
    const { data } = await adminApi(`/admin/v1/skus/${encodeURIComponent(sku)}/${action}`, {
      method: 'POST',
    });
    changes += 1;
    showSale(data);
    say(`${sku} is ${data.status.replace(/_/g, ' ').toLowerCase()}`, 'ok');
  } catch (error) {
    failed(error);
  }
}

async function adjustStock(sku, input) {
  const delta = Number.parseInt(input.value, 10);
  if (!Number.isInteger(delta) || delta === 0) {
    say('Enter a whole number of units to add (or a negative number to remove)', 'error');
    input.focus();
    return;
  }
  try {
    const { data } = await adminApi(`/admin/v1/skus/${encodeURIComponent(sku)}/stock`, {
      method: 'POST',
      body: { delta },
    });
    changes += 1;
    showSale(data);
    say(
      `${sku}: stock ${delta > 0 ? '+' : ''}${delta}, now ${formatNumber(data.total_stock)} units`,
      'ok',
    );
  } catch (error) {
    failed(error);
  }
}

function isoFromLocal(value) {
  return value ? new Date(value).toISOString() : null;
}

async function createSale(event) {
  event.preventDefault();
  const body = {
    sku_id: $('new-sku').value.trim(),
    name: $('new-name').value.trim(),
    price_cents: Math.round(Number($('new-price').value) * 100),
    currency: $('new-currency').value.trim().toUpperCase(),
    total_stock: Number.parseInt($('new-stock').value, 10),
    per_user_limit: Number.parseInt($('new-limit').value, 10) || 1,
    reservation_ttl_seconds: Number.parseInt($('new-ttl').value, 10) || 120,
    starts_at: isoFromLocal($('new-starts').value),
    ends_at: isoFromLocal($('new-ends').value),
    waiting_room: $('new-waiting-room').checked,
  };
  const optional = {
    category: $('new-category').value.trim(),
    description: $('new-description').value.trim(),
    image_url: $('new-image').value.trim(),
  };
  for (const [name, value] of Object.entries(optional)) if (value) body[name] = value;
  const tags = $('new-tags')
    .value.split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  if (tags.length) body.tags = tags;
  $('create-sale').disabled = true;
  try {
    const { data } = await adminApi('/admin/v1/skus', { method: 'POST', body });
    changes += 1;
    showSale({ available: data.total_stock, reserved: 0, sold: 0, ...data });
    $('sales-empty').hidden = true;
    say(`Sale ${data.sku_id} created (${data.status.toLowerCase()})`, 'ok');
    $('create-form').reset();
  } catch (error) {
    failed(error);
  } finally {
    $('create-sale').disabled = false;
  }
}

// ---- Reconciliation and audit -----------------------------------------------------------------

function facts(pairs) {
  return el(
    'dl',
    { class: 'facts' },
    pairs.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]),
  );
}

async function reconcile(sku) {
  $('recon-sku').value = sku;
  const box = $('recon-result');
  box.replaceChildren(el('p', { class: 'muted' }, `Reconciling ${sku}…`));
  try {
    const { data } = await adminApi(`/admin/v1/skus/${encodeURIComponent(sku)}/reconciliation`);
    const counters = data.counters || {};
    const recounted = data.recounted || {};
    box.replaceChildren(
      el(
        'p',
        { class: `message ${data.consistent ? 'ok' : 'error'}`, id: 'recon-verdict' },
        data.consistent ? `${sku}: the books balance` : `${sku}: the books do NOT balance`,
      ),
      facts([
        ['Total stock', formatNumber(data.total_stock)],
        [
          'Held (counter / rows)',
          `${formatNumber(counters.held)} / ${formatNumber(recounted.held)}`,
        ],
        [
          'Sold (counter / rows)',
          `${formatNumber(counters.sold)} / ${formatNumber(recounted.sold)}`,
        ],
        ['Available', formatNumber(counters.available)],
        [
          'Paid units',
          data.orders && data.orders.checked ? formatNumber(data.orders.paid_units) : 'not checked',
        ],
        ['Oversold units', formatNumber(data.oversell)],
        [
          'Audit chain',
          data.audit && data.audit.valid
            ? `valid (${formatNumber(data.audit.events)} events)`
            : 'BROKEN',
        ],
      ]),
      data.mismatches && data.mismatches.length
        ? el(
            'ul',
            {},
            data.mismatches.map((m) => el('li', {}, m)),
          )
        : '',
    );
  } catch (error) {
    box.replaceChildren();
    failed(error);
  }
}

async function verifyAudit() {
  const out = $('audit-result');
  out.textContent = 'Verifying…';
  try {
    const { data } = await adminApi('/admin/v1/audit/verify');
    out.className = `message ${data.valid ? 'ok' : 'error'}`;
    const head = data.head ? `, head #${data.head.event_id}` : '';
    out.textContent = data.valid
      ? `The chain is intact: ${formatNumber(data.events)} events${head}`
      : `The chain is broken at event #${data.broken_event_id}: ${data.reason || 'hash mismatch'}`;
  } catch (error) {
    out.textContent = '';
    failed(error);
  }
}

let disputeQuery = null;

async function searchDisputes(afterId = 0) {
  const params = new URLSearchParams({ user_id: disputeQuery.user, limit: '50' });
  if (disputeQuery.sku) params.set('sku_id', disputeQuery.sku);
  if (afterId) params.set('after_id', String(afterId));
  const box = $('dispute-result');
  try {
    const { data } = await adminApi(`/admin/v1/audit?${params}`);
    const events = data.events || [];
    let body = box.querySelector('tbody');
    if (!afterId || !body) {
      body = el('tbody');
      box.replaceChildren(
        el(
          'div',
          { class: 'table-wrap' },
          el(
            'table',
            {},
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                ['#', 'When', 'Event', 'Sale', 'Outcome', 'Reason'].map((h) =>
                  el('th', { scope: 'col' }, h),
                ),
              ),
            ),
            body,
          ),
        ),
      );
    }
    box.querySelector('.more')?.remove();
    for (const e of events) {
      body.append(
        el(
          'tr',
          {},
          el('td', { class: 'num' }, e.event_id),
          el(
            'td',
            { class: 'when' },
            new Date(e.occurred_at).toLocaleString(undefined, {
              dateStyle: 'short',
              timeStyle: 'medium',
            }),
          ),
          el('td', {}, e.event_type),
          el('td', {}, e.sku_id || ''),
          el('td', {}, statusBadge(e.outcome)),
          el('td', {}, e.failure_reason || ''),
        ),
      );
    }
    if (!afterId && events.length === 0)
      box.replaceChildren(el('p', { class: 'muted' }, 'No events for this buyer.'));
    if (data.next_after_id) {
      const more = el('button', { type: 'button', class: 'secondary small more' }, 'More events');
      more.addEventListener('click', () => searchDisputes(data.next_after_id));
      box.append(more);
    }
  } catch (error) {
    failed(error);
  }
}

// ---- Orders ---------------------------------------------------------------------------------

async function refreshOrders() {
  const status = $('orders-status').value;
  try {
    const { data } = await adminApi(`/admin/v1/orders?status=${encodeURIComponent(status)}`);
    const rows = data.orders.map((order) => {
      const resolve = el('td', {});
      if (order.status === 'NEEDS_ATTENTION') {
        for (const [outcome, label] of [
          ['paid', 'Mark paid'],
          ['failed', 'Mark failed'],
        ]) {
          const button = el(
            'button',
            {
              type: 'button',
              class: `small ${outcome === 'paid' ? 'secondary' : 'danger'}`,
              'aria-label': `${label}: order ${order.order_id}`,
            },
            label,
          );
          button.addEventListener('click', () => resolveOrder(order.order_id, outcome));
          resolve.append(button, ' ');
        }
      }
      return el(
        'tr',
        {},
        el('td', { class: 'mono' }, order.order_id),
        el('td', {}, order.sku_id),
        el('td', {}, order.user_id || ''),
        el('td', { class: 'num' }, formatPrice(order.amount_cents, order.currency)),
        el('td', { class: 'num' }, order.attempts ?? ''),
        el('td', {}, statusBadge(order.status)),
        el('td', {}, order.failure_reason || ''),
        resolve,
      );
    });
    $('orders-body').replaceChildren(...rows);
    $('orders-empty').hidden = rows.length > 0;
  } catch (error) {
    failed(error);
  }
}

async function resolveOrder(orderId, outcome) {
  try {
    await adminApi(`/admin/v1/orders/${encodeURIComponent(orderId)}/resolve`, {
      method: 'POST',
      body: { outcome },
    });
    say(`Order ${orderId} marked ${outcome}`, 'ok');
  } catch (error) {
    failed(error);
  }
  refreshOrders();
}

// ---- Live charts ----------------------------------------------------------------------------

function setUpCharts() {
  const box = $('charts');
  box.replaceChildren();
  const fixed = (digits, unit) => (v) => `${v.toFixed(digits)}${unit}`;
  return {
    reserveRate: new LineChart(box, {
      id: 'chart-reserve-rate',
      title: 'Reserves per second',
      format: fixed(1, '/s'),
    }),
    reserveP95Ms: new LineChart(box, {
      id: 'chart-reserve-p95',
      title: 'Reserve P95',
      format: fixed(1, ' ms'),
    }),
    available: new LineChart(box, {
      id: 'chart-available',
      title: 'Units available (all sales)',
      format: (v) => formatNumber(v),
    }),
    throttledShare: new LineChart(box, {
      id: 'chart-throttled',
      title: 'Throttled requests',
      format: fixed(1, ' %'),
    }),
    botShare: new LineChart(box, {
      id: 'chart-bots',
      title: 'Refused as bots',
      format: fixed(1, ' %'),
    }),
  };
}

function followMetrics() {
  const charts = setUpCharts();
  let previous = null;
  const scrape = async () => {
    try {
      const { data } = await api('/metrics', { headers: { Accept: 'text/plain' } });
      const current = snapshot(parsePrometheus(String(data)), Date.now());
      if (previous) {
        const figures = figuresBetween(previous, current);
        for (const [name, chart] of Object.entries(charts)) chart.push(figures[name]);
      }
      previous = current;
    } catch {
      // A missed scrape leaves a longer interval for the next delta.
    }
  };
  scrape();
  timers.push(setInterval(scrape, METRICS_POLL_MS));
}

// ---- Start ----------------------------------------------------------------------------------

function startConsole() {
  refreshSales();
  refreshOrders();
  followMetrics();
  timers.push(setInterval(refreshSales, SALES_POLL_MS));
  timers.push(setInterval(refreshOrders, ORDERS_POLL_MS));
}

$('admin-signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const candidate = $('admin-token').value.trim();
  if (candidate && (await signIn(candidate))) $('admin-token').value = '';
});
$('admin-signout').addEventListener('click', () => signOut());
$('create-form').addEventListener('submit', createSale);
$('recon-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if ($('recon-sku').value) reconcile($('recon-sku').value);
});
$('verify-audit').addEventListener('click', verifyAudit);
$('dispute-form').addEventListener('submit', (event) => {
  event.preventDefault();
  disputeQuery = { user: $('dispute-user').value.trim(), sku: $('dispute-sku').value.trim() };
  searchDisputes();
});
$('orders-status').addEventListener('change', refreshOrders);

checkReady();
setInterval(checkReady, READY_POLL_MS);
const stored = tokens.admin();
if (stored) {
  signIn(stored, { kept: true }).then((ok) => {
    if (!ok) signOut($('signin-message').textContent);
  });
} else {
  signOut();
}
