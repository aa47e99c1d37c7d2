// Headless-Chromium test of InstantSearch embedded on a site's OWN origin
// (not served by postsearch), as a site owner deploys it: a static server on
// another loopback port serves the page and the libraries; the page talks
// to postsearch's /meili across origins. No request is intercepted (no
// page.route()): preflights, CORS headers and answers are the browser's and
// the server's own. Run twice: with the vendored meilisearch client (0.57,
// the one instant-meilisearch 0.31.3 declares) and with the newest (0.62).
// A searchable refinement list sends facet searches, checked against
// /api/facets/{field}/search.
//
// Usage: SITE_PORT=P node tests/meili/cross_origin.mjs http://127.0.0.1:PORT
// (postsearch must allow the origin http://127.0.0.1:P in server.cors_origins)
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const base = process.argv[2];
const sitePort = Number(process.env.SITE_PORT || 0);
if (!base || !sitePort) {
  console.error('usage: SITE_PORT=P node tests/meili/cross_origin.mjs BASE_URL');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const vendor = (f) => new URL(`../../crates/server/web/vendor/${f}`, import.meta.url);
const files = {
  '/lib/instantsearch.js': vendor('instantsearch.production.min.js'),
  '/lib/instant-meilisearch.js': vendor('instant-meilisearch.js'),
  '/lib/meilisearch-0.57.js': vendor('meilisearch.js'),
  '/lib/meilisearch-0.62.js': new URL('../../node_modules/meilisearch-latest/dist/index.js', import.meta.url),
};

// The site's page: the libraries from the site itself, the search from
// postsearch's origin.
const page = (client) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>a site</title></head>
<body>
<div id="searchbox"></div><div id="stats"></div>
<div id="tools"></div><div id="hits"></div>
<script src="/lib/instantsearch.js"></script>
<script type="importmap">{"imports": {"meilisearch": "/lib/meilisearch-${client}.js"}}</script>
<script type="module">
import { instantMeiliSearch } from '/lib/instant-meilisearch.js';
const { searchClient } = instantMeiliSearch(${JSON.stringify(base + '/meili')}, '');
const { searchBox, hits, refinementList, stats } = instantsearch.widgets;
const search = instantsearch({ indexName: 'posts', searchClient });
search.addWidgets([
  searchBox({ container: '#searchbox' }),
  stats({ container: '#stats' }),
  refinementList({ container: '#tools', attribute: 'tools', operator: 'or', searchable: true }),
  hits({ container: '#hits', templates: { item: (hit, { html }) => html\`<h3 data-id="\${hit.id}">\${hit.title}</h3>\` } }),
]);
search.start();
</script>
</body></html>`;

const site = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/' || path === '/latest') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(page(path === '/' ? '0.57' : '0.62'));
  }
  if (files[path]) {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
    return res.end(readFileSync(files[path]));
  }
  res.writeHead(404);
  res.end();
});
await new Promise((resolve) => site.listen(sitePort, '127.0.0.1', resolve));
const siteOrigin = `http://127.0.0.1:${sitePort}`;

let passed = 0;
function check(cond, msg) {
  if (!cond) throw new Error('FAILED: ' + msg);
  passed += 1;
}

async function json(path, params) {
  const url = new URL(path, base);
  for (const [k, v] of params) url.searchParams.append(k, v);
  const r = await fetch(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

// The preflight a browser sends for the JS client's requests.
const pre = await fetch(base + '/meili/multi-search', {
  method: 'OPTIONS',
  headers: {
    origin: siteOrigin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'content-type,x-meilisearch-client',
  },
});
check(pre.status === 204, `preflight status ${pre.status}`);
const allowHeaders = (pre.headers.get('access-control-allow-headers') || '').toLowerCase();
check(allowHeaders.includes('x-meilisearch-client'), `preflight allows X-Meilisearch-Client: ${allowHeaders}`);
check(pre.headers.get('access-control-allow-origin') === siteOrigin, 'preflight allows the site origin');
check(Number(pre.headers.get('access-control-max-age')) > 0, 'preflight has a max age');

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (const [path, client] of [['/', '0.57'], ['/latest', '0.62']]) {
    const tab = await browser.newPage();
    const errors = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const answered = [];
    tab.on('response', (r) => { if (r.url().startsWith(base)) answered.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
    const failed = [];
    tab.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));

    await tab.goto(siteOrigin + path);
    await tab.waitForSelector('.ais-Hits-item h3', { timeout: 15000 });
    const totalOf = async () => Number((await tab.textContent('.ais-Stats-text')).replace(/[^0-9 ].*$/, '').replace(/\D/g, ''));
    const all = await json('/api/search', [['q', ''], ['limit', '0']]);
    check(await totalOf() === all.total, `client ${client}: the page lists every post (${all.total})`);

    // Search, then search within the tools list.
    await tab.fill('#searchbox .ais-SearchBox-input', 'docker');
    await tab.waitForFunction((n) => {
      const t = document.querySelector('.ais-Stats-text');
      return t && !t.textContent.replace(/\D/g, '').startsWith(String(n));
    }, all.total, { timeout: 15000 });
    await tab.waitForLoadState('networkidle');
    const docker = await json('/api/search', [['q', 'docker'], ['prefix', 'true'], ['limit', '0']]);
    check(await totalOf() === docker.total, `client ${client}: docker total ${docker.total}`);

    const typed = 'py';
    const facetSearch = tab.waitForResponse((r) => r.url().endsWith('/facet-search') && r.status() === 200);
    await tab.fill('#tools .ais-SearchBox-input', typed);
    await facetSearch;
    await tab.waitForLoadState('networkidle');
    await tab.waitForTimeout(200);
    const shown = await tab.$$eval('#tools .ais-RefinementList-item', (items) => items.map((i) => [
      i.querySelector('.ais-RefinementList-labelText').textContent.trim(),
      Number(i.querySelector('.ais-RefinementList-count').textContent.replace(/\D/g, '')),
    ]));
    const expected = await json('/api/facets/tools/search',
      [['q', typed], ['query', 'docker'], ['prefix', 'true'], ['limit', String(Math.max(shown.length, 1))]]);
    check(shown.length > 0, `client ${client}: the tools search shows values`);
    check(shown.every(([v]) => v.toLowerCase().includes(typed)) || shown.length === 0,
      `client ${client}: shown tools match "${typed}": ${JSON.stringify(shown)}`);
    const sorted = (xs) => JSON.stringify([...xs].sort());
    check(sorted(shown) === sorted(expected.hits.map((h) => [h.value, h.count])),
      `client ${client}: tools matching "${typed}" ${JSON.stringify(shown)} = /api/facets/tools/search ${JSON.stringify(expected.hits)}`);

    // Refine by the first value found: results narrow to it.
    const [value, count] = shown[0];
    await tab.click(`#tools .ais-RefinementList-item:has-text("${value}") input`);
    await tab.waitForLoadState('networkidle');
    // The refined answer may be drawn after the network goes idle (on a
    // loaded machine it was not within 200 ms): give it time, then check.
    await tab.waitForFunction((n) => {
      const t = document.querySelector('.ais-Stats-text');
      return t && Number(t.textContent.replace(/[^0-9 ].*$/, '').replace(/\D/g, '')) === n;
    }, count, { timeout: 15000 }).catch(() => {});
    check(await totalOf() === count, `client ${client}: tools=${value} gives ${count} posts`);

    check(answered.length > 0 && answered.every((a) => a.startsWith('200 ')),
      `client ${client}: every request to postsearch answered 200: ${answered.filter((a) => !a.startsWith('200 '))}`);
    check(answered.some((a) => a.includes('/facet-search')), `client ${client}: a facet search was sent`);
    check(failed.length === 0, `client ${client}: no request blocked or failed: ${failed}`);
    check(errors.length === 0, `client ${client}: no page errors: ${errors}`);
    await tab.close();
  }
} finally {
  await browser.close();
  site.close();
}
console.log(`meili cross-origin: ${passed} passed, 0 failed`);
