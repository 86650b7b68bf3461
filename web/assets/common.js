// Shared by the storefront, the sale page and the console: JSON API calls whose errors become
// human messages, token storage, countdowns, prices and a small DOM builder.

const USER_TOKEN_KEY = 'flashsale.userToken';
const ADMIN_TOKEN_KEY = 'flashsale.adminToken';

// An API refusal (`{"error":{"code","message"}}`) or a network failure (code NETWORK, status 0).
export class ApiError extends Error {
  constructor(status, code, message, retryAfterSeconds) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

// Sends a JSON request and returns {status, data, headers}. Throws ApiError for any status
// >= 400 and for network failures. `token` becomes the bearer credential.
export async function api(path, { method = 'GET', body, token, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, signal };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (cause) {
    if (cause.name === 'AbortError') throw cause;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached');
  }
  const text = await response.text();
  let data = null;
  if (text && (response.headers.get('Content-Type') || '').includes('json')) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.status >= 400) {
    const error = (data && data.error) || {};
    const retryAfter = Number.parseInt(response.headers.get('Retry-After') || '', 10);
    throw new ApiError(
      response.status,
      error.code || `HTTP_${response.status}`,
      error.message || response.statusText,
      Number.isFinite(retryAfter) ? retryAfter : null,
    );
  }
  return { status: response.status, data: data ?? text, headers: response.headers };
}

// What a buyer or an operator reads for each error code of the API.
const MESSAGES = {
  SOLD_OUT: 'Sold out — every unit is taken',
  LIMIT_EXCEEDED: 'You already hold or bought as many units as one buyer may have',
  SALE_NOT_OPEN: 'The sale has not started yet',
  SALE_CLOSED: 'The sale is closed',
  SKU_NOT_FOUND: 'There is no such sale',
  SKU_EXISTS: 'A sale with this SKU exists already',
  INVALID_REQUEST: 'The request was refused as invalid',
  UNAUTHENTICATED: 'Your sign-in is missing, wrong or expired — please sign in again',
  IDEMPOTENCY_KEY_REUSED: 'This request key was already used for something else',
  RESERVATION_NOT_FOUND: 'This hold no longer exists',
  RESERVATION_EXPIRED: 'Your hold expired and the unit went back on sale',
  RESERVATION_NOT_ACTIVE: 'This hold is already being checked out, bought or released',
  UNAVAILABLE: 'The shop is busy right now — nothing changed, please try again',
  PAYLOAD_TOO_LARGE: 'The request is too large',
  NOT_FOUND: 'Not found',
  METHOD_NOT_ALLOWED: 'This action is not available',
  RATE_LIMITED: 'Too many requests — please wait',
  STOCK_BELOW_COMMITTED: 'Stock cannot go below the units already held or sold',
  ORDER_NOT_FOUND: 'This order does not exist',
  ORDER_NOT_RESOLVABLE: 'Only orders that need attention can be resolved',
  QUEUE_PASS_REQUIRED: 'This sale has a waiting room — join it to get your turn',
  QUEUE_PASS_INVALID: 'Your waiting-room pass is no longer valid — join the waiting room again',
  WAITING_ROOM_DISABLED: 'This sale has no waiting room',
  QUEUE_NOT_OPEN: 'The waiting room opens shortly before the sale starts',
  WAITING_ROOM_FULL: 'The waiting room is full',
  TICKET_NOT_FOUND: 'Your place in the waiting room was not found — join again',
  NETWORK: 'The server could not be reached — check your connection and try again',
};

// A human sentence for an ApiError (or any Error).
export function messageFor(error) {
  if (!(error instanceof ApiError)) return error && error.message ? error.message : String(error);
  const base = MESSAGES[error.code];
  if (base) return base;
  return error.message ? `${error.message} (${error.code})` : `Request failed (${error.code})`;
}

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export const tokens = {
  user: () => storage()?.getItem(USER_TOKEN_KEY) || null,
  setUser: (token) => storage()?.setItem(USER_TOKEN_KEY, token),
  clearUser: () => storage()?.removeItem(USER_TOKEN_KEY),
  admin: () => storage()?.getItem(ADMIN_TOKEN_KEY) || null,
  setAdmin: (token) => storage()?.setItem(ADMIN_TOKEN_KEY, token),
  clearAdmin: () => storage()?.removeItem(ADMIN_TOKEN_KEY),
};

// The claims of a JWT, unverified (the server verifies; the page only shows who is signed in).
export function jwtClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      Array.from(atob(part), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

// Takes `#token=...` from the address into sessionStorage and removes it from the address bar,
// so the token is neither bookmarked nor left in the history.
export function adoptTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return false;
  tokens.setUser(decodeURIComponent(match[1]));
  history.replaceState(null, '', window.location.pathname + window.location.search);
  return true;
}

// "2:05", "1:02:03" or "3d 04:05:06" for a duration in milliseconds (never negative).
export function formatDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n) => String(n).padStart(2, '0');
  if (days > 0) return `${days}d ${two(hours)}:${two(minutes)}:${two(seconds)}`;
  if (hours > 0) return `${hours}:${two(minutes)}:${two(seconds)}`;
  return `${minutes}:${two(seconds)}`;
}

export function formatPrice(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export function formatNumber(n) {
  return new Intl.NumberFormat().format(n);
}

export function formatTime(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// Builds an element: el('a', {href: '/', class: 'x'}, 'text', child). Text is never parsed as
// HTML. `dataset` and boolean properties (hidden, disabled) are set as properties.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'hidden' || name === 'disabled') node[name] = Boolean(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// One timer for every countdown on a page: callbacks run once a second.
const tickers = new Set();
let tickTimer = null;
export function everySecond(callback) {
  tickers.add(callback);
  callback();
  if (!tickTimer) tickTimer = setInterval(() => tickers.forEach((fn) => fn()), 1000);
  return () => tickers.delete(callback);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A status word as shown on a badge ("SOLD_OUT" → "Sold out").
export function statusLabel(status) {
  const text = String(status || '')
    .replace(/_/g, ' ')
    .toLowerCase();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function statusBadge(status) {
  return el(
    'span',
    { class: `badge badge-${String(status).toLowerCase().replace(/_/g, '-')}` },
    statusLabel(status),
  );
}
