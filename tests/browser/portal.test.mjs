// The portal in Debian's chromium against a real frontdoor-server, started by
// run.sh, which passes in the environment:
//   FRONTDOOR_URL   http://127.0.0.1:PORT (the server's HTTP listener)
//   TOKEN_A, TOKEN_B  referrers dr-a and dr-b; TOKEN_HANDLER  call handler handler-1
//   ARTIFACTS       where screenshots go
//   CHROMIUM        the browser (default /usr/bin/chromium)
// The tests run in order and build on each other: A's referral made in one
// is looked for by B, accepted by the call handler and followed by A.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const URL = process.env.FRONTDOOR_URL;
const TOKEN_A = process.env.TOKEN_A;
const TOKEN_B = process.env.TOKEN_B;
const TOKEN_HANDLER = process.env.TOKEN_HANDLER;
const ARTIFACTS = process.env.ARTIFACTS || 'test-artifacts/browser';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
assert.ok(URL && TOKEN_A && TOKEN_B && TOKEN_HANDLER, 'run this through tests/browser/run.sh');

// The referral of examples/referrals/news2-7-acute-deterioration.json, as a
// referrer types it.
const VALID = {
  '#nhs-number': '943 476 5919',
  '#dob-day': '1', '#dob-month': '5', '#dob-year': '1948',
  '#sex': 'SEX_MALE',
  '#postcode': 'LS6 3HN',
  '#patient-phone': '01632 960101',
  '#referrer-type': 'REFERRER_TYPE_GP',
  '#referrer-name': 'Dr A Example (duty GP)',
  '#referrer-phone': '01632 960102',
  '#problem': 'PRESENTING_PROBLEM_ACUTE_DETERIORATION',
  '#free-text': 'Breathless and much more tired since yesterday, productive cough.',
  '#resp-rate': '26', '#spo2': '95', '#spo2-scale': 'SP_O2_SCALE_SCALE_1', '#oxygen': 'air',
  '#systolic-bp': '105', '#pulse': '115', '#consciousness': 'CONSCIOUSNESS_ALERT', '#temperature': '37.0',
};
// "XXXX-XXXX-XXC": Crockford base32, and a check character that may also be
// one of * ~ $ = U (services/common/reference.h).
const REFERENCE = /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}[0-9A-Z*~$=]$/;

let browser;
let shots = 0;
const problems = [];      // page errors and CSP violations, from every page
const state = {};         // what one test leaves for the next

// --- helpers -----------------------------------------------------------------

async function api(token, method, urlPath, body) {
  const res = await fetch(URL + urlPath, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, json, text };
}

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, locale: 'en-GB' });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return page;
}

async function shot(page, name) {
  shots += 1;
  const file = path.join(ARTIFACTS, `${String(shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

async function signIn(page, token) {
  await page.goto(URL + '/');
  await page.fill('#token', token);
  await page.click('#signin-button');
  await page.waitForSelector('#account:not([hidden])');
}

async function fill(page, values) {
  for (const [selector, value] of Object.entries(values)) {
    const tag = await page.$eval(selector, (el) => el.tagName);
    if (tag === 'SELECT') await page.selectOption(selector, value);
    else await page.fill(selector, value);
  }
}

// The visible text of each error: summary entries and inline messages.
async function errors(page) {
  return page.evaluate(() => ({
    summary: Array.from(document.querySelectorAll('#submit-errors li')).map((li) => li.textContent.trim()),
    inline: Object.fromEntries(Array.from(document.querySelectorAll('#referral-form .error-message'))
      .map((m) => [m.id, m.textContent.replace(/^Error:\s*/, '').trim()])),
  }));
}

async function summaryValue(page, row) {
  return (await page.textContent(`#view-result [data-row="${row}"] dd`)).trim();
}

// --- setup -------------------------------------------------------------------

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const res = await fetch(`${URL}/healthz`);
      if (res.ok) break;
    } catch (e) { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${URL}/healthz did not answer 200 within 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
});

after(async () => {
  if (browser) await browser.close();
});

// --- tests -------------------------------------------------------------------

test('sign in: a wrong token is refused, a right one shows who you are', async () => {
  const page = await newPage();
  await page.goto(URL + '/');
  await page.waitForSelector('#view-signin:not([hidden])');
  await shot(page, 'signin');

  await page.fill('#token', 'not-a-real-token');
  await page.click('#signin-button');
  await page.waitForSelector('#signin-errors:not([hidden])');
  assert.match(await page.textContent('#signin-errors'), /not recognised/);
  assert.equal(await page.getAttribute('#token', 'aria-invalid'), 'true');
  assert.match(await page.getAttribute('#token', 'aria-describedby'), /token-error/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'signin-errors');
  assert.equal(await page.isVisible('#account'), false);
  await shot(page, 'signin-wrong-token');

  await page.fill('#token', TOKEN_A);
  await page.click('#signin-button');
  await page.waitForSelector('#account:not([hidden])');
  assert.equal((await page.textContent('#who-principal')).trim(), 'dr-a');
  assert.match(await page.textContent('#who-role'), /Referrer/);
  // A referrer makes and follows referrals; the worklist is not theirs.
  assert.equal(await page.isVisible('#nav-submit'), true);
  assert.equal(await page.isVisible('#nav-mine'), true);
  assert.equal(await page.isVisible('#nav-worklist'), false);
  assert.equal(await page.isVisible('#view-submit'), true);
  await shot(page, 'signed-in');

  // The token lives in this tab only, and signing out forgets it.
  assert.equal(await page.evaluate(() => sessionStorage.length), 1);
  await page.click('#sign-out');
  await page.waitForSelector('#view-signin:not([hidden])');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('frontdoor.portal.token')), null);
  assert.match(await page.textContent('#signin-notice'), /signed out/);
  await page.context().close();
});

test('a valid referral shows its triage: pathway, urgency, target, service and why', async () => {
  const page = await newPage();
  await signIn(page, TOKEN_A);
  await page.waitForSelector('#view-submit:not([hidden])');
  await fill(page, VALID);
  await shot(page, 'referral-filled');
  await page.click('#submit-button');
  await page.waitForSelector('#view-result:not([hidden])');

  const reference = (await page.textContent('#result-reference')).trim();
  state.reference = reference;
  assert.match(reference, REFERENCE);
  assert.equal(await summaryValue(page, 'status'), 'Triaged');
  assert.match(await summaryValue(page, 'pathway'), /Acute/);
  // NEWS2 7: the community-spa rules send it to ACUTE, immediately.
  assert.equal(await summaryValue(page, 'urgency'), 'Immediate');
  assert.equal(await summaryValue(page, 'target'), 'Immediately');
  assert.match(await page.textContent('#immediate-callout'), /call 999 now/);
  assert.notEqual(await summaryValue(page, 'service'), 'Not assigned yet');
  const why = await page.textContent('#why');
  assert.match(why, /The deciding rule/);
  assert.match(why, /NEWS2/);
  assert.match(why, /Rule set community-spa version [0-9a-f]{12}/);

  // What the page shows is what the server stored.
  const stored = await api(TOKEN_A, 'GET', `/api/v1/referrals/${reference}`);
  assert.equal(stored.status, 200, stored.text);
  assert.equal(stored.json.pathway, 'PATHWAY_ACUTE');
  assert.equal(stored.json.referral.patient.nhsNumber, '9434765919');
  assert.equal(stored.json.referral.patient.postcodeDistrict, 'LS6');
  assert.equal(stored.json.referral.observations.spo2Percent, 95);
  assert.ok((await summaryValue(page, 'service')).includes(stored.json.service.serviceName || stored.json.service.serviceId));
  await shot(page, 'referral-result');
  await page.context().close();
});

test("the page's own checks: wrong NHS check digit, SpO2 150, required fields", async () => {
  const page = await newPage();
  await signIn(page, TOKEN_A);
  let posts = 0;
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/v1/referrals')) posts += 1; });
  await fill(page, { ...VALID, '#nhs-number': '943 476 5918', '#spo2': '150', '#problem': '', '#referrer-type': '', '#temperature': '98.6' });
  await page.click('#submit-button');
  await page.waitForSelector('#submit-errors:not([hidden])');

  const { summary, inline } = await errors(page);
  assert.equal(summary.length, 5, summary.join(' | '));
  assert.match(inline['nhs-number-error'], /not a valid NHS number/);
  assert.match(inline['spo2-error'], /between 50 and 100/);
  assert.match(inline['problem-error'], /Select the main problem/);
  assert.match(inline['referrer-type-error'], /Select the referral source/);
  assert.match(inline['temperature-error'], /Fahrenheit/);
  for (const id of ['nhs-number', 'spo2', 'problem', 'referrer-type', 'temperature']) {
    assert.equal(await page.getAttribute(`#${id}`, 'aria-invalid'), 'true', id);
    assert.match(await page.getAttribute(`#${id}`, 'aria-describedby'), new RegExp(`${id}-error`), id);
  }
  // The summary has focus, and its links move focus to the field.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'submit-errors');
  await shot(page, 'client-errors');
  await page.click('#submit-errors a[href="#spo2"]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'spo2');
  assert.equal(posts, 0, 'nothing was sent to the server');

  // A date of birth that does not exist, in the date input.
  await fill(page, { ...VALID, '#dob-day': '30', '#dob-month': '2', '#dob-year': '1948' });
  await page.click('#submit-button');
  await page.waitForSelector('#dob-group-error');
  assert.match(await page.textContent('#dob-group-error'), /real date/);
  assert.equal(await page.getAttribute('#dob-day', 'aria-invalid'), 'true');
  assert.equal(posts, 0);

  // Fixing them clears the errors and sends the referral.
  await fill(page, VALID);
  await page.click('#submit-button');
  await page.waitForSelector('#view-result:not([hidden])');
  assert.equal(posts, 1);
  assert.equal(await page.$$eval('[aria-invalid="true"]', (els) => els.length), 0);
  await page.context().close();
});

test("the server's own refusal is shown on the field it names", async () => {
  const page = await newPage();
  await signIn(page, TOKEN_A);
  // Switch the page's checks off, so the server sees SpO2 150.
  await page.evaluate(() => { document.documentElement.dataset.clientChecks = 'off'; });
  const answers = [];
  page.on('response', (r) => { if (r.url().endsWith('/api/v1/referrals')) answers.push(r.status()); });
  await fill(page, { ...VALID, '#spo2': '150' });
  await page.click('#submit-button');
  await page.waitForSelector('#submit-errors:not([hidden])');
  assert.deepEqual(answers, [400]);
  const { summary, inline } = await errors(page);
  assert.equal(summary.length, 1, summary.join(' | '));
  assert.ok(inline['spo2-error'], `the error is on the SpO2 field: ${JSON.stringify(inline)}`);
  assert.match(inline['spo2-error'], /150/);
  assert.equal(await page.getAttribute('#spo2', 'aria-invalid'), 'true');
  await shot(page, 'server-field-error');
  await page.context().close();
});

test("a referrer cannot see another referrer's referral", async () => {
  assert.ok(state.reference, 'needs the referral made by dr-a');
  const page = await newPage();
  await signIn(page, TOKEN_B);
  assert.equal((await page.textContent('#who-principal')).trim(), 'dr-b');
  await page.click('#nav-mine a');
  await page.waitForFunction(() => /Updated|no referrals/.test(document.querySelector('#referrals-status').textContent));
  assert.equal(await page.$(`#referrals-table tr[data-id="${state.reference}"]`), null);
  assert.equal((await page.textContent('#view-referrals')).includes(state.reference), false);
  await shot(page, 'other-referrer-list');

  // Typing A's reference: not found, and nothing about the patient.
  await page.fill('#open-reference', state.reference);
  await page.press('#open-reference', 'Enter');
  await page.waitForSelector('#referral-not-found');
  const text = await page.textContent('#view-referral');
  assert.match(text, /no referral with the reference/i);
  for (const secret of ['9434765919', '943 476 5919', 'Acute', 'Triaged', 'LS6', 'NEWS2']) {
    assert.equal(text.includes(secret), false, `the page shows "${secret}"`);
  }
  await shot(page, 'other-referrer-denied');

  // The API agrees, and says no more than "not found" or "denied".
  const res = await api(TOKEN_B, 'GET', `/api/v1/referrals/${state.reference}`);
  assert.ok([403, 404].includes(res.status), `got ${res.status}`);
  assert.equal(res.text.includes('9434765919'), false);
  const list = await api(TOKEN_B, 'GET', '/api/v1/referrals?pageSize=100');
  assert.equal(list.status, 200);
  assert.equal(list.text.includes(state.reference), false);
  await page.context().close();
});

test("a status change reaches the referrer's list without a reload", async () => {
  assert.ok(state.reference, 'needs the referral made by dr-a');
  const page = await newPage();
  await signIn(page, TOKEN_A);
  await page.click('#nav-mine a');
  const row = `#referrals-table tr[data-id="${state.reference}"]`;
  await page.waitForSelector(row);
  assert.equal((await page.textContent(`${row} .cell-status .tag`)).trim(), 'Triaged');
  await page.evaluate(() => { window.notReloaded = true; });
  await shot(page, 'list-before-accept');

  // The call handler accepts it through the API, at the version they saw.
  const record = await api(TOKEN_HANDLER, 'GET', `/api/v1/referrals/${state.reference}`);
  assert.equal(record.status, 200, record.text);
  const body = { expectedVersion: record.json.version, actor: 'handler-1', accept: {} };
  let res = await api(TOKEN_HANDLER, 'POST', `/api/v1/referrals/${state.reference}/transition`, body);
  if (res.status === 404 && !(res.json && res.json.error && /referral/i.test(res.json.error.message))) {
    // No REST route for transitions: the generic RPC route.
    res = await api(TOKEN_HANDLER, 'POST', '/api/v1/rpc/frontdoor.v1.ReferralService/TransitionReferral',
      { id: state.reference, ...body });
  }
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.status, 'REFERRAL_STATUS_ACCEPTED');

  await page.waitForFunction((sel) => {
    const tag = document.querySelector(`${sel} .cell-status .tag`);
    return tag && tag.textContent.trim() === 'Accepted';
  }, row, { timeout: 15000 });
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
  assert.match(await page.getAttribute(row, 'class'), /row--changed/);
  // Screen readers hear it (a polite live region).
  await page.waitForFunction((ref) => document.querySelector('#announcer').textContent.includes(`${ref} is now Accepted`),
    state.reference);
  await shot(page, 'list-after-accept');

  // The referral's own page shows the history.
  await page.click(`${row} a`);
  await page.waitForSelector('#events li');
  const history = await page.textContent('#events');
  assert.match(history, /Submitted/);
  assert.match(history, /Accepted by handler-1/);
  await shot(page, 'referral-history');
  await page.context().close();
});

test('a reference whose check character is a symbol (* ~ $ =) opens by typing it', async () => {
  // About one reference in seven ends in a symbol; make referrals until one does.
  let id = null;
  for (let i = 0; i < 100 && !id; i++) {
    const res = await api(TOKEN_A, 'POST', '/api/v1/referrals', {
      requestId: `browser-symbol-${Date.now()}-${i}`,
      referral: { patient: {}, referrer: { type: 'REFERRER_TYPE_GP' }, problem: 'PRESENTING_PROBLEM_FALL' },
    });
    assert.equal(res.status, 200, res.text);
    if (/[*~$=]$/.test(res.json.record.id)) id = res.json.record.id;
  }
  assert.ok(id, 'no reference with a symbol in 100 referrals');
  const page = await newPage();
  await signIn(page, TOKEN_A);
  await page.click('#nav-mine a');
  // As read out on the phone: lower case, with spaces.
  await page.fill('#open-reference', id.toLowerCase().replace(/-/g, ' '));
  await page.press('#open-reference', 'Enter');
  await page.waitForSelector('#view-referral [data-row="status"]');
  assert.equal((await page.textContent('#referral-title')).trim(), `Referral ${id}`);
  await shot(page, 'referral-by-reference');
  await page.context().close();
});

test('keyboard only: the tab order reaches every field and Send, and Enter sends', async () => {
  const page = await newPage();
  await signIn(page, TOKEN_A);
  // A fresh load (the sign-in lasts for the tab): Tab from the top of the page.
  await page.goto(`${URL}/#submit`);
  await page.reload();
  await page.waitForSelector('#view-submit:not([hidden])');
  const order = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim());
    order.push(id);
    if (id === 'submit-button') break;
  }
  assert.equal(order[0], 'Skip to main content');
  const fields = ['nhs-number', 'dob-day', 'dob-month', 'dob-year', 'stated-age', 'sex', 'postcode',
    'patient-phone', 'referrer-type', 'referrer-name', 'referrer-org', 'referrer-phone', 'problem',
    'free-text', 'resp-rate', 'spo2', 'spo2-scale', 'oxygen', 'systolic-bp', 'pulse', 'consciousness',
    'temperature', 'submit-button'];
  assert.deepEqual(order.filter((id) => fields.includes(id)), fields, order.join(' '));

  // The focused button shows the yellow focus ring.
  const focusBg = await page.evaluate(() => getComputedStyle(document.activeElement).backgroundColor);
  assert.equal(focusBg, 'rgb(255, 235, 59)');
  await shot(page, 'keyboard-focus-on-send');

  // Typed by keyboard into the focused fields; Enter on Send submits.
  await page.focus('#nhs-number');
  await page.keyboard.type('9434765919');
  await page.keyboard.press('Tab');
  await page.keyboard.type('1');
  await page.keyboard.press('Tab');
  await page.keyboard.type('5');
  await page.keyboard.press('Tab');
  await page.keyboard.type('1948');
  await fill(page, { '#referrer-type': 'REFERRER_TYPE_GP', '#problem': 'PRESENTING_PROBLEM_FALL' });
  await page.focus('#submit-button');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#view-result:not([hidden])');
  assert.match((await page.textContent('#result-reference')).trim(), REFERENCE);
  // Focus moves to the result's heading for screen readers.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'result-title');

  // Enter in a text field submits the form too.
  await page.click('#another-referral');
  await page.waitForSelector('#view-submit:not([hidden])');
  await fill(page, { '#referrer-type': 'REFERRER_TYPE_CARER', '#problem': 'PRESENTING_PROBLEM_CONFUSION' });
  await page.focus('#postcode');
  await page.keyboard.type('LS1');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#view-result:not([hidden])');
  await shot(page, 'keyboard-submitted');
  await page.context().close();
});

test("the call handler's worklist: nearest to breach first, updated live", async () => {
  const page = await newPage();
  await signIn(page, TOKEN_HANDLER);
  assert.match(await page.textContent('#who-role'), /Call handler/);
  assert.equal(await page.isVisible('#nav-worklist'), true);

  // Two referrals on the same pathway with different target times.
  const submit = async (referral) => {
    const res = await api(TOKEN_A, 'POST', '/api/v1/referrals', {
      requestId: `browser-${Date.now()}-${Math.random().toString(16).slice(2)}`, referral,
    });
    assert.equal(res.status, 200, res.text);
    return res.json.record;
  };
  const base = JSON.parse(fs.readFileSync(new globalThis.URL('../../examples/referrals/missing-observations.json', import.meta.url)));
  const toCamel = (v) => (Array.isArray(v) ? v.map(toCamel) : v && typeof v === 'object'
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_([a-z0-9])/g, (m, c) => c.toUpperCase()), toCamel(x)]))
    : v);
  const referral = toCamel(base);
  delete referral.receivedAt;
  const first = await submit(referral);

  await page.click('#nav-worklist a');
  await page.selectOption('#worklist-pathway', first.pathway);
  await page.waitForSelector(`#worklist-table tr[data-id="${first.id}"]`);
  await page.evaluate(() => { window.notReloaded = true; });
  await shot(page, 'worklist');

  const second = await submit(referral);
  await page.waitForSelector(`#worklist-table tr[data-id="${second.id}"]`, { timeout: 15000 });
  assert.equal(await page.evaluate(() => window.notReloaded), true);
  const due = await page.$$eval('#worklist-table tbody tr', (rows) => rows.map((r) => r.dataset.due || ''));
  const at = (d) => (d ? Date.parse(d) : Infinity);
  const sorted = [...due].sort((a, b) => at(a) - at(b));
  assert.deepEqual(due, sorted, 'ordered by due time, no target last');
  await shot(page, 'worklist-updated');
  await page.context().close();
});

test('accessibility basics: labels, one heading, contrast of 4.5:1 or more', async () => {
  const page = await newPage();
  await signIn(page, TOKEN_A);
  await page.waitForSelector('#view-submit:not([hidden])');
  await fill(page, { ...VALID, '#spo2': '150' });
  await page.click('#submit-button');
  await page.waitForSelector('#submit-errors:not([hidden])');
  const check = () => page.evaluate(() => {
    const out = [];
    const visible = (el) => el.offsetParent !== null || el.getClientRects().length > 0;
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (visible(el) && el.labels.length === 0 && !el.getAttribute('aria-label')) out.push(`no label: #${el.id}`);
    }
    const h1s = Array.from(document.querySelectorAll('h1')).filter(visible);
    if (h1s.length !== 1) out.push(`${h1s.length} visible h1`);
    // Contrast of every visible text against the background it sits on.
    const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map((v) => v / 255)
      .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
      .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !visible(el) || el.closest('.visually-hidden, [hidden], option')) continue;
      if (el.closest('button:disabled')) continue;
      const a = lum(rgb(getComputedStyle(el).color));
      const b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < 4.5) out.push(`contrast ${ratio.toFixed(2)}: "${n.textContent.trim().slice(0, 40)}"`);
    }
    if (document.documentElement.lang !== 'en-GB') out.push('no lang');
    return out;
  });
  assert.deepEqual(await check(), [], 'the form with errors');
  await fill(page, VALID);
  await page.click('#submit-button');
  await page.waitForSelector('#view-result:not([hidden])');
  assert.deepEqual(await check(), [], 'the result');
  await page.click('#nav-mine a');
  await page.waitForSelector('#referrals-table:not([hidden])');
  assert.deepEqual(await check(), [], 'my referrals');
  await page.context().close();
});

test('no page errors and no Content-Security-Policy violations on any page', () => {
  assert.deepEqual(problems, []);
});
