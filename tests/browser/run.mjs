#!/usr/bin/env node
// Browser tests for the postsearch widget and demo page, in headless Chromium.
//
//   node tests/browser/run.mjs http://127.0.0.1:PORT
//
// PORT is a running `postsearch serve` over the bundled data/. A second origin
// (http://127.0.0.1:EMBED_PORT, EMBED_PORT from the environment, 0 = any free
// port) is served by this script to embed the widget cross-origin; the server
// must allow it in POSTSEARCH_SERVER_CORS_ORIGINS. Exit status 0 iff all pass.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BASE = (process.argv[2] || process.env.POSTSEARCH_URL || '').replace(/\/+$/, '');
if (!/^https?:\/\//.test(BASE)) {
  console.error('usage: node tests/browser/run.mjs http://127.0.0.1:PORT  (EMBED_PORT=<port> optional)');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.BROWSER_TEST_TIMEOUT_MS || 15000);
const SCREENSHOT = path.join(ROOT, 'docs', 'demo.png');
// Phone-sized screenshots (docs/widget.md, README): the demo page, the
// InstantSearch demo and the widget at 390×844.
const PHONE = { width: 390, height: 844 };
const SHOTS = {
  demoPhone: path.join(ROOT, 'docs', 'demo-phone.png'),
  meiliPhone: path.join(ROOT, 'docs', 'meili-demo-phone.png'),
  widgetPhone: path.join(ROOT, 'docs', 'widget-phone.png'),
  widgetDark: path.join(ROOT, 'docs', 'widget-dark.png'),
};

// ---------------------------------------------------------------- helpers

class TestError extends Error {}
function assert(cond, msg) {
  if (!cond) throw new TestError(msg);
}
function eq(actual, expected, msg) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new TestError(`${msg}: expected ${e}, got ${a}`);
}

async function api(pathAndQuery) {
  const res = await fetch(BASE + pathAndQuery);
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { throw new TestError(`GET ${pathAndQuery}: not JSON (${res.status}): ${text.slice(0, 200)}`); }
  if (!res.ok) throw new TestError(`GET ${pathAndQuery}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return body;
}

// The demo page and the widget show copies of one post once (distinct=hash):
// the API is asked the same.
function searchQs({ q = '', facets = [], sort, limit = 10, offset = 0, prefix, distinct = 'hash' } = {}) {
  const p = new URLSearchParams();
  p.set('q', q);
  if (distinct) p.set('distinct', distinct);
  for (const f of facets) p.append('facet', f);
  if (sort) p.set('sort', sort);
  p.set('limit', String(limit));
  p.set('offset', String(offset));
  if (prefix) p.set('prefix', 'true');
  return '/api/search?' + p;
}

/** Waits until the demo page has rendered the search its URL describes. */
async function demoSettled(page) {
  await page.waitForFunction(
    () => document.body.dataset.search === location.pathname + location.search &&
      !document.body.hasAttribute('data-loading'),
    null, { timeout: TIMEOUT });
}

async function resultIds(page) {
  return page.$$eval('#results .result[data-id]', (els) => els.map((e) => e.dataset.id));
}

async function facetCounts(page, field) {
  return page.$$eval(`#facets fieldset[data-field="${field}"] label`, (labels) =>
    Object.fromEntries(labels.map((l) => [l.querySelector('input').value, Number(l.querySelector('.count').textContent)])));
}

async function total(page) {
  return Number(await page.textContent('#total'));
}

// ------------------------------------------------------------ embed origin

function startEmbedServer(port) {
  const page = (extra) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>embed test</title></head>
<body>
  <h1>Another site</h1>
  <p id="outside">Some text outside the widget.</p>
  <div id="search"></div>
  <script>
    window.__opened = [];
    document.getElementById('search').addEventListener('postsearch:open', function (e) {
      window.__opened.push(e.detail.id);
      if (${extra.prevent ? 'true' : 'false'}) e.preventDefault();
    });
  </script>
  <script src="${BASE}/widget.js" data-target="#search"${extra.clicks ? ' data-clicks="true"' : ''}></script>
</body></html>`;
  // /custom?attrs={"data-theme":"dark",...}&css=...: the widget with those
  // script attributes, under that style sheet.
  const custom = (attrs, css) => {
    const esc = (v) => String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    const extra = Object.entries(attrs).map(([k, v]) => ` ${k}="${esc(v)}"`).join('');
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>widget options</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:1rem}${css.replace(/</g, '')}</style></head>
<body>
  <h1>Another site</h1>
  <p id="outside">Some text outside the widget.</p>
  <div id="search"></div>
  <script src="${BASE}/widget.js" data-target="#search"${extra}></script>
</body></html>`;
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/custom') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(custom(JSON.parse(url.searchParams.get('attrs') || '{}'), url.searchParams.get('css') || ''));
    } else if (url.pathname === '/' || url.pathname === '/navigate' || url.pathname === '/clicks') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page({ prevent: url.pathname !== '/navigate', clicks: url.pathname === '/clicks' }));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// ---------------------------------------------------------------- the data

/** Picks words from the data: a common one (several result pages) and a prefix of it. */
async function chooseWords() {
  const candidates = (process.env.BROWSER_TEST_WORDS || 'queries,memory,kubernetes,python,production,cache,tests,django')
    .split(',').map((w) => w.trim()).filter(Boolean);
  let best = null;
  for (const w of candidates) {
    const r = await api(searchQs({ q: w, limit: 1 }));
    if (r.total >= 25) { best = w; break; }
    if (!best || r.total > best.total) best = { w, total: r.total };
  }
  const word = typeof best === 'string' ? best : best && best.w;
  assert(word, 'no candidate word has results in the index');
  const prefix = word.slice(0, Math.max(4, word.length - 3));
  return { word, prefix };
}

// ---------------------------------------------------------------- the tests

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

let ctx; // { browser, embedOrigin, word, prefix }

async function newPage({ viewport = { width: 1280, height: 900 }, colorScheme = 'light' } = {}) {
  const context = await ctx.browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors = [];
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console error: ' + m.text()); });
  page.assertNoErrors = () => assert(errors.length === 0, errors.join('\n'));
  page.closeAll = () => context.close();
  return page;
}

async function typeInWidget(page, text) {
  const input = page.locator('#search input[role="combobox"]');
  await input.click();
  await input.fill('');
  await input.pressSequentially(text, { delay: 25 });
  return input;
}

/** Types `text` into the widget and waits until the answer to the whole
 * of it is shown: on a busy machine the keystrokes come slower than the
 * widget's pause, and the answer to a shorter prefix may open the list
 * first. */
async function typeAndAnswer(page, text) {
  const answered = page.waitForResponse((r) => r.url().includes('/api/search?') &&
    new URL(r.url()).searchParams.get('q') === text);
  const input = await typeInWidget(page, text);
  await answered;
  await page.waitForFunction(() => !document.querySelector('#search [aria-busy]'), null, { timeout: TIMEOUT });
  return input;
}

async function waitOpen(page) {
  await page.waitForFunction(() => {
    const i = document.querySelector('#search input[role="combobox"]');
    return i && i.getAttribute('aria-expanded') === 'true' &&
      document.querySelectorAll('#search [role="listbox"] [role="option"]').length > 0;
  }, null, { timeout: TIMEOUT });
}

test('a. widget embedded from another origin: typing shows a listbox of highlighted options (ARIA combobox)', async () => {
  const page = await newPage();
  try {
    await page.goto(ctx.embedOrigin + '/');
    await page.waitForSelector('#search input[role="combobox"]');
    const input = await typeAndAnswer(page, ctx.prefix);
    await waitOpen(page);
    eq(await input.getAttribute('aria-expanded'), 'true', 'aria-expanded');
    eq(await input.getAttribute('aria-autocomplete'), 'list', 'aria-autocomplete');
    const listId = await input.getAttribute('aria-controls');
    assert(listId, 'input has no aria-controls');
    const list = page.locator(`[id="${listId}"]`);
    eq(await list.getAttribute('role'), 'listbox', 'aria-controls points at the listbox');
    assert(await list.isVisible(), 'listbox not visible');
    const options = await list.locator('[role="option"]').evaluateAll((els) =>
      els.map((e) => ({ id: e.id, html: e.innerHTML, selected: e.getAttribute('aria-selected') })));
    assert(options.length >= 1 && options.length <= 10, `expected 1–10 options, got ${options.length}`);
    assert(options.every((o) => o.id), 'every option has an id');
    assert(options.some((o) => /<mark>/i.test(o.html)), `no option contains <mark>: ${options[0].html.slice(0, 200)}`);
    assert(options.every((o) => o.selected === 'false'), 'no option is selected before arrow keys');
    // Same hits as the API answers for the typed prefix.
    const expected = await api(searchQs({ q: ctx.prefix, prefix: true, limit: 8 }));
    const ids = await list.locator('[role="option"]').evaluateAll((els) => els.map((e) => e.dataset.id));
    eq(ids, expected.hits.map((h) => h.id), 'options are the API hits for the typed prefix');
    // Live region announces the count.
    await page.waitForFunction(() => /\d+ results?/.test(document.querySelector('#search [aria-live="polite"]').textContent));
    // Styles injected once, with the psw- prefix.
    eq(await page.$$eval('style#psw-style', (s) => s.length), 1, 'one injected <style id=psw-style>');
    // Clicking outside closes.
    await page.click('#outside');
    eq(await input.getAttribute('aria-expanded'), 'false', 'aria-expanded after clicking outside');
    assert(!(await list.isVisible()), 'listbox still visible after clicking outside');
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

test('b. keyboard: ↓ activates an option, Enter opens it (postsearch:open, navigation to /?post=), Esc closes', async () => {
  const page = await newPage();
  try {
    // Page whose listener calls preventDefault: the event fires, nothing navigates.
    await page.goto(ctx.embedOrigin + '/');
    let input = await typeAndAnswer(page, ctx.prefix);
    await waitOpen(page);
    await input.press('ArrowDown');
    const first = page.locator('#search [role="option"]').first();
    eq(await first.getAttribute('aria-selected'), 'true', 'first option aria-selected after ↓');
    eq(await input.getAttribute('aria-activedescendant'), await first.getAttribute('id'), 'aria-activedescendant after ↓');
    await input.press('ArrowDown');
    const second = page.locator('#search [role="option"]').nth(1);
    if (await second.count()) {
      eq(await second.getAttribute('aria-selected'), 'true', 'second option selected after ↓↓');
      eq(await first.getAttribute('aria-selected'), 'false', 'first option deselected after ↓↓');
      await input.press('ArrowUp');
    }
    const firstId = await first.getAttribute('data-id');
    await input.press('Enter');
    await page.waitForFunction(() => window.__opened.length === 1);
    eq(await page.evaluate(() => window.__opened), [firstId], 'postsearch:open detail.id');
    eq(new URL(page.url()).origin, ctx.embedOrigin, 'no navigation when postsearch:open is defaultPrevented');

    // Esc closes the dropdown.
    input = await typeAndAnswer(page, ctx.prefix);
    await waitOpen(page);
    await input.press('Escape');
    eq(await input.getAttribute('aria-expanded'), 'false', 'aria-expanded after Esc');
    assert(!(await page.locator('#search [role="listbox"]').isVisible()), 'listbox visible after Esc');
    eq(await input.inputValue(), ctx.prefix, 'first Esc keeps the text');

    // Page that does not prevent: Enter navigates to the demo page with ?post=ID.
    await page.goto(ctx.embedOrigin + '/navigate');
    input = await typeAndAnswer(page, ctx.prefix);
    await waitOpen(page);
    await input.press('ArrowDown');
    const id = await page.locator('#search [role="option"]').first().getAttribute('data-id');
    await Promise.all([page.waitForURL((u) => u.origin === BASE && u.searchParams.get('post') === id), input.press('Enter')]);
    await page.waitForSelector('#post[data-loaded="true"]');
    const post = await api('/api/posts/' + encodeURIComponent(id));
    eq(await page.textContent('#post-title'), post.title, 'demo page shows the opened post');
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

test('b2. widget drops stale answers: a slow earlier response never overwrites a newer one', async () => {
  const page = await newPage();
  try {
    const slowQ = ctx.prefix.slice(0, Math.max(3, ctx.prefix.length - 2));
    await page.route((u) => u.pathname === '/api/search' && u.origin === BASE, async (route) => {
      const q = new URL(route.request().url()).searchParams.get('q');
      if (q === slowQ) await new Promise((r) => setTimeout(r, 1200));
      await route.continue().catch(() => {}); // aborted by the widget: fine
    });
    await page.goto(ctx.embedOrigin + '/');
    const input = await typeInWidget(page, slowQ);
    await page.waitForTimeout(300); // debounce fired: the slow request is in flight
    await input.pressSequentially(ctx.word.slice(slowQ.length), { delay: 20 });
    await waitOpen(page);
    await page.waitForTimeout(1500); // the slow answer (if not aborted) arrives now
    const expected = await api(searchQs({ q: ctx.word, prefix: true, limit: 8 }));
    const ids = await page.locator('#search [role="option"]').evaluateAll((els) => els.map((e) => e.dataset.id));
    eq(ids, expected.hits.map((h) => h.id), `options after the slow answer for "${slowQ}"`);
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

test('b3. Esc closes the list for good: an answer still on its way does not reopen it', async () => {
  const page = await newPage();
  try {
    const lateQ = ctx.word.slice(0, ctx.prefix.length + 1);
    assert(lateQ.length > ctx.prefix.length, `"${ctx.word}" is not longer than its prefix`);
    await page.route((u) => u.pathname === '/api/search' && u.origin === BASE, async (route) => {
      const q = new URL(route.request().url()).searchParams.get('q');
      if (q === lateQ) await new Promise((r) => setTimeout(r, 1200));
      await route.continue().catch(() => {}); // aborted by the widget: fine
    });
    await page.goto(ctx.embedOrigin + '/');
    const input = await typeAndAnswer(page, ctx.prefix);
    await waitOpen(page);
    const sent = page.waitForRequest((r) => r.url().startsWith(BASE + '/api/search') &&
      new URL(r.url()).searchParams.get('q') === lateQ);
    await input.press(lateQ.slice(-1));
    await sent; // the pause is over: the late answer is on its way
    await input.press('Escape');
    eq(await input.getAttribute('aria-expanded'), 'false', 'aria-expanded after Esc');
    await page.waitForTimeout(1500); // the late answer (if not dropped) arrives now
    eq(await input.getAttribute('aria-expanded'), 'false', 'aria-expanded once the late answer is due');
    assert(!(await page.locator('#search [role="listbox"]').isVisible()), 'the late answer reopened the list');
    eq(await input.inputValue(), lateQ, 'Esc keeps the text');
    // ↓ asks again for what is typed, and opens its answer.
    const again = page.waitForResponse((r) => r.url().includes('/api/search?') &&
      new URL(r.url()).searchParams.get('q') === lateQ);
    await input.press('ArrowDown');
    await again;
    await waitOpen(page);
    const expected = await api(searchQs({ q: lateQ, prefix: true, limit: 8 }));
    const ids = await page.locator('#search [role="option"]').evaluateAll((els) => els.map((e) => e.dataset.id));
    eq(ids, expected.hits.map((h) => h.id), `options for "${lateQ}" after ↓`);
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

test('c. demo page: a facet narrows the total, counts match the API, a second value of the field widens it (disjunctive)', async () => {
  const page = await newPage();
  try {
    await page.goto(BASE + '/');
    await demoSettled(page);
    const input = await typeInWidget(page, ctx.word);
    await input.press('Enter'); // no active option: full search
    await page.waitForURL((u) => u.searchParams.get('q') === ctx.word);
    await demoSettled(page);
    const all = await api(searchQs({ q: ctx.word }));
    const t0 = await total(page);
    eq(t0, all.total, '#total for the query');
    eq(await resultIds(page), all.hits.map((h) => h.id), 'results for the query');
    const stack0 = await facetCounts(page, 'stack');
    for (const [v, n] of Object.entries(stack0)) eq(n, all.facets.stack[v] ?? 0, `stack count for ${v}`);
    const apiTop = Object.entries(all.facets.stack).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10).map((e) => e[0]);
    eq(Object.keys(stack0).sort(), apiTop.sort(), 'stack facet shows the top values');

    // Tick a value that narrows.
    const v1 = Object.keys(stack0).find((v) => stack0[v] > 0 && stack0[v] < t0);
    assert(v1, `no stack value narrows ${t0} results: ${JSON.stringify(stack0)}`);
    await page.check(`#facets fieldset[data-field="stack"] input[type="checkbox"][value="${v1}"]`);
    await page.waitForURL((u) => u.searchParams.getAll('facet').includes('stack:' + v1));
    await demoSettled(page);
    const one = await api(searchQs({ q: ctx.word, facets: ['stack:' + v1] }));
    const t1 = await total(page);
    assert(t1 < t0, `ticking stack:${v1} did not narrow: ${t0} → ${t1}`);
    // The total counts groups of copies once (distinct=hash); the facet
    // counts count posts: the total is at most the count, and equal to it
    // less the copies.
    assert(t1 <= stack0[v1], `total after stack:${v1} (${t1}) exceeds its count shown before (${stack0[v1]})`);
    eq(one.distinct.posts, stack0[v1], `posts after stack:${v1} equal its count shown before`);
    eq(t1, one.total, `#total vs API for stack:${v1}`);
    const copies = await page.textContent('#copies');
    eq(copies, one.distinct.posts > one.total ? ` (${one.distinct.posts} posts; copies shown once)` : '', 'copies note');
    const stack1 = await facetCounts(page, 'stack');
    for (const [v, n] of Object.entries(stack1)) eq(n, one.facets.stack[v] ?? 0, `stack count for ${v} with stack:${v1}`);
    eq(stack1, stack0, 'stack counts ignore the stack selection (disjunctive)');
    const diff1 = await facetCounts(page, 'difficulty');
    for (const [v, n] of Object.entries(diff1)) eq(n, one.facets.difficulty[v] ?? 0, `difficulty count for ${v} with stack:${v1}`);

    // A second value of the same field widens (OR), by posts v1 lacked.
    let v2 = null, two = null;
    for (const v of Object.keys(stack1)) {
      if (v === v1 || !stack1[v]) continue;
      const r = await api(searchQs({ q: ctx.word, facets: ['stack:' + v1, 'stack:' + v] }));
      if (r.total > t1) { v2 = v; two = r; break; }
    }
    assert(v2, `no second stack value widens stack:${v1}`);
    await page.check(`#facets fieldset[data-field="stack"] input[type="checkbox"][value="${v2}"]`);
    await page.waitForURL((u) => u.searchParams.getAll('facet').includes('stack:' + v2));
    await demoSettled(page);
    const t2 = await total(page);
    assert(t2 > t1, `ticking a second stack value did not widen: ${t1} → ${t2}`);
    eq(t2, two.total, `#total vs API for stack:${v1} OR stack:${v2}`);
    assert(t2 <= stack1[v1] + stack1[v2], `OR total ${t2} exceeds the sum of the two counts`);
    const stack2 = await facetCounts(page, 'stack');
    for (const [v, n] of Object.entries(stack2)) eq(n, two.facets.stack[v] ?? 0, `stack count for ${v} with two values`);

    // URL state survives a reload.
    await page.reload();
    await demoSettled(page);
    eq(await total(page), t2, '#total after reload');
    const checked = await page.$$eval('#facets fieldset[data-field="stack"] input:checked', (els) => els.map((e) => e.value).sort());
    eq(checked, [v1, v2].sort(), 'checked boxes after reload');
    eq(await page.inputValue('#search input[role="combobox"]'), ctx.word, 'query in the box after reload');
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

test('c2. demo page: typing in a facet list\'s search box shows the values found, counted as the API counts them', async () => {
  const page = await newPage();
  try {
    await page.goto(BASE + '/?q=' + encodeURIComponent(ctx.word));
    await demoSettled(page);
    const all = await api(searchQs({ q: ctx.word }));
    // Type the beginning of a tool that is not among the 10 shown, if any.
    const shown = await facetCounts(page, 'tools');
    const tools = Object.entries(all.facets.tools).filter(([, n]) => n > 0).map(([v]) => v);
    const target = tools.find((v) => !(v in shown)) || tools[0];
    assert(target, `no tools for ${ctx.word}`);
    const typed = target.slice(0, 3);
    const box = page.locator('#facets fieldset[data-field="tools"] input.facet-search');
    await box.click();
    await box.pressSequentially(typed, { delay: 30 });
    const expected = await api(`/api/facets/tools/search?q=${encodeURIComponent(typed)}&query=${encodeURIComponent(ctx.word)}&limit=10`);
    const want = Object.fromEntries(expected.hits.map((h) => [h.value, h.count]));
    await page.waitForFunction((w) => {
      const labels = [...document.querySelectorAll('#facets fieldset[data-field="tools"] label')];
      return labels.length === Object.keys(w).length && labels.every((l) => l.querySelector('input').value in w);
    }, want, { timeout: TIMEOUT });
    eq(await facetCounts(page, 'tools'), want, `tools matching "${typed}"`);
    assert(target in want, `${target} found by "${typed}"`);
    eq(await box.inputValue(), typed, 'the box keeps what was typed');
    const focusedBox = await page.evaluate(() => document.activeElement && document.activeElement.classList.contains('facet-search'));
    assert(focusedBox, 'the search box keeps the focus while the list is redrawn');
    // Ticking a value found narrows the results to its count.
    await page.check(`#facets fieldset[data-field="tools"] input[type="checkbox"][value="${target}"]`);
    await page.waitForURL((u) => u.searchParams.getAll('facet').includes('tools:' + target));
    await demoSettled(page);
    const picked = await api(searchQs({ q: ctx.word, facets: ['tools:' + target] }));
    eq(picked.distinct.posts, want[target], `posts after tools:${target}`);
    eq(await total(page), picked.total, `total after tools:${target}`);
    // Clearing the box shows the top values again.
    await box.fill('');
    await page.waitForFunction(() => !document.querySelector('#facets fieldset[data-field="tools"] input.facet-search').value);
    await page.waitForTimeout(100);
    const again = await facetCounts(page, 'tools');
    assert(Object.keys(again).length >= Math.min(10, tools.length), 'the top values are back');
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

test('d. pagination: next page shows different results; sort changes the order', async () => {
  const page = await newPage();
  try {
    await page.goto(BASE + '/?q=' + encodeURIComponent(ctx.word));
    await demoSettled(page);
    const t = await total(page);
    assert(t > 10, `need more than 10 results for "${ctx.word}", got ${t}`);
    const pages = Math.ceil(t / 10);
    eq(await page.textContent('#page-info'), `page 1 of ${pages}`, 'page info');
    assert(await page.isDisabled('#prev'), '#prev enabled on page 1');
    const p1 = await resultIds(page);
    eq(p1.length, 10, 'results on page 1');
    await page.click('#next');
    await page.waitForURL((u) => u.searchParams.get('page') === '2');
    await demoSettled(page);
    const p2 = await resultIds(page);
    assert(p2.length >= 1, 'page 2 is empty');
    assert(p2.every((id) => !p1.includes(id)), `page 2 repeats page-1 results: ${p2.filter((id) => p1.includes(id))}`);
    eq(p2, (await api(searchQs({ q: ctx.word, offset: 10 }))).hits.map((h) => h.id), 'page 2 vs API offset=10');
    eq(await page.textContent('#page-info'), `page 2 of ${pages}`, 'page info on page 2');
    await page.click('#prev');
    await page.waitForURL((u) => !u.searchParams.has('page'));
    await demoSettled(page);
    eq(await resultIds(page), p1, 'back to page 1');
    // Sort by views: the shown view counts descend and match the API.
    await page.selectOption('#sort', 'views');
    await page.waitForURL((u) => u.searchParams.get('sort') === 'views');
    await demoSettled(page);
    eq(await resultIds(page), (await api(searchQs({ q: ctx.word, sort: 'views' }))).hits.map((h) => h.id), 'sort=views vs API');
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

test('e. opening a post shows it, and a Similar posts box with ≥1 other post', async () => {
  const page = await newPage();
  try {
    await page.goto(BASE + '/?q=' + encodeURIComponent(ctx.word));
    await demoSettled(page);
    const first = page.locator('#results .result[data-id]').first();
    const id = await first.getAttribute('data-id');
    await first.locator('a.result-title').click();
    await page.waitForURL((u) => u.searchParams.get('post') === id);
    await page.waitForSelector('#post[data-loaded="true"]');
    await page.waitForSelector('#similar[data-loaded]');
    assert(await page.isVisible('#post'), '#post not visible');
    const post = await api('/api/posts/' + encodeURIComponent(id));
    eq(await page.textContent('#post-title'), post.title, 'post title');
    const blocks = String(post.body || '').split(/\n{2,}/).filter((b) => b.trim());
    const paras = await page.$$eval('#post-body > *', (els) => els.length);
    eq(paras, blocks.length, 'one element per body block');
    const listBlocks = blocks.filter((b) => b.trim().split('\n').length > 1).length;
    eq(await page.$$eval('#post-body > ul', (els) => els.length), listBlocks, 'multi-line blocks render as <ul>');
    const similar = await page.$$eval('#similar .similar-item[data-id]', (els) => els.map((e) => e.dataset.id));
    assert(similar.length >= 1, 'Similar posts box is empty');
    assert(!similar.includes(id), `Similar posts include the post itself (${id})`);
    eq(similar, (await api('/api/posts/' + encodeURIComponent(id) + '/similar?limit=5')).hits.map((h) => h.id), 'similar vs API');
    // Following a similar post opens it.
    const other = similar[0];
    await page.click(`#similar .similar-item[data-id="${other}"] a`);
    await page.waitForURL((u) => u.searchParams.get('post') === other);
    await page.waitForSelector(`#post[data-id="${other}"][data-loaded="true"]`);
    // Back returns to the first post, then to the results.
    await page.goBack();
    await page.waitForSelector(`#post[data-id="${id}"][data-loaded="true"]`);
    await page.goBack();
    await page.waitForSelector('#list-view:not([hidden])');
    // Direct load of ?post= and a missing post.
    await page.goto(BASE + '/?post=' + encodeURIComponent(id));
    await page.waitForSelector('#post[data-loaded="true"]');
    eq(await page.textContent('#post-title'), post.title, 'post title on direct load');
    await page.goto(BASE + '/?post=' + encodeURIComponent('no-such-post-<b>x</b>'));
    await page.waitForSelector('#post[data-loaded="error"]');
    eq(await page.textContent('#post-title'), 'Post not found', 'missing post');
  } finally { await page.closeAll(); }
});

test('f. screenshot of the demo page with results and facets → docs/demo.png', async () => {
  const page = await newPage();
  try {
    const all = await api(searchQs({ q: ctx.word }));
    const top = Object.entries(all.facets.stack || {}).sort((a, b) => b[1] - a[1])[0];
    const qs = new URLSearchParams({ q: ctx.word });
    if (top && top[1] < all.total) qs.append('facet', 'stack:' + top[0]);
    await page.goto(BASE + '/?' + qs);
    await demoSettled(page);
    assert((await resultIds(page)).length > 0, 'no results to screenshot');
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: false });
    assert(fs.statSync(SCREENSHOT).size > 10000, 'screenshot is suspiciously small');
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

/** The values of a facet list as shown, in order, with their counts. */
async function facetList(page, field) {
  return page.$$eval(`#facets fieldset[data-field="${field}"] label`, (labels) =>
    labels.map((l) => [l.querySelector('input').value, Number(l.querySelector('.count').textContent)]));
}

/** The API's values of a facet, most frequent first, ties by value. */
function byCount(counts) {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

test('g. demo page: facet values most frequent first, "Show more" lists more of them in the same order', async () => {
  const page = await newPage();
  try {
    await page.goto(BASE + '/');
    await demoSettled(page);
    const all = await api(searchQs({ q: '' }));
    const want = byCount(all.facets.tools);
    assert(want.length > 10, `need more than 10 tools, got ${want.length}`);
    const shown = await facetList(page, 'tools');
    eq(shown, want.slice(0, 10), 'the 10 most frequent tools, most frequent first');
    const more = page.locator('#facets fieldset[data-field="tools"] button.more');
    assert(await more.isVisible(), '"Show more" is not visible');
    eq((await more.textContent()).trim(), 'Show more', 'button text');
    await more.click();
    const expanded = await facetList(page, 'tools');
    eq(expanded, want.slice(0, 50), 'after "Show more": the 50 most frequent');
    eq(await more.getAttribute('aria-expanded'), 'true', 'aria-expanded after "Show more"');
    eq((await more.textContent()).trim(), 'Show fewer', 'button text when expanded');
    // Ticking a value keeps the list expanded and ordered.
    const [v] = expanded[12];
    await page.check(`#facets fieldset[data-field="tools"] input[value="${v}"]`);
    await page.waitForURL((u) => u.searchParams.getAll('facet').includes('tools:' + v));
    await demoSettled(page);
    eq((await facetList(page, 'tools')).length, 50, 'still expanded after a selection');
    await more.click();
    const fewer = await facetList(page, 'tools');
    eq(fewer.length, 11, 'back to 10 after "Show fewer", and the value ticked');
    eq(fewer[10][0], v, 'the value ticked is kept, last');
    // A list with few values has no button.
    assert(!(await page.isVisible('#facets fieldset[data-field="difficulty"] button.more')), 'difficulty has a "Show more"');
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

test('h. phone viewport (390×844): the filters fold into one line, the first results are on the first screen → docs/demo-phone.png, docs/meili-demo-phone.png', async () => {
  const page = await newPage({ viewport: PHONE });
  try {
    await page.goto(BASE + '/?q=' + encodeURIComponent(ctx.word));
    await demoSettled(page);
    eq(await page.evaluate(() => document.getElementById('filters').open), false, 'filters folded on a phone');
    assert(await page.isVisible('#filters > summary'), 'the "Filters" toggle is not visible');
    assert(!(await page.isVisible('#facets fieldset[data-field="stack"]')), 'facets visible while folded');
    const boxes = await page.$$eval('#results .result', (els) => els.slice(0, 2).map((e) => e.getBoundingClientRect().toJSON()));
    assert(boxes.length === 2, 'fewer than 2 results');
    for (const b of boxes) assert(b.bottom <= PHONE.height, `a first result ends below the first screen: ${JSON.stringify(b)}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the page is ${overflow}px wider than the phone`);
    fs.mkdirSync(path.dirname(SHOTS.demoPhone), { recursive: true });
    await page.screenshot({ path: SHOTS.demoPhone });
    // The toggle opens the filters, and they work.
    await page.click('#filters > summary');
    assert(await page.isVisible('#facets fieldset[data-field="stack"]'), 'facets hidden after opening');
    const [v] = (await facetList(page, 'stack'))[0];
    await page.check(`#facets fieldset[data-field="stack"] input[value="${v}"]`);
    await page.waitForURL((u) => u.searchParams.getAll('facet').includes('stack:' + v));
    await demoSettled(page);
    eq((await page.textContent('#active-count')).trim(), '(1 selected)', 'selected count in the toggle');
    page.assertNoErrors();

    // The InstantSearch demo folds its filters the same way.
    await page.goto(BASE + '/meili-demo');
    await page.waitForSelector('.ais-Hits-item h3');
    await page.waitForSelector('#tools .ais-RefinementList-item', { state: 'attached' });
    eq(await page.evaluate(() => document.getElementById('filters').open), false, 'meili-demo: filters folded');
    const first = await page.$eval('.ais-Hits-item', (e) => e.getBoundingClientRect().toJSON());
    assert(first.bottom <= PHONE.height, `meili-demo: the first hit ends below the first screen: ${JSON.stringify(first)}`);
    await page.screenshot({ path: SHOTS.meiliPhone });
    await page.click('#filters > summary');
    assert(await page.isVisible('#tools .ais-RefinementList-item'), 'meili-demo: facets hidden after opening');
  } finally { await page.closeAll(); }
});

function customUrl(attrs, css = '') {
  return ctx.embedOrigin + '/custom?' + new URLSearchParams({ attrs: JSON.stringify(attrs), css });
}

const styleOf = (page, sel, prop) => page.$eval(sel, (e, p) => getComputedStyle(e).getPropertyValue(p), prop);

test('i. widget options: dark mode (preference and data-theme), custom properties, translated messages, facet scope → docs/widget-phone.png', async () => {
  const WHITE = 'rgb(255, 255, 255)';
  // The reader's preference, with the default theme ("auto").
  for (const [scheme, attrs, dark] of [['dark', {}, true], ['light', {}, false],
    ['dark', { 'data-theme': 'light' }, false], ['light', { 'data-theme': 'dark' }, true]]) {
    const page = await newPage({ colorScheme: scheme, viewport: { width: 760, height: 620 } });
    try {
      // A page that follows the reader's preference too.
      await page.goto(customUrl(attrs, '@media (prefers-color-scheme: dark){body{background:#121417;color:#e8eaed}}'));
      await page.waitForSelector('#search input[role="combobox"]');
      const bg = await styleOf(page, '#search .psw-input', 'background-color');
      const what = `prefers ${scheme}, ${JSON.stringify(attrs)}`;
      if (dark) assert(bg !== WHITE && /rgb\((\d+), (\d+), (\d+)\)/.test(bg) && Number(RegExp.$1) < 80, `${what}: background ${bg} is not dark`);
      else eq(bg, WHITE, `${what}: background`);
      eq(await page.getAttribute('#search .psw-root', 'data-theme'), attrs['data-theme'] || 'auto', `${what}: data-theme`);
      if (scheme === 'dark' && dark) {
        const input = await typeAndAnswer(page, ctx.prefix);
        await waitOpen(page);
        await input.press('ArrowDown');
        await page.screenshot({ path: SHOTS.widgetDark });
      }
      page.assertNoErrors();
    } finally { await page.closeAll(); }
  }

  // Custom properties set by the page, and translated messages.
  const page = await newPage({ viewport: PHONE });
  try {
    const attrs = {
      'data-placeholder': 'Beiträge suchen…',
      'data-msg-no-results': 'Keine Treffer',
      'data-msg-results': '{count} Treffer',
      'data-messages': JSON.stringify({ oneResult: 'Ein Treffer', listLabel: 'Suchergebnisse' }),
    };
    await page.goto(customUrl(attrs, '#search{--psw-radius:14px;--psw-accent:rgb(200, 0, 100);--psw-font:Georgia, serif}'));
    await page.waitForSelector('#search input[role="combobox"]');
    eq(await page.getAttribute('#search input', 'placeholder'), 'Beiträge suchen…', 'data-placeholder');
    eq(await page.getAttribute('#search [role="listbox"]', 'aria-label'), 'Suchergebnisse', 'data-messages listLabel');
    eq(await styleOf(page, '#search .psw-input', 'border-top-left-radius'), '14px', '--psw-radius');
    assert(/Georgia/.test(await styleOf(page, '#search .psw-root', 'font-family')), '--psw-font');
    let input = await typeInWidget(page, 'zzqqxxjj');
    await page.waitForSelector('#search .psw-empty', { state: 'attached' });
    eq(await page.textContent('#search .psw-empty'), 'Keine Treffer', 'data-msg-no-results');
    eq(await styleOf(page, '#search .psw-input', 'border-top-color'), 'rgb(200, 0, 100)', '--psw-accent on focus');
    input = await typeAndAnswer(page, ctx.prefix);
    await waitOpen(page);
    await page.waitForFunction(() => /\d+ Treffer|Ein Treffer/.test(document.querySelector('#search [aria-live="polite"]').textContent));
    page.assertNoErrors();
  } finally { await page.closeAll(); }

  // The default look on a phone, for docs/widget.md.
  const phone = await newPage({ viewport: PHONE });
  try {
    await phone.goto(customUrl({}));
    const input = await typeAndAnswer(phone, ctx.prefix);
    await waitOpen(phone);
    await input.press('ArrowDown');
    await phone.screenshot({ path: SHOTS.widgetPhone });
    phone.assertNoErrors();
  } finally { await phone.closeAll(); }

  // Scoped by facets: every search carries them, the options are the API's.
  const all = await api(searchQs({ q: ctx.prefix, prefix: true, limit: 8 }));
  const scope = byCount(all.facets.stack).find(([, n]) => n > 0 && n < (all.distinct ? all.distinct.posts : all.total));
  assert(scope, 'no stack value narrows the prefix search');
  const scoped = await newPage();
  try {
    const sent = [];
    scoped.on('request', (r) => { if (r.url().startsWith(BASE + '/api/search')) sent.push(new URL(r.url())); });
    await scoped.goto(customUrl({ 'data-facet': `stack:${scope[0]}`, 'data-limit': '5' }));
    await typeAndAnswer(scoped, ctx.prefix);
    await waitOpen(scoped);
    const expected = await api(searchQs({ q: ctx.prefix, prefix: true, limit: 5, facets: ['stack:' + scope[0]] }));
    const ids = await scoped.locator('#search [role="option"]').evaluateAll((els) => els.map((e) => e.dataset.id));
    eq(ids, expected.hits.map((h) => h.id), `options scoped by stack:${scope[0]}`);
    assert(sent.length > 0 && sent.every((u) => u.searchParams.getAll('facet').join() === 'stack:' + scope[0]),
      `every search carries facet=stack:${scope[0]}: ${sent.map(String)}`);
    eq(sent[sent.length - 1].searchParams.get('limit'), '5', 'data-limit');
    scoped.assertNoErrors();
  } finally { await scoped.closeAll(); }
});

test('j. demo page: a failed search says why, shows no results and no live pager; "Try again" recovers', async () => {
  const page = await newPage();
  try {
    // A query the server refuses (400 naming q).
    await page.goto(BASE + '/?q=' + encodeURIComponent('quality:>=lots'));
    await demoSettled(page);
    assert(await page.isVisible('#error'), 'no error shown for a refused query');
    eq(await page.getAttribute('body', 'data-error'), '400', 'data-error');
    const msg = await page.textContent('#error-message');
    assert(/did not accept/.test(msg) && /quality/.test(msg), `unclear message: ${msg}`);
    assert(!(await page.isVisible('#retry')), '"Try again" offered for a query the server refused');
    assert(!(await page.isVisible('#pager')), 'the pager is visible after a failed search');
    assert(await page.isDisabled('#next') && await page.isDisabled('#prev'), 'pager buttons enabled');
    eq(await resultIds(page), [], 'results after a failed search');

    // A server that cannot be reached, from page 1 of a good search.
    await page.goto(BASE + '/?q=' + encodeURIComponent(ctx.word));
    await demoSettled(page);
    assert(await page.isVisible('#pager') && !(await page.isVisible('#error')), 'good search: pager, no error');
    const searches = (u) => u.pathname === '/api/search';
    await page.route(searches, (route) => route.abort('connectionrefused'));
    await page.click('#next');
    await page.waitForURL((u) => u.searchParams.get('page') === '2');
    await demoSettled(page);
    eq(await page.getAttribute('body', 'data-error'), 'network', 'data-error for an unreachable server');
    assert(/could not be reached/.test(await page.textContent('#error-message')), 'message for an unreachable server');
    assert(await page.isVisible('#retry'), 'no "Try again" while the server is unreachable');
    assert(!(await page.isVisible('#pager')), 'the pager is visible while the server is unreachable');
    eq(await resultIds(page), [], 'results while unreachable');
    await page.unroute(searches);
    await page.click('#retry');
    await page.waitForFunction(() => !document.body.hasAttribute('data-error') && !document.body.hasAttribute('data-loading'));
    eq(await resultIds(page), (await api(searchQs({ q: ctx.word, offset: 10 }))).hits.map((h) => h.id), 'page 2 after "Try again"');
    assert(await page.isVisible('#pager') && !(await page.isVisible('#error')), 'pager back, error gone');
  } finally { await page.closeAll(); }
});

test('k. clicks: the widget reports the hit opened only with data-clicks="true", and the server counts it', async () => {
  const page = await newPage();
  try {
    const sent = [];
    page.on('request', (r) => {
      if (r.url().startsWith(BASE + '/api/analytics/click')) sent.push({ method: r.method(), body: r.postData() });
    });
    const openFirst = async () => {
      const input = await typeAndAnswer(page, ctx.prefix);
      await waitOpen(page);
      await input.press('ArrowDown');
      const id = await page.locator('#search [role="option"]').first().getAttribute('data-id');
      await input.press('Enter');
      await page.waitForFunction(() => window.__opened.length === 1);
      return id;
    };
    // Off by default: nothing is sent.
    await page.goto(ctx.embedOrigin + '/');
    await openFirst();
    await page.waitForTimeout(300);
    eq(sent.length, 0, 'click reports without data-clicks');
    // On: one report with the query shown, the post and its place.
    await page.goto(ctx.embedOrigin + '/clicks');
    const id = await openFirst();
    const deadline = Date.now() + TIMEOUT;
    while (sent.length === 0 && Date.now() < deadline) await page.waitForTimeout(50);
    eq(sent.length, 1, 'one click report');
    eq(sent[0].method, 'POST', 'reported with POST');
    eq(JSON.parse(sent[0].body), { q: ctx.prefix, id, position: 0 }, 'the report names the query, the post and its place');
    const token = process.env.ANALYTICS_TOKEN;
    if (token) {
      // The server counted it (analytics.clicks = true in this run).
      let clicks = 0;
      while (clicks === 0 && Date.now() < deadline) {
        const res = await fetch(BASE + '/api/analytics?days=1', { headers: { authorization: 'Bearer ' + token } });
        eq(res.status, 200, 'GET /api/analytics');
        clicks = (await res.json()).totals.clicks;
        if (!clicks) await new Promise((r) => setTimeout(r, 100));
      }
      eq(clicks, 1, 'clicks counted by the server');
    }
    page.assertNoErrors();
  } finally { await page.closeAll(); }
});

// ---------------------------------------------------------------- runner

async function main() {
  const started = Date.now();
  const embedPort = Number(process.env.EMBED_PORT || 0);
  const server = await startEmbedServer(embedPort);
  const embedOrigin = `http://127.0.0.1:${server.address().port}`;
  console.log(`# server ${BASE}, embed origin ${embedOrigin} (EMBED_PORT=${server.address().port})`);
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`Chromium not found at ${CHROMIUM} (set CHROMIUM=/path/to/chromium)`);
    process.exit(2);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let failed = 0;
  try {
    const words = await chooseWords();
    console.log(`# query word "${words.word}", typed prefix "${words.prefix}"`);
    ctx = { browser, embedOrigin, ...words };
    const only = process.env.BROWSER_TEST_ONLY;
    for (const t of tests) {
      if (only && !t.name.startsWith(only)) continue;
      const t0 = Date.now();
      try {
        await t.fn();
        console.log(`ok - ${t.name} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        console.log(`not ok - ${t.name}\n  ${String(e instanceof TestError ? e.message : e.stack || e).replace(/\n/g, '\n  ')}`);
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`# ${tests.length - failed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error('browser tests crashed:', e); process.exit(1); });
