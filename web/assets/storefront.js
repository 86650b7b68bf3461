// The storefront: open and upcoming sales from GET /api/v1/products with search, status and
// category filters, paged by the server's cursor. The visible page refreshes every few seconds
// so units and statuses stay current; countdowns tick every second.
import {
  api,
  messageFor,
  el,
  everySecond,
  formatDuration,
  formatPrice,
  formatNumber,
  formatTime,
  statusBadge,
  tokens,
  jwtClaims,
} from './common.js';

// Four rows of three cards on a desktop.
const PAGE_SIZE = 12;
// Units left change fast during a sale; the list answer is cached 1 s by the server anyway.
const REFRESH_MS = 5000;

const form = document.getElementById('filters');
const list = document.getElementById('sales');
const empty = document.getElementById('empty');
const errorBox = document.getElementById('list-error');
const listStatus = document.getElementById('list-status');
const prevButton = document.getElementById('prev-page');
const nextButton = document.getElementById('next-page');
const categories = document.getElementById('categories');

// Cursors of the pages before the current one, so "Previous page" can go back.
let cursorStack = [];
let currentCursor = null;
let nextCursor = null;
let refreshTimer = null;
let lastRendered = null;
const knownCategories = new Set();

// The filters of the results shown, taken when the form is submitted: a cursor only makes sense
// with the query that produced it, whatever is typed in the form since.
let filters = new URLSearchParams();

function readFilters() {
  const params = new URLSearchParams();
  const q = form.q.value.trim();
  if (q) params.set('q', q);
  params.set('status', form.status.value);
  const category = form.category.value.trim();
  if (category) params.set('category', category);
  params.set('limit', String(PAGE_SIZE));
  return params;
}

function query() {
  const params = new URLSearchParams(filters);
  if (currentCursor) params.set('cursor', currentCursor);
  return params;
}

function countdownTo(iso) {
  const target = Date.parse(iso);
  const span = el('span', { class: 'countdown' });
  const stop = everySecond(() => {
    if (!span.isConnected && span.dataset.mounted) {
      stop();
      return;
    }
    span.dataset.mounted = '1';
    const left = target - Date.now();
    span.textContent = left > 0 ? `starts in ${formatDuration(left)}` : 'starting now';
  });
  return span;
}

function card(product) {
  const href = `/sales/${encodeURIComponent(product.sku_id)}`;
  const children = [];
  if (product.image_url) {
    children.push(el('img', { class: 'thumb', src: product.image_url, alt: '', loading: 'lazy' }));
  } else {
    // No picture: the name's first letter on the accent colour keeps the cards even.
    children.push(
      el('div', { class: 'thumb thumb-letter', 'aria-hidden': 'true' }, product.name.charAt(0)),
    );
  }
  children.push(el('h3', {}, el('a', { href }, product.name)));
  if (product.category) children.push(el('p', { class: 'muted' }, product.category));
  children.push(el('p', { class: 'price' }, formatPrice(product.price_cents, product.currency)));
  const meta = el('p', { class: 'meta' }, statusBadge(product.status));
  if (product.status === 'OPEN' || product.status === 'SOLD_OUT') {
    meta.append(
      el(
        'span',
        {},
        `${formatNumber(product.available)} of ${formatNumber(product.total_stock)} left`,
      ),
    );
  }
  if (product.status === 'SCHEDULED' && product.starts_at) {
    meta.append(
      el('span', { title: formatTime(product.starts_at) }, countdownTo(product.starts_at)),
    );
    meta.append(el('span', {}, `${formatNumber(product.available)} units`));
  }
  if (product.waiting_room) meta.append(el('span', {}, 'Waiting room'));
  children.push(meta);
  if (product.total_stock > 0 && product.status !== 'SCHEDULED') {
    // How much is left, as a bar (its width set through the CSSOM, which the CSP allows).
    const fill = el('span', { class: 'stock-fill' });
    fill.style.width = `${Math.round((100 * product.available) / product.total_stock)}%`;
    children.push(el('span', { class: 'stock-bar', 'aria-hidden': 'true' }, fill));
  }
  return el('li', { class: 'card sale-card', dataset: { sku: product.sku_id } }, children);
}

// Each load has a number; an answer that is not the latest one's is dropped, so a slow answer
// to an old search never replaces a newer one.
let latestLoad = 0;

async function load({ quiet = false } = {}) {
  clearTimeout(refreshTimer);
  const thisLoad = ++latestLoad;
  list.setAttribute('aria-busy', 'true');
  try {
    const { data } = await api(`/api/v1/products?${query()}`);
    if (thisLoad !== latestLoad) return;
    errorBox.textContent = '';
    // Re-render only when the page changed, and keep the keyboard focus on the same sale.
    const rendered = JSON.stringify(data.items);
    if (rendered !== lastRendered) {
      lastRendered = rendered;
      const focusedSku = document.activeElement?.closest?.('.sale-card')?.dataset.sku;
      list.replaceChildren(...data.items.map(card));
      if (focusedSku)
        list.querySelector(`.sale-card[data-sku="${CSS.escape(focusedSku)}"] a`)?.focus();
    }
    for (const item of data.items) {
      if (item.category && !knownCategories.has(item.category)) {
        knownCategories.add(item.category);
        categories.append(el('option', { value: item.category }));
      }
    }
    empty.hidden = data.items.length > 0;
    nextCursor = data.next_cursor;
    nextButton.hidden = !nextCursor;
    prevButton.hidden = cursorStack.length === 0;
    if (!quiet) {
      listStatus.textContent = data.items.length
        ? `${data.items.length} sale${data.items.length === 1 ? '' : 's'} shown`
        : 'No sale matches';
    }
  } catch (error) {
    if (thisLoad !== latestLoad) return;
    errorBox.textContent = messageFor(error);
  }
  list.setAttribute('aria-busy', 'false');
  refreshTimer = setTimeout(() => load({ quiet: true }), REFRESH_MS);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  filters = readFilters();
  cursorStack = [];
  currentCursor = null;
  load();
});
form.status.addEventListener('change', () => form.requestSubmit());

nextButton.addEventListener('click', () => {
  if (!nextCursor) return;
  cursorStack.push(currentCursor);
  currentCursor = nextCursor;
  load();
});
prevButton.addEventListener('click', () => {
  currentCursor = cursorStack.pop() ?? null;
  load();
});

const token = tokens.user();
const claims = token && jwtClaims(token);
if (claims && claims.sub) document.getElementById('who').textContent = `Signed in as ${claims.sub}`;

filters = readFilters();
load();
