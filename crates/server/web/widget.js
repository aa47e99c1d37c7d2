/*! postsearch widget — an embeddable search box (no dependencies, no build).
 *
 *   <div id="search"></div>
 *   <script src="https://HOST/widget.js" data-target="#search"></script>
 *
 * Every option is a data-* attribute of the script tag (docs/widget.md):
 *   data-target  CSS selector of the element to render into (required for auto-mount)
 *   data-api     API base URL (default: the origin this script was loaded from)
 *   data-open    URL template for opening a post, "{id}" is replaced
 *                (default: API_BASE + "/?post={id}", the demo page)
 *   data-limit   results in the dropdown (default 8)
 *   data-debounce  milliseconds between the last key and the search (default 120)
 *   data-distinct  "hash" (default: copies of a post shown once) or "none"
 *   data-facet   scope every search: "stack:python" or "stack:python,tools:pytest"
 *                (one facet= each; OR within a field, AND across fields)
 *   data-theme   "auto" (default: follows prefers-color-scheme), "light" or "dark"
 *   data-placeholder, data-label  the input's placeholder and accessible name
 *   data-msg-NAME  one message (NAME in kebab case: data-msg-no-results), or
 *   data-messages  a JSON object of them; the names and their English texts
 *                are in DEFAULT_MESSAGES below ({count}, {error} are filled in)
 *
 * Looks: CSS custom properties set on the target or any ancestor
 * (--psw-bg, --psw-fg, --psw-muted, --psw-border, --psw-accent, --psw-active-bg,
 * --psw-hover-bg, --psw-mark-bg, --psw-radius, --psw-font, --psw-font-size).
 *   data-clicks  "true": report which hit of a search was opened
 *                (POST /api/analytics/click {q, id, position}; the server
 *                must have analytics.clicks = true). Off by default.
 *
 * Events, dispatched on the target element (both cancellable):
 *   postsearch:open    detail {id, hit}  — before navigating to a post
 *   postsearch:submit  detail {query}    — Enter with no active option
 *
 * Programmatic use: window.PostSearchWidget.mount(element, options)
 * with options {api, open, limit, debounce, distinct, facet (string or
 * array), theme, placeholder, label, messages, clicks}.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var STYLE_ID = 'psw-style';
  // Colours, radius and font come from custom properties the page may set
  // (--psw-*), with light or dark defaults by the theme (data-theme on the
  // root: "light", "dark", or "auto" = the reader's prefers-color-scheme).
  var LIGHT = '--psw-i-bg:var(--psw-bg,#fff);--psw-i-fg:var(--psw-fg,#111);--psw-i-muted:var(--psw-muted,#5f6775);' +
    '--psw-i-border:var(--psw-border,#a8b0bb);--psw-i-accent:var(--psw-accent,#2f6fde);' +
    '--psw-i-active:var(--psw-active-bg,#eef3fd);--psw-i-hover:var(--psw-hover-bg,#f4f6f9);' +
    '--psw-i-mark:var(--psw-mark-bg,#ffe58a);--psw-i-shadow:rgba(0,0,0,.14)';
  var DARK = '--psw-i-bg:var(--psw-bg,#1e2228);--psw-i-fg:var(--psw-fg,#e8eaed);--psw-i-muted:var(--psw-muted,#a3abb7);' +
    '--psw-i-border:var(--psw-border,#4a525e);--psw-i-accent:var(--psw-accent,#7aa7f5);' +
    '--psw-i-active:var(--psw-active-bg,#2a3a57);--psw-i-hover:var(--psw-hover-bg,#2a2f37);' +
    '--psw-i-mark:var(--psw-mark-bg,#6b5a12);--psw-i-shadow:rgba(0,0,0,.5)';
  var CSS = [
    '.psw-root{' + LIGHT + ';position:relative;display:block;font-family:var(--psw-font,inherit);max-width:100%}',
    '.psw-root[data-theme="dark"]{' + DARK + ';color-scheme:dark}',
    '@media (prefers-color-scheme:dark){.psw-root[data-theme="auto"]{' + DARK + ';color-scheme:dark}}',
    '.psw-root *,.psw-root *::before,.psw-root *::after{box-sizing:border-box}',
    '.psw-input{width:100%;padding:.55em .75em;font:inherit;font-size:var(--psw-font-size,1rem);',
    'color:var(--psw-i-fg);background:var(--psw-i-bg);',
    'border:1px solid var(--psw-i-border);border-radius:var(--psw-radius,6px);outline:none}',
    '.psw-input::placeholder{color:var(--psw-i-muted);opacity:1}',
    '.psw-input:focus{border-color:var(--psw-i-accent);box-shadow:0 0 0 3px rgba(47,111,222,.25);',
    'box-shadow:0 0 0 3px color-mix(in srgb,var(--psw-i-accent) 30%,transparent)}',
    '.psw-list{position:absolute;z-index:2147483000;left:0;right:0;top:calc(100% + 4px);margin:0;padding:4px 0;',
    'list-style:none;background:var(--psw-i-bg);color:var(--psw-i-fg);border:1px solid var(--psw-i-border);',
    'border-radius:var(--psw-radius,6px);',
    'box-shadow:0 8px 24px var(--psw-i-shadow);max-height:70vh;overflow-y:auto;text-align:left}',
    '.psw-list[hidden]{display:none}',
    '.psw-option{padding:.5em .75em;cursor:pointer;border-left:3px solid transparent;line-height:1.35}',
    '.psw-option[aria-selected="true"]{background:var(--psw-i-active);border-left-color:var(--psw-i-accent)}',
    '.psw-option:hover{background:var(--psw-i-hover)}',
    '.psw-title{display:block;font-weight:600;font-size:.95rem}',
    '.psw-snippet{display:block;font-size:.82rem;color:var(--psw-i-muted);margin-top:.15em;',
    'overflow:hidden;text-overflow:ellipsis;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical}',
    '.psw-meta{display:block;font-size:.72rem;color:var(--psw-i-muted);margin-top:.2em}',
    '.psw-empty{padding:.5em .75em;color:var(--psw-i-muted);font-size:.9rem;cursor:default}',
    '.psw-root mark{background:var(--psw-i-mark);color:inherit;padding:0 .05em;border-radius:2px}',
    '.psw-sr{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;',
    'clip:rect(0 0 0 0);white-space:nowrap;border:0}'
  ].join('');

  // Every text the widget shows or announces; each can be replaced
  // (options.messages, data-messages, data-msg-NAME).
  var DEFAULT_MESSAGES = {
    placeholder: 'Search posts…',
    label: 'Search posts',
    listLabel: 'Search results',
    noResults: 'No results',
    oneResult: '1 result',
    results: '{count} results',
    failed: 'Search failed: {error}'
  };

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m;
    });
  }

  // "stack:python, tools:pytest" or an array → ["stack:python", "tools:pytest"].
  function facetList(facet) {
    if (facet == null || facet === '') return [];
    var list = Array.isArray(facet) ? facet : String(facet).split(',');
    return list.map(function (f) { return String(f).trim(); })
      .filter(function (f) { return f.indexOf(':') > 0; });
  }

  var counter = 0;

  function injectStyle(doc) {
    if (doc.getElementById(STYLE_ID)) return;
    var style = doc.createElement('style');
    style.id = STYLE_ID;
    style.textContent = CSS;
    (doc.head || doc.documentElement).appendChild(style);
  }

  function scriptOrigin() {
    try {
      if (script && script.src) return new URL(script.src, document.baseURI).origin;
    } catch (e) { /* fall through */ }
    return window.location.origin;
  }

  function trimSlash(s) {
    return String(s).replace(/\/+$/, '');
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function mount(target, options) {
    if (typeof target === 'string') target = document.querySelector(target);
    if (!target || target.nodeType !== 1) throw new Error('PostSearchWidget.mount: no target element');
    if (target.__postsearch) return target.__postsearch;
    options = options || {};
    injectStyle(document);

    var api = trimSlash(options.api || scriptOrigin());
    var messages = {};
    Object.keys(DEFAULT_MESSAGES).forEach(function (k) { messages[k] = DEFAULT_MESSAGES[k]; });
    Object.keys(options.messages || {}).forEach(function (k) {
      if (options.messages[k] != null) messages[k] = String(options.messages[k]);
    });
    if (options.placeholder) messages.placeholder = options.placeholder;
    if (options.label) messages.label = options.label;
    var theme = /^(light|dark)$/.test(options.theme || '') ? options.theme : 'auto';
    var facetParams = facetList(options.facet).map(function (f) {
      return '&facet=' + encodeURIComponent(f);
    }).join('');
    var openTemplate = options.open || null;
    var limit = Math.max(1, Math.min(50, parseInt(options.limit, 10) || 8));
    // Copies of one post are shown once unless the page says `none`.
    var distinct = options.distinct === 'none' ? '' : 'hash';
    var delay = options.debounce == null ? 120 : Math.max(0, Number(options.debounce) || 0);
    // Off unless the site owner turns it on (data-clicks="true" / clicks: true).
    var clicks = options.clicks === true || options.clicks === 'true';
    var uid = 'psw-' + (++counter) + '-' + Math.random().toString(36).slice(2, 7);
    var listId = uid + '-list';

    var root = el('div', 'psw-root');
    root.setAttribute('data-theme', theme);
    var input = el('input', 'psw-input');
    input.type = 'search';
    input.id = uid + '-input';
    input.autocomplete = 'off';
    input.spellcheck = false;
    input.setAttribute('autocapitalize', 'off');
    input.setAttribute('enterkeyhint', 'search');
    input.placeholder = messages.placeholder;
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    input.setAttribute('aria-controls', listId);
    input.setAttribute('aria-label', messages.label);

    var list = el('ul', 'psw-list');
    list.id = listId;
    list.setAttribute('role', 'listbox');
    list.setAttribute('aria-label', messages.listLabel);
    list.hidden = true;

    var live = el('div', 'psw-sr');
    live.setAttribute('role', 'status');
    live.setAttribute('aria-live', 'polite');
    live.setAttribute('aria-atomic', 'true');

    root.appendChild(input);
    root.appendChild(list);
    root.appendChild(live);
    target.appendChild(root);

    var hits = [];
    var active = -1;
    var seq = 0;           // id of the newest request; older answers are dropped
    var controller = null; // aborts the previous in-flight request
    var timer = null;
    var lastQuery = null;  // the query the current `hits` answer

    function isOpen() {
      return !list.hidden;
    }

    function setOpen(open) {
      open = !!open && list.children.length > 0;
      list.hidden = !open;
      input.setAttribute('aria-expanded', open ? 'true' : 'false');
      if (!open) setActive(-1);
    }

    function setActive(i) {
      var opts = list.querySelectorAll('[role="option"]');
      if (i >= opts.length) i = opts.length - 1;
      active = i;
      for (var k = 0; k < opts.length; k++) {
        opts[k].setAttribute('aria-selected', k === i ? 'true' : 'false');
      }
      if (i >= 0) {
        input.setAttribute('aria-activedescendant', opts[i].id);
        var o = opts[i];
        if (o.offsetTop < list.scrollTop) list.scrollTop = o.offsetTop;
        else if (o.offsetTop + o.offsetHeight > list.scrollTop + list.clientHeight) {
          list.scrollTop = o.offsetTop + o.offsetHeight - list.clientHeight;
        }
      } else {
        input.removeAttribute('aria-activedescendant');
      }
    }

    function announce(text) {
      // Clear first so the same message is announced again.
      live.textContent = '';
      setTimeout(function () { live.textContent = text; }, 30);
    }

    function render(data) {
      hits = Array.isArray(data.hits) ? data.hits : [];
      list.textContent = '';
      active = -1;
      input.removeAttribute('aria-activedescendant');
      hits.forEach(function (hit, i) {
        var li = el('li', 'psw-option');
        li.id = uid + '-opt-' + i;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        li.setAttribute('data-id', String(hit.id));
        var title = el('span', 'psw-title');
        title.innerHTML = hit.title_html || ''; // server-escaped, <mark> only
        if (!hit.title_html) title.textContent = hit.title || String(hit.id);
        li.appendChild(title);
        if (hit.snippet) {
          var snip = el('span', 'psw-snippet');
          snip.innerHTML = hit.snippet; // server-escaped, <mark> only
          li.appendChild(snip);
        }
        var meta = [];
        if (hit.stack && hit.stack.length) meta.push(hit.stack[0]);
        if (hit.difficulty) meta.push(hit.difficulty);
        if (meta.length) li.appendChild(el('span', 'psw-meta', meta.join(' · ')));
        li.addEventListener('click', function () { openHit(i); });
        li.addEventListener('mousemove', function () { if (active !== i) setActive(i); });
        list.appendChild(li);
      });
      var total = typeof data.total === 'number' ? data.total : hits.length;
      if (!hits.length) {
        var empty = el('li', 'psw-empty', messages.noResults);
        empty.setAttribute('role', 'presentation');
        list.appendChild(empty);
      }
      announce(total === 1 ? fill(messages.oneResult, { count: 1 }) : fill(messages.results, { count: total }));
      setOpen(document.activeElement === input);
    }

    /** Drops the search waiting for the pause and the one in flight: their
     * answers must not reopen a list the reader closed. */
    function cancelPending() {
      clearTimeout(timer);
      seq++;
      if (controller) controller.abort();
      controller = null;
      root.removeAttribute('aria-busy');
    }

    function clearResults() {
      cancelPending();
      hits = [];
      lastQuery = null;
      list.textContent = '';
      setOpen(false);
    }

    function search(q) {
      var my = ++seq;
      if (controller) controller.abort();
      controller = typeof AbortController === 'function' ? new AbortController() : null;
      var url = api + '/api/search?q=' + encodeURIComponent(q) +
        '&prefix=true&limit=' + limit + (distinct ? '&distinct=' + distinct : '') + facetParams;
      root.setAttribute('aria-busy', 'true');
      fetch(url, { signal: controller ? controller.signal : undefined, credentials: 'omit' })
        .then(function (res) {
          return res.json().catch(function () { return {}; }).then(function (body) {
            if (!res.ok) {
              var msg = body && body.error && body.error.message;
              throw new Error(msg || ('HTTP ' + res.status));
            }
            return body;
          });
        })
        .then(function (data) {
          if (my !== seq) return; // a newer request was made: drop this answer
          root.removeAttribute('aria-busy');
          lastQuery = q;
          render(data);
        })
        .catch(function (err) {
          if (my !== seq || (err && err.name === 'AbortError')) return;
          root.removeAttribute('aria-busy');
          hits = [];
          lastQuery = null;
          list.textContent = '';
          setOpen(false);
          announce(fill(messages.failed, { error: err && err.message ? err.message : 'error' }));
        });
    }

    function schedule() {
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { clearResults(); return; }
      timer = setTimeout(function () { search(q); }, delay);
    }

    function dispatch(name, detail) {
      var ev = new CustomEvent(name, { detail: detail, bubbles: true, cancelable: true });
      return target.dispatchEvent(ev); // false when defaultPrevented
    }

    function postUrl(id) {
      var enc = encodeURIComponent(id);
      if (openTemplate) return openTemplate.split('{id}').join(enc);
      return api + '/?post=' + enc;
    }

    // Counts the opening of a hit of the search that showed it: its query,
    // id and place only. A simple request (text/plain, no credentials, no
    // preflight) that outlives the page's navigation.
    function reportClick(hit, i) {
      if (!clicks || !lastQuery || typeof fetch !== 'function') return;
      var body = JSON.stringify({ q: lastQuery, id: String(hit.id), position: i });
      try {
        fetch(api + '/api/analytics/click', {
          method: 'POST', body: body, keepalive: true, credentials: 'omit', mode: 'no-cors'
        }).catch(function () { /* counting is best effort */ });
      } catch (e) { /* counting is best effort */ }
    }

    function openHit(i) {
      var hit = hits[i];
      if (!hit) return;
      setOpen(false);
      reportClick(hit, i);
      if (!dispatch('postsearch:open', { id: hit.id, hit: hit })) return;
      window.location.assign(postUrl(hit.id));
    }

    function submit() {
      var q = input.value.trim();
      cancelPending();
      setOpen(false);
      if (!dispatch('postsearch:submit', { query: q })) return;
      if (q) window.location.assign(api + '/?q=' + encodeURIComponent(q) + facetParams);
    }

    input.addEventListener('input', schedule);

    input.addEventListener('keydown', function (e) {
      var n = hits.length;
      switch (e.key) {
        case 'ArrowDown':
          if (!n) return;
          e.preventDefault();
          if (!isOpen() && lastQuery !== input.value.trim()) { search(input.value.trim()); return; }
          if (!isOpen()) { setOpen(true); setActive(e.altKey ? -1 : 0); return; }
          setActive(active + 1 >= n ? 0 : active + 1);
          break;
        case 'ArrowUp':
          if (!n) return;
          e.preventDefault();
          if (!isOpen() && lastQuery !== input.value.trim()) { search(input.value.trim()); return; }
          if (!isOpen()) { setOpen(true); setActive(n - 1); return; }
          setActive(active <= 0 ? n - 1 : active - 1);
          break;
        case 'Enter':
          if (e.isComposing) return;
          e.preventDefault();
          if (isOpen() && active >= 0) openHit(active);
          else submit();
          break;
        case 'Escape':
          if (isOpen()) { e.preventDefault(); cancelPending(); setOpen(false); }
          else if (input.value) { e.preventDefault(); input.value = ''; clearResults(); }
          break;
        case 'Tab':
          setOpen(false);
          break;
        default:
          break;
      }
    });

    input.addEventListener('focus', function () {
      if (hits.length && lastQuery === input.value.trim()) setOpen(true);
    });

    // Keep focus in the input while clicking an option.
    list.addEventListener('mousedown', function (e) { e.preventDefault(); });

    function onOutside(e) {
      if (!root.contains(e.target)) setOpen(false);
    }
    document.addEventListener('pointerdown', onOutside, true);
    document.addEventListener('focusin', onOutside, true);

    var instance = {
      input: input,
      listbox: list,
      api: api,
      theme: theme,
      facets: facetList(options.facet),
      messages: messages,
      /** Sets the text without searching or opening the dropdown. */
      setQuery: function (q) { input.value = q == null ? '' : String(q); clearResults(); },
      /** Searches now (no debounce) and shows the dropdown if focused. */
      search: function (q) {
        if (q != null) input.value = String(q);
        var v = input.value.trim();
        if (v) search(v); else clearResults();
      },
      close: function () { setOpen(false); },
      focus: function () { input.focus(); },
      destroy: function () {
        clearResults();
        clearTimeout(timer);
        document.removeEventListener('pointerdown', onOutside, true);
        document.removeEventListener('focusin', onOutside, true);
        if (root.parentNode) root.parentNode.removeChild(root);
        delete target.__postsearch;
      }
    };
    target.__postsearch = instance;
    return instance;
  }

  var api = window.PostSearchWidget;
  if (!api || typeof api.mount !== 'function') {
    api = { mount: mount, version: '1', messages: DEFAULT_MESSAGES };
    window.PostSearchWidget = api;
  }

  // The options given as the <script> tag's data-* attributes.
  function optionsFromScript(tag) {
    var attr = function (name) { return tag.getAttribute('data-' + name) || undefined; };
    var opts = {};
    ['api', 'open', 'limit', 'debounce', 'distinct', 'facet', 'theme', 'placeholder', 'label'].forEach(function (k) {
      opts[k] = attr(k);
    });
    opts.clicks = attr('clicks') === 'true';
    var messages = {};
    var json = attr('messages');
    if (json) {
      try { messages = JSON.parse(json) || {}; } catch (e) {
        if (window.console) console.warn('postsearch widget: data-messages is not JSON: ' + e.message);
      }
    }
    Object.keys(DEFAULT_MESSAGES).forEach(function (k) {
      var kebab = k.replace(/[A-Z]/g, function (c) { return '-' + c.toLowerCase(); });
      var v = tag.getAttribute('data-msg-' + kebab);
      if (v != null) messages[k] = v;
    });
    opts.messages = messages;
    return opts;
  }

  // Auto-mount from the <script> tag's data attributes.
  if (script && script.getAttribute('data-target')) {
    var opts = optionsFromScript(script);
    var sel = script.getAttribute('data-target');
    var go = function () {
      var t = document.querySelector(sel);
      if (!t) { if (window.console) console.warn('postsearch widget: no element matches ' + sel); return; }
      api.mount(t, opts);
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go);
    else go();
  }
})();
