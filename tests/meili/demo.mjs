// Headless-Chromium test of the InstantSearch demo (/meili-demo): the real
// instantsearch.js + @meilisearch/instant-meilisearch + meilisearch JS
// client (vendored, served by postsearch) against /meili, checked against
// /api/search. Usage: node tests/meili/demo.mjs http://127.0.0.1:PORT
import { chromium } from 'playwright-core';

const base = process.argv[2];
if (!base) {
  console.error('usage: node tests/meili/demo.mjs BASE_URL');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOT = process.env.MEILI_DEMO_SCREENSHOT;

let passed = 0;
function check(cond, msg) {
  if (!cond) throw new Error('FAILED: ' + msg);
  passed += 1;
}

async function api(params) {
  const url = new URL('/api/search', base);
  for (const [k, v] of params) url.searchParams.append(k, v);
  const r = await fetch(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const offsite = [];
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'error') console.error('console:', m.text()); });
  // Offline: any request that leaves the server fails the test.
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (!u.startsWith(base)) { offsite.push(u); return route.abort(); }
    return route.continue();
  });

  // ---- The meilisearch JS client itself, in the page (ES module). ----
  await page.goto(base + '/meili-demo');
  const direct = await page.evaluate(async () => {
    const { Meilisearch } = await import('/vendor/meilisearch.js');
    const client = new Meilisearch({ host: location.origin + '/meili' });
    const idx = client.index(document.body.dataset.indexUid);
    const health = await client.health();
    const r = await idx.search('docker', {
      filter: [['stack = django', 'stack = flask'], 'quality >= 50'],
      facets: ['stack', 'difficulty'],
      limit: 5,
      attributesToHighlight: ['title'],
    });
    let err = null;
    try { await idx.search('x', { sort: ['title:asc'] }); } catch (e) { err = e.cause?.code || e.code || String(e); }
    return { health, r, err };
  });
  check(direct.health.status === 'available', 'client.health()');
  const ref = await api([['q', 'quality:>=50 docker'], ['prefix', 'true'], ['facet', 'stack:django'],
    ['facet', 'stack:flask'], ['limit', '5']]);
  check(direct.r.estimatedTotalHits === ref.total, `JS client total ${direct.r.estimatedTotalHits} vs ${ref.total}`);
  check(JSON.stringify(direct.r.hits.map((h) => h.id)) === JSON.stringify(ref.hits.map((h) => h.id)),
    'JS client hit ids and order');
  check(direct.err === 'invalid_search_sort', `unsupported sort is a Meilisearch error, got ${direct.err}`);

  // ---- The demo page. ----
  await page.waitForSelector('.ais-Hits-item h3');

  // Facet values most frequent first (/meili lists the most frequent ones:
  // sortFacetValuesBy is "count"), 10 of them, "Show more" for up to 50.
  await page.waitForLoadState('networkidle');
  const everything = await api([['q', ''], ['limit', '0']]);
  const ranked = Object.entries(everything.facets.tools).sort((x, y) => y[1] - x[1]);
  check(ranked.length > 50, `more than 50 tools in the data (${ranked.length})`);
  const shownTools = () => page.$$eval('#tools .ais-RefinementList-item', (items) => items.map((i) => [
    i.querySelector('.ais-RefinementList-labelText').textContent.trim(),
    Number(i.querySelector('.ais-RefinementList-count').textContent.replace(/\D/g, '')),
  ]));
  const checkTop = async (n) => {
    const shown = await shownTools();
    check(shown.length === n, `${n} tools listed, got ${shown.length}`);
    check(JSON.stringify(shown.map((x) => x[1])) === JSON.stringify(ranked.slice(0, n).map((x) => x[1])),
      `tools counts are the ${n} largest, most frequent first: ${JSON.stringify(shown)}`);
    for (const [v, c] of shown) check(everything.facets.tools[v] === c, `tools ${v}: ${c} vs ${everything.facets.tools[v]}`);
  };
  await checkTop(10);
  await page.click('#tools .ais-RefinementList-showMore');
  await page.waitForFunction(() => document.querySelectorAll('#tools .ais-RefinementList-item').length > 10);
  await checkTop(50);
  await page.click('#tools .ais-RefinementList-showMore');
  await page.waitForFunction(() => document.querySelectorAll('#tools .ais-RefinementList-item').length === 10);
  const q = 'docker';
  await page.fill('.ais-SearchBox-input', q);
  await page.waitForFunction(() => document.querySelectorAll('.ais-Hits-item mark').length > 0, null, { timeout: 15000 });
  const marked = await page.$$eval('.ais-Hits-item h3 mark', (els) => els.map((e) => e.textContent.toLowerCase()));
  check(marked.length > 0 && marked.some((t) => t.startsWith('docker')), `highlighted title words: ${marked}`);

  const totalOf = async () => Number((await page.textContent('.ais-Stats-text')).replace(/[^0-9 ].*$/, '').replace(/\D/g, ''));
  const listCounts = (sel) => page.$$eval(`${sel} .ais-RefinementList-item`, (items) =>
    Object.fromEntries(items.map((i) => [
      i.querySelector('.ais-RefinementList-labelText').textContent.trim(),
      Number(i.querySelector('.ais-RefinementList-count').textContent.replace(/\D/g, '')),
    ])));
  const waitStable = async () => {
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(300);
  };
  await waitStable();

  // Unrefined: counts = /api/search facet counts for the same query.
  let expect = await api([['q', q], ['prefix', 'true'], ['limit', '10']]);
  check(await totalOf() === expect.total, 'stats total = /api/search total');
  let stack = await listCounts('#stack');
  check(Object.keys(stack).length > 1, 'stack list rendered');
  for (const [v, n] of Object.entries(stack)) check(expect.facets.stack[v] === n, `stack ${v}: ${n} vs ${expect.facets.stack[v]}`);

  // Refine stack, then tools: results narrow, counts are disjunctive.
  const pick = Object.keys(stack)[0];
  await page.click(`#stack .ais-RefinementList-item:has-text("${pick}") input`);
  await waitStable();
  expect = await api([['q', q], ['prefix', 'true'], ['facet', `stack:${pick}`]]);
  const afterStack = await totalOf();
  check(afterStack === expect.total, `after stack=${pick}: ${afterStack} vs ${expect.total}`);
  stack = await listCounts('#stack');
  for (const [v, n] of Object.entries(stack)) check(expect.facets.stack[v] === n, `disjunctive stack ${v}: ${n} vs ${expect.facets.stack[v]}`);
  let tools = await listCounts('#tools');
  for (const [v, n] of Object.entries(tools)) check(expect.facets.tools[v] === n, `tools ${v}: ${n} vs ${expect.facets.tools[v]}`);

  const tool = Object.keys(tools)[0];
  await page.click(`#tools .ais-RefinementList-item:has-text("${tool}") input`);
  await waitStable();
  expect = await api([['q', q], ['prefix', 'true'], ['facet', `stack:${pick}`], ['facet', `tools:${tool}`], ['limit', '10']]);
  const afterTools = await totalOf();
  check(afterTools === expect.total && afterTools <= afterStack, `after tools=${tool}: ${afterTools} vs ${expect.total}`);
  tools = await listCounts('#tools');
  for (const [v, n] of Object.entries(tools)) check(expect.facets.tools[v] === n, `disjunctive tools ${v}: ${n} vs ${expect.facets.tools[v]}`);
  stack = await listCounts('#stack');
  for (const [v, n] of Object.entries(stack)) check(expect.facets.stack[v] === n, `stack ${v} with tools: ${n} vs ${expect.facets.stack[v]}`);
  const ids = await page.$$eval('.ais-Hits-item h3', (els) => els.map((e) => e.dataset.id));
  check(JSON.stringify(ids) === JSON.stringify(expect.hits.map((h) => h.id)), 'refined hits = /api/search hits');

  // Paging: clear the tools refinement, go to page 2.
  await page.click(`#tools .ais-RefinementList-item:has-text("${tool}") input`);
  await waitStable();
  expect = await api([['q', q], ['prefix', 'true'], ['facet', `stack:${pick}`], ['limit', '10'], ['offset', '10']]);
  if (expect.total > 10) {
    await page.click('.ais-Pagination-item--page:not(.ais-Pagination-item--selected) a >> nth=0');
    await waitStable();
    const ids2 = await page.$$eval('.ais-Hits-item h3', (els) => els.map((e) => e.dataset.id));
    check(JSON.stringify(ids2) === JSON.stringify(expect.hits.map((h) => h.id)), `page 2 hits = /api/search offset 10`);
  }

  // Sort by views, and the quality menu.
  await page.selectOption('#sort select', { label: 'Most viewed' });
  await waitStable();
  expect = await api([['q', q], ['prefix', 'true'], ['facet', `stack:${pick}`], ['sort', 'views'], ['limit', '10']]);
  let ids3 = await page.$$eval('.ais-Hits-item h3', (els) => els.map((e) => e.dataset.id));
  check(JSON.stringify(ids3) === JSON.stringify(expect.hits.map((h) => h.id)), 'sorted by views');
  await page.click('#quality .ais-NumericMenu-item:has-text("70 to 84") input');
  await waitStable();
  expect = await api([['q', `quality:70..84 ${q}`], ['prefix', 'true'], ['facet', `stack:${pick}`], ['sort', 'views'], ['limit', '10']]);
  check(await totalOf() === expect.total, 'quality 70 to 84');
  if (SHOT) await page.screenshot({ path: SHOT, fullPage: true });
  check(offsite.length === 0, `no request left the server: ${offsite}`);
} finally {
  await browser.close();
}
console.log(`meili demo: ${passed} passed, 0 failed`);
