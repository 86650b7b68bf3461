// Goal: the pages work in a real browser against the real server. Starts the server binary on a
// free port with a temporary data directory, creates the sales it needs through the admin API and
// walks the buyer and operator journeys in Chromium: (a) reserve, see the hold run down, pay and
// see PAID; (b) a declined card ends FAILED and the unit comes back; (c) a second buyer is told
// SOLD_OUT when the last unit goes; (d) a waiting-room buyer joins, is admitted and reserves;
// (e) the operator creates, opens, restocks and closes a sale and reads its reconciliation; and
// a reserve answered 503 is retried with the same Idempotency-Key; an upcoming sale counts down;
// a hold runs out and the unit comes back; the flaky card pays after two timeouts;
// an unanswered payment is resolved by the operator; the console shows when the node is degraded.
// Every page must log no console error, throw nothing and see no failed request or unexpected
// status >= 400. Screenshots of each page at phone and desktop size go to the given directory.
//
// Usage: node tests/browser/journeys.mjs <flashsale binary> <screenshot dir>
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';

const [binary, screenshotDir] = process.argv.slice(2);
if (!binary || !screenshotDir) {
  console.error('usage: node journeys.mjs <flashsale binary> <screenshot dir>');
  process.exit(2);
}
const { chromium } = await import('playwright-core').catch(() => {
  console.error(
    'playwright-core is not installed: run `npm ci` at the top of the repository ' +
      '(scripts/test.sh does it when node_modules/playwright-core is missing)',
  );
  process.exit(1);
});

const JWT_SECRET = 'browser-journeys-jwt-secret-0123456789abcdef';
const ADMIN_TOKEN = 'browser-journeys-admin-token-0123456789abcdef';
const CHROMIUM = process.env.FLASHSALE_CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 30000;
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1440, height: 900 } };

// The one error answer every page may see: the demo sign-in probe (405: the route exists, POST
// only). The availability stream must be there: its fallback is tested by refusing it.
const ALWAYS_EXPECTED = [{ status: 405, url: /\/demo\/v1\/token$/ }];

// ---- The server -------------------------------------------------------------------------------

async function startServer() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'flashsale-browser-'));
  const child = spawn(
    binary,
    [
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--demo',
      '--jwt-secret',
      JWT_SECRET,
      '--admin-token',
      ADMIN_TOKEN,
      // The journeys make a few requests a second from one address; limits are tested elsewhere.
      '--rate-limit',
      'off',
      '--waiting-room-admit-per-second',
      '50',
      // Two quick gateway retries: the timeout card needs attention within a second.
      '--payment-retry-schedule',
      '200ms,200ms',
      // No balancer to wait for: stop at once.
      '--shutdown-delay-seconds',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // However this script ends (an exception, process.exit, ctest's timeout signal), the server
  // goes with it.
  process.on('exit', () => child.kill('SIGKILL'));
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));
  let log = '';
  const collect = (chunk) => {
    log = (log + chunk).slice(-20000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server did not start in 30 s:\n${log}`)),
      30000,
    );
    child.on('exit', (code) => reject(new Error(`the server exited with ${code}:\n${log}`)));
    const onData = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => {
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
      });
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, stop, log: () => log };
}

function apiClient(base) {
  return async (method, route, { body, token = ADMIN_TOKEN } = {}) => {
    const response = await fetch(base + route, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok)
      throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(data)}`);
    return data;
  };
}

// ---- Watching a page ----------------------------------------------------------------------------

// Records every console error, page error, failed request and status >= 400 that is not in
// `expected` ({status, url: RegExp}). `problems()` lists them; `stop()` ends watching before the
// page closes (closing aborts its open streams, which is not a failure).
function watch(page, expected = []) {
  const allowed = [...ALWAYS_EXPECTED, ...expected];
  const isExpected = (status, url) => allowed.some((e) => e.status === status && e.url.test(url));
  const problems = [];
  let watching = true;
  page.on('console', (message) => {
    if (!watching || message.type() !== 'error') return;
    // Chromium logs every answer >= 400 as a console error; expected ones are not problems.
    const status = /the server responded with a status of (\d+)/.exec(message.text());
    if (status && isExpected(Number(status[1]), message.location().url || '')) return;
    problems.push(`console error: ${message.text()} (${message.location().url || 'no url'})`);
  });
  page.on('pageerror', (error) => {
    if (watching) problems.push(`page error: ${error.message}`);
  });
  // Chromium may abort a request after an expected error answer (an EventSource given JSON):
  // that is the same expected answer, not another failure.
  const answeredAsExpected = new WeakSet();
  page.on('requestfailed', (request) => {
    if (answeredAsExpected.has(request)) return;
    if (watching)
      problems.push(
        `request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`,
      );
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && isExpected(response.status(), response.url())) {
      answeredAsExpected.add(response.request());
    } else if (watching && response.status() >= 400) {
      problems.push(
        `unexpected ${response.status()} for ${response.request().method()} ${response.url()}`,
      );
    }
  });
  return {
    problems: () => problems,
    stop: () => {
      watching = false;
    },
    // Leaving a page aborts its open requests (polls, streams): not failures either.
    resume: () => {
      watching = true;
    },
  };
}

// The pages the running journey opened: captured when it fails.
let openPages = [];

async function newPage(browser, viewport = VIEWPORTS.desktop) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  openPages.push(page);
  return { context, page };
}

async function captureFailure(name) {
  for (const [index, page] of openPages.entries()) {
    if (page.isClosed()) continue;
    const file = path.join(screenshotDir, `FAILED-${name}-${index + 1}.png`);
    await page.screenshot({ path: file, fullPage: true }).then(
      () => console.log(`     page ${index + 1} (${page.url()}) captured in ${file}`),
      () => {},
    );
    await page
      .context()
      .close()
      .catch(() => {});
  }
}

async function textOf(page, selector) {
  return (await page.locator(selector).textContent()).trim();
}

async function waitForText(page, selector, pattern) {
  await page.waitForFunction(
    ([sel, source, flags]) => {
      const node = document.querySelector(sel);
      return node && new RegExp(source, flags).test(node.textContent);
    },
    [selector, pattern.source, pattern.flags],
    { timeout: WAIT_MS },
  );
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// Every visible control has a name a screen reader can say: a <label for>, an enclosing label,
// aria-label or aria-labelledby for fields; text or aria-label for buttons and links.
async function assertLabelled(page, name) {
  const unnamed = await page.evaluate(() => {
    const visible = (node) => node.offsetParent !== null || node.getClientRects().length > 0;
    const missing = [];
    for (const node of document.querySelectorAll('input, select, textarea')) {
      if (!visible(node) || node.type === 'hidden') continue;
      const named =
        node.getAttribute('aria-label') ||
        node.getAttribute('aria-labelledby') ||
        node.closest('label') ||
        (node.id && document.querySelector(`label[for="${node.id}"]`));
      if (!named) missing.push(node.outerHTML.slice(0, 80));
    }
    for (const node of document.querySelectorAll('button, a[href]')) {
      if (!visible(node)) continue;
      const named =
        node.getAttribute('aria-label') ||
        node.textContent.trim() ||
        node.querySelector('img[alt]:not([alt=""])');
      if (!named) missing.push(node.outerHTML.slice(0, 80));
    }
    return missing;
  });
  assert(unnamed.length === 0, `${name} has unlabelled controls: ${unnamed.join(', ')}`);
}

// Screenshots at both sizes; also checks that the page does not scroll sideways on a phone and
// that every control is labelled.
async function screenshots(page, name) {
  await assertLabelled(page, name);
  for (const [label, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    // One rendered frame after the resize, so the layout measured is the new one.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve())));
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    assert(overflow <= 0, `${name} is ${overflow}px wider than the ${label} viewport`);
    await page.screenshot({
      path: path.join(screenshotDir, `${name}-${viewport.width}x${viewport.height}.png`),
      fullPage: true,
    });
  }
}

// ---- The journeys -----------------------------------------------------------------------------

function saleBody(sku, stock, extra = {}) {
  return {
    sku_id: sku,
    name: `Journey ${sku}`,
    price_cents: 4900,
    currency: 'EUR',
    total_stock: stock,
    per_user_limit: 1,
    reservation_ttl_seconds: 300,
    category: 'Journeys',
    description: 'A sale made by the browser journeys.',
    ...extra,
  };
}

async function userToken(api, userId) {
  return (await api('POST', '/demo/v1/token', { body: { user_id: userId }, token: '' })).token;
}

const journeys = {
  // (a) From the storefront, sign in as a demo user, reserve, watch the hold run down, pay.
  async buyerPays({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', {
      body: saleBody('journey-a', 5, { name: 'Journey sneaker' }),
    });
    const { context, page } = await newPage(browser);
    const watcher = watch(page);
    await page.goto(`${base}/`);
    await page.fill('#q', 'sneaker');
    await page.click('#filters button[type="submit"]');
    const link = page.locator('#sales a[href="/sales/journey-a"]');
    await link.waitFor();
    await screenshots(page, 'storefront');
    await page.setViewportSize(VIEWPORTS.desktop);
    watcher.stop(); // the storefront's refresh may be in flight
    await link.click();
    await page.waitForURL(`${base}/sales/journey-a`);
    watcher.resume();
    await waitForText(page, '#available', /^5$/);
    await page.locator('#demo-form').waitFor();
    await page.fill('#demo-name', 'buyer-a');
    await page.click('#demo-signin');
    await waitForText(page, '#who', /Signed in as buyer-a/);
    await page.click('#reserve');
    await page.locator('#hold').waitFor();
    const first = await textOf(page, '#hold-countdown');
    assert(/^\d+:\d\d$/.test(first), `hold countdown reads "${first}"`);
    await page.waitForFunction(
      (before) => document.querySelector('#hold-countdown').textContent.trim() !== before,
      first,
      { timeout: WAIT_MS },
    );
    await waitForText(page, '#available', /^4$/);
    await screenshots(page, 'sale');
    await page.setViewportSize(VIEWPORTS.desktop);
    await page.selectOption('#card', 'pm_card_visa');
    await page.click('#checkout');
    await waitForText(page, '#order-status', /^Paid$/);
    await waitForText(page, '#message', /Payment accepted/);
    await screenshots(page, 'sale-paid');
    await page.click('#signout');
    await page.locator('#demo-form').waitFor();
    assert(
      await page.evaluate(() => sessionStorage.getItem('flashsale.userToken') === null),
      'the token outlived the sign-out',
    );
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // (b) A declined card: the order FAILS and the unit is back on sale.
  async declinedCardReturnsTheUnit({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', { body: saleBody('journey-b', 3) });
    const token = await userToken(api, 'buyer-b');
    const { context, page } = await newPage(browser, VIEWPORTS.phone);
    const watcher = watch(page);
    const polls = [];
    page.on('request', (request) => {
      if (/\/availability$/.test(request.url())) polls.push(request.url());
    });
    await page.goto(`${base}/sales/journey-b#token=${token}`);
    await waitForText(page, '#who', /Signed in as buyer-b/);
    assert(
      await page.evaluate(() => window.location.hash === ''),
      'the token stayed in the address bar',
    );
    await waitForText(page, '#available', /^3$/);
    await page.click('#reserve');
    await page.locator('#hold').waitFor();
    await waitForText(page, '#available', /^2$/);
    await page.selectOption('#card', 'pm_card_chargeDeclined');
    await page.click('#checkout');
    await waitForText(page, '#order-status', /^Failed$/);
    await waitForText(page, '#available', /^3$/);
    // Every change above came from the availability stream, none from polling.
    assert(polls.length === 0, `the page polled availability: ${polls.join(', ')}`);
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // A hold that runs out: the buyer is told, the unit comes back; reserving again and paying with
  // the flaky card (two timeouts, then success) ends PAID.
  async holdRunsOutThenFlakyCardPays({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', {
      body: saleBody('journey-expiry', 1, { reservation_ttl_seconds: 3 }),
    });
    const { context, page } = await newPage(browser, VIEWPORTS.phone);
    const watcher = watch(page);
    await page.goto(`${base}/sales/journey-expiry#token=${await userToken(api, 'buyer-expiry')}`);
    await page.click('#reserve');
    await page.locator('#hold').waitFor();
    await waitForText(page, '#message', /Your hold expired and the unit went back on sale/);
    assert(await page.isHidden('#hold'), 'the hold is still shown after it ran out');
    await waitForText(page, '#available', /^1$/);
    await page.click('#reserve');
    await page.locator('#hold').waitFor();
    await page.selectOption('#card', 'pm_card_flaky');
    await page.click('#checkout');
    await waitForText(page, '#order-status', /^Paid$/);
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // (c) One unit, two buyers: B is told it is sold out.
  async secondBuyerSeesSoldOut({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', { body: saleBody('journey-c', 1) });
    const a = await newPage(browser);
    const b = await newPage(browser, VIEWPORTS.phone);
    const watchA = watch(a.page);
    const watchB = watch(b.page, [
      { status: 409, url: /\/api\/v1\/products\/journey-c\/reserve$/ },
    ]);
    await a.page.goto(`${base}/sales/journey-c#token=${await userToken(api, 'buyer-c1')}`);
    await b.page.goto(`${base}/sales/journey-c`);
    // B signs in by pasting a token.
    await b.page.fill('#token-input', await userToken(api, 'buyer-c2'));
    await b.page.click('#token-signin');
    await waitForText(b.page, '#who', /Signed in as buyer-c2/);
    await a.page.click('#reserve');
    await a.page.locator('#hold').waitFor();
    await waitForText(b.page, '#sale-status', /Sold out/);
    await b.page.click('#reserve');
    await waitForText(b.page, '#message', /Sold out — every unit is taken/);
    assert(await b.page.locator('#hold').isHidden(), 'buyer B got a hold');
    watchA.stop();
    watchB.stop();
    await a.context.close();
    await b.context.close();
    return [...watchA.problems(), ...watchB.problems()];
  },

  // (d) A waiting-room sale: join, be admitted, reserve with the pass automatically.
  async waitingRoomBuyerIsAdmitted({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', { body: saleBody('journey-d', 2, { waiting_room: true }) });
    const { context, page } = await newPage(browser);
    const watcher = watch(page);
    await page.goto(`${base}/sales/journey-d#token=${await userToken(api, 'buyer-d')}`);
    await page.locator('#join-queue').waitFor();
    await page.click('#join-queue');
    await page.locator('#queue-facts').waitFor();
    await page.locator('#hold').waitFor();
    await waitForText(page, '#message', /Reserved/);
    await waitForText(page, '#available', /^1$/);
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // A reserve answered 503 is retried with the same Idempotency-Key: one reservation at most.
  async reserveRetryKeepsItsKey({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', { body: saleBody('journey-retry', 2) });
    const { context, page } = await newPage(browser);
    const reserveUrl = /\/api\/v1\/products\/journey-retry\/reserve$/;
    const watcher = watch(page, [{ status: 503, url: reserveUrl }]);
    const keys = [];
    await page.route(reserveUrl, async (route) => {
      keys.push(route.request().headers()['idempotency-key']);
      if (keys.length === 1) {
        await route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: JSON.stringify({
            error: { code: 'UNAVAILABLE', message: 'temporarily unavailable, retry' },
          }),
        });
      } else {
        await route.continue();
      }
    });
    await page.goto(`${base}/sales/journey-retry#token=${await userToken(api, 'buyer-retry')}`);
    await waitForText(page, '#available', /^2$/);
    await page.click('#reserve');
    await page.locator('#hold').waitFor();
    assert(keys.length === 2, `expected 2 reserve requests, saw ${keys.length}`);
    assert(keys[0] && keys[0] === keys[1], `the retry changed its key: ${keys.join(' then ')}`);
    await waitForText(page, '#available', /^1$/);
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // The numbers follow the availability stream: a stream (answered here by the test) that says
  // 42 units and then sold out is shown as such, without polling over it.
  async eventsDriveTheNumbers({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', { body: saleBody('journey-events', 5) });
    const { context, page } = await newPage(browser);
    const watcher = watch(page);
    let streams = 0;
    await page.route(/\/api\/v1\/products\/journey-events\/events$/, (route) => {
      streams += 1;
      const event = (type, available, status) => {
        const data = JSON.stringify({ sku_id: 'journey-events', available, status });
        return `event: ${type}\ndata: ${data}\n\n`;
      };
      const body =
        streams === 1
          ? `: ping\n\n${event('status', 42, 'OPEN')}${event('availability', 42, 'OPEN')}`
          : event('status', 0, 'SOLD_OUT');
      return route.fulfill({
        status: 200,
        contentType: 'text/event-stream',
        headers: { 'Cache-Control': 'no-cache' },
        body,
      });
    });
    await page.goto(`${base}/sales/journey-events`);
    await waitForText(page, '#available', /^42$/);
    // The first stream ended; the browser reconnects and the next one says sold out.
    await waitForText(page, '#sale-status', /Sold out/);
    await waitForText(page, '#available', /^0$/);
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // A node with too many subscribers refuses the stream (503): the page polls instead and the
  // numbers stay live.
  async refusedStreamFallsBackToPolling({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', { body: saleBody('journey-poll', 4) });
    const { context, page } = await newPage(browser);
    const eventsUrl = /\/api\/v1\/products\/journey-poll\/events$/;
    const watcher = watch(page, [{ status: 503, url: eventsUrl }]);
    await page.route(eventsUrl, (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'too many subscribers' } }),
      }),
    );
    await page.goto(`${base}/sales/journey-poll`);
    await waitForText(page, '#available', /^4$/);
    const token = await userToken(api, 'buyer-poll');
    await api('POST', '/api/v1/products/journey-poll/reserve', { body: {}, token });
    await waitForText(page, '#available', /^3$/);
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // The storefront pages through a category with the server's cursor, forwards and back.
  async storefrontPagesThroughACategory({ browser, base, api }) {
    for (let i = 1; i <= 14; i += 1) {
      const sku = `journey-bulk-${String(i).padStart(2, '0')}`;
      await api('POST', '/admin/v1/skus', {
        body: saleBody(sku, 1, { name: `Bulk item ${i}`, category: 'Bulk' }),
      });
    }
    const { context, page } = await newPage(browser, VIEWPORTS.phone);
    const watcher = watch(page);
    await page.goto(`${base}/`);
    // The cards shown once the list is settled, as "first sku..last sku (count)".
    const shows = (expected) =>
      page.waitForFunction((want) => {
        if (document.querySelector('#sales').getAttribute('aria-busy') !== 'false') return false;
        const skus = [...document.querySelectorAll('#sales .sale-card')].map(
          (card) => card.dataset.sku,
        );
        return `${skus[0]}..${skus[skus.length - 1]} (${skus.length})` === want;
      }, expected);
    await page.fill('#category', 'Bulk');
    await page.click('#filters button[type="submit"]');
    await shows('journey-bulk-01..journey-bulk-12 (12)');
    await page.click('#next-page');
    await shows('journey-bulk-13..journey-bulk-14 (2)');
    assert(await page.isHidden('#next-page'), 'a next page after the last one');
    await page.click('#prev-page');
    await shows('journey-bulk-01..journey-bulk-12 (12)');
    // By keyboard alone: Tab reaches the first card's link and Enter opens the sale.
    await page.locator('#q').focus();
    for (let presses = 0; presses < 10; presses += 1) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement.matches('#sales a'))) break;
    }
    const focused = await page.evaluate(() => document.activeElement.getAttribute('href'));
    assert(focused === '/sales/journey-bulk-01', `Tab reached ${focused}, not the first sale`);
    watcher.stop(); // the storefront's refresh may be in flight
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/sales/journey-bulk-01`);
    watcher.resume();
    await waitForText(page, '#product-name', /^Bulk item 1$/);
    watcher.stop(); // leaving the sale page ends its availability stream
    await page.goBack();
    watcher.resume();
    await page.fill('#q', 'nothing-like-this');
    await page.click('#filters button[type="submit"]');
    await page.locator('#empty').waitFor();
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // A sale that has not started: the storefront and the sale page count down to it.
  async upcomingSaleCountsDown({ browser, base, api }) {
    const startsAt = new Date(Date.now() + 3600 * 1000).toISOString();
    await api('POST', '/admin/v1/skus', {
      body: saleBody('journey-later', 7, { name: 'Journey later', starts_at: startsAt }),
    });
    const { context, page } = await newPage(browser, VIEWPORTS.phone);
    const watcher = watch(page);
    await page.goto(`${base}/`);
    await page.selectOption('#status', 'SCHEDULED');
    const card = page.locator('.sale-card[data-sku="journey-later"]');
    await card.waitFor();
    await waitForText(page, '.sale-card[data-sku="journey-later"] .meta', /starts in (59|60):\d\d/);
    const laterToken = await userToken(api, 'buyer-later');
    watcher.stop(); // the storefront's refresh may be in flight
    await page.goto(`${base}/sales/journey-later#token=${laterToken}`);
    watcher.resume();
    await waitForText(page, '#starts-countdown', /^(59|60):\d\d$/);
    await waitForText(page, '#reserve', /^Opens in/);
    assert(await page.isDisabled('#reserve'), 'Reserve is enabled before the start');
    watcher.stop();
    await context.close();
    return watcher.problems();
  },

  // The bank never answers: the buyer is told the order needs attention, the operator marks it
  // paid from the console's orders.
  async unansweredPaymentIsResolvedByTheOperator({ browser, base, api }) {
    await api('POST', '/admin/v1/skus', { body: saleBody('journey-timeout', 2) });
    const buyer = await newPage(browser);
    const watchBuyer = watch(buyer.page);
    await buyer.page.goto(
      `${base}/sales/journey-timeout#token=${await userToken(api, 'buyer-timeout')}`,
    );
    await buyer.page.click('#reserve');
    await buyer.page.locator('#hold').waitFor();
    await buyer.page.selectOption('#card', 'pm_card_timeout');
    await buyer.page.click('#checkout');
    await waitForText(buyer.page, '#order-status', /Needs attention/);
    await waitForText(buyer.page, '#message', /Payment not confirmed yet/);
    const orderId = await textOf(buyer.page, '#order-id');
    watchBuyer.stop();
    await buyer.context.close();

    const operator = await newPage(browser);
    const watchOperator = watch(operator.page);
    await operator.page.goto(`${base}/admin/`);
    await operator.page.fill('#admin-token', ADMIN_TOKEN);
    await operator.page.click('#admin-signin-button');
    const resolve = operator.page.locator(`button[aria-label="Mark paid: order ${orderId}"]`);
    await resolve.waitFor();
    await resolve.click();
    await waitForText(
      operator.page,
      '#console-message',
      new RegExp(`Order ${orderId} marked paid`),
    );
    await resolve.waitFor({ state: 'detached' });
    const order = await api('GET', `/admin/v1/orders/${orderId}`);
    assert(order.status === 'PAID', `the resolved order is ${order.status}`);
    watchOperator.stop();
    await operator.context.close();
    return [...watchBuyer.problems(), ...watchOperator.problems()];
  },

  // (e) The operator: sign in, create, open, restock, close, reconcile.
  async operatorRunsASale({ browser, base }) {
    const { context, page } = await newPage(browser);
    const watcher = watch(page, [
      { status: 503, url: /\/readyz$/ },
      { status: 401, url: /\/admin\/v1\/orders\?status=NEEDS_ATTENTION$/ },
    ]);
    await page.goto(`${base}/admin/`);
    // A wrong token is refused and the console stays closed.
    await page.fill('#admin-token', 'not-the-admin-token');
    await page.click('#admin-signin-button');
    await waitForText(page, '#signin-message', /That admin token was refused/);
    assert(await page.isHidden('#console'), 'the console opened with a wrong token');
    await page.fill('#admin-token', ADMIN_TOKEN);
    await page.click('#admin-signin-button');
    await page.locator('#console').waitFor();
    await page.fill('#new-sku', 'journey-e');
    await page.fill('#new-name', 'Operator journey');
    await page.fill('#new-stock', '10');
    // Starts tomorrow: SCHEDULED until the operator opens it.
    const tomorrow = new Date(Date.now() + 86400000);
    const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60000)
      .toISOString()
      .slice(0, 16);
    await page.fill('#new-starts', local);
    await page.click('#create-sale');
    const row = 'tr[data-sku="journey-e"]';
    await waitForText(page, `${row} td:nth-child(2)`, /Scheduled/);
    await page.click('button[aria-label="Open journey-e"]');
    await waitForText(page, `${row} td:nth-child(2)`, /Open/);
    await page.fill(`${row} input.delta`, '5');
    await page.click('button[aria-label="Adjust stock journey-e"]');
    await waitForText(page, `${row} td:nth-child(3)`, /^15$/);
    await page.click('button[aria-label="Close journey-e"]');
    await waitForText(page, `${row} td:nth-child(2)`, /Closed/);
    // A reload keeps the operator signed in (the token is in the tab's sessionStorage) and the
    // token never appears in the address.
    watcher.stop();
    await page.reload();
    watcher.resume();
    await page.locator(`${row} td:nth-child(2)`).waitFor();
    assert(!page.url().includes(ADMIN_TOKEN), 'the admin token is in the address');
    await page.click('button[aria-label="Reconcile journey-e"]');
    await waitForText(page, '#recon-verdict', /the books balance/);
    await page.click('#verify-audit');
    await waitForText(page, '#audit-result', /The chain is intact/);
    await page.fill('#dispute-user', 'buyer-a');
    await page.click('#dispute-search');
    await waitForText(page, '#dispute-result', /RESERVE_ATTEMPT/);
    // The charts have drawn a line (two intervals between three scrapes of /metrics).
    await page.waitForFunction(
      () => Number(document.querySelector('#chart-available')?.dataset.points) >= 2,
      null,
      { timeout: WAIT_MS },
    );
    await screenshots(page, 'admin');
    // The node says it is not ready, then that Redis is down: the banner says so.
    let readiness = {
      status: 503,
      body: { error: { code: 'UNAVAILABLE', message: 'engine failed' } },
    };
    await page.route(/\/readyz$/, (route) =>
      route.fulfill({
        status: readiness.status,
        contentType: 'application/json',
        body: JSON.stringify(readiness.body),
      }),
    );
    await waitForText(page, '#degraded', /Node not ready: engine failed/);
    readiness = { status: 200, body: { status: 'degraded', redis: 'down' } };
    await waitForText(page, '#degraded', /Redis is down/);
    await page.unroute(/\/readyz$/);
    await page.locator('#degraded').waitFor({ state: 'hidden' });
    watcher.stop();
    await context.close();
    return watcher.problems();
  },
};

// ---- Run ----------------------------------------------------------------------------------------

async function main() {
  mkdirSync(screenshotDir, { recursive: true });
  const server = await startServer();
  let browser = null;
  const failures = [];
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const api = apiClient(server.url);
    for (const [name, journey] of Object.entries(journeys)) {
      const started = Date.now();
      openPages = [];
      try {
        const problems = await journey({ browser, base: server.url, api });
        if (problems.length) throw new Error(problems.join('\n  '));
        console.log(`ok   ${name} (${Date.now() - started} ms)`);
      } catch (error) {
        failures.push(name);
        console.log(`FAIL ${name}: ${error.message}`);
        await captureFailure(name);
      }
    }
  } finally {
    if (browser) await browser.close();
    if (failures.length) console.log(`--- server log (tail) ---\n${server.log().slice(-4000)}`);
    await server.stop();
  }
  if (failures.length) {
    console.error(`${failures.length} browser journey(s) failed: ${failures.join(', ')}`);
    process.exit(1);
  }
  console.log(
    `all ${Object.keys(journeys).length} browser journeys passed; screenshots in ${screenshotDir}`,
  );
}

main().catch((error) => {
  console.error(`browser journeys could not run: ${error.stack || error.message}`);
  process.exit(1);
});
