// The web view's shell: the JSON calls (the control plane's admin API
// through /api/admin/METHOD, with the session's CSRF token), the router
// (#/, #/site/NAME, #/pools), the refresh timer and the helpers every page
// uses. Pages live in overview.js, site.js and pools.js.
import { overview } from './overview.js';
import { sitePage } from './site.js';
import { poolsPage } from './pools.js';

let csrf = '';
const REFRESH_MS = 15000;
let timer = null;
let ticker = null;

/** Calls an admin method; throws an Error with .code and .field on refusal. */
export async function api(method, body = {}) {
  const r = await fetch('/api/admin/' + method, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify(body),
  });
  if (r.status === 401) { location.href = '/login'; throw new Error('signed out'); }
  const data = await r.json().catch(() => ({ message: r.statusText }));
  if (!r.ok) {
    const e = new Error(data.message || r.statusText);
    e.code = data.code; e.field = data.field || '';
    throw e;
  }
  return data;
}

/** Makes an element: el('td', {class: 'num'}, 'text', child...). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') { for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f); }
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export const n = (v) => Number(v || 0);
export const ALGOS = { ALGORITHM_SHA256: 'SHA-256', ALGORITHM_RANDOMX: 'RandomX', ALGORITHM_ZKSNARK: 'ALEO' };
export const algoName = (a) => ALGOS[a] || a || '?';
export const algoShort = (a) => ({ ALGORITHM_SHA256: 'sha256', ALGORITHM_RANDOMX: 'randomx', ALGORITHM_ZKSNARK: 'aleo' }[a] || a);

/** Hashrate with its unit; ALEO's is work units a second, not hashes. */
export function rate(hs, algo) {
  const v = n(hs);
  const unit = algo === 'ALGORITHM_ZKSNARK' ? 'work/s' : 'H/s';
  const p = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0, x = v;
  while (Math.abs(x) >= 1000 && i < p.length - 1) { x /= 1000; i++; }
  return (v === 0 ? '0' : x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0)) + ' ' + p[i] + unit;
}

export function pct(part, whole) {
  return whole > 0 ? (100 * part / whole).toFixed(2) + '%' : '–';
}

export function ago(ms) {
  if (!n(ms)) return 'never';
  const s = Math.round((Date.now() - n(ms)) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return (s / 3600).toFixed(1) + ' h ago';
  return (s / 86400).toFixed(1) + ' d ago';
}

/** A countdown kept live by the ticker (data-until on the element). */
export function countdown(ms) {
  return el('span', { class: 'countdown', dataset: { until: String(n(ms)) } }, left(n(ms)));
}
function left(ms) {
  let s = Math.max(0, Math.round((ms - Date.now()) / 1000));
  const d = Math.floor(s / 86400); s %= 86400;
  const h = Math.floor(s / 3600); s %= 3600;
  const m = Math.floor(s / 60); s %= 60;
  return (d ? d + 'd ' : '') + String(h).padStart(2, '0') + ':' + String(m).padStart(2, '0') + ':' + String(s).padStart(2, '0');
}

/** A time in a zone, "Mon 07 14:00". */
export function at(ms, tz) {
  if (!n(ms)) return '–';
  return new Intl.DateTimeFormat('en-GB', { timeZone: tz || undefined, weekday: 'short', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(n(ms)));
}

export function pill(text, kind) { return el('span', { class: 'pill ' + (kind || '') }, text); }

/** A table whose columns sort by a click on their header. */
export function sortable(columns, rows, opts = {}) {
  let key = opts.sortBy ?? 0, dir = opts.dir ?? 1;
  const tbody = el('tbody');
  const heads = columns.map((c, i) => el('th', {
    class: 'sortable' + (c.num ? ' num' : ''), dataset: { col: String(i) },
    on: { click: () => { dir = key === i ? -dir : 1; key = i; draw(); } },
  }, c.title));
  function draw() {
    const c = columns[key];
    const sorted = [...rows].sort((a, b) => {
      const x = c.sort ? c.sort(a) : c.value(a), y = c.sort ? c.sort(b) : c.value(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    heads.forEach((h, i) => h.classList.toggle('sorted-asc', i === key && dir === 1));
    heads.forEach((h, i) => h.classList.toggle('sorted-desc', i === key && dir === -1));
    tbody.replaceChildren(...sorted.map((r) => el('tr', {},
      columns.map((c) => el('td', { class: c.num ? 'num' : '' }, c.cell ? c.cell(r) : c.value(r))))));
  }
  draw();
  return el('table', { class: opts.class || '' }, el('thead', {}, el('tr', {}, heads)), tbody);
}

/** Shows a message in the banner (errors red, notices blue). */
export function banner(text, info = false) {
  const b = document.getElementById('banner');
  if (!text) { b.hidden = true; return; }
  b.textContent = text; b.className = info ? 'info' : ''; b.hidden = false;
}

/** A form's error line next to the field the server named. */
export function fieldError(node, e) {
  node.textContent = e ? (e.message || String(e)) : '';
  node.className = e ? 'field-error' : 'field-ok';
}

async function route() {
  const h = location.hash || '#/';
  const main = document.getElementById('main');
  for (const id of ['nav-overview', 'nav-pools']) document.getElementById(id).classList.remove('active');
  clearInterval(timer);
  let draw;
  if (h.startsWith('#/site/')) {
    const name = decodeURIComponent(h.slice(7));
    document.getElementById('nav-site').value = name;
    draw = () => sitePage(main, name);
  } else if (h === '#/pools') {
    document.getElementById('nav-pools').classList.add('active');
    draw = () => poolsPage(main);
  } else {
    document.getElementById('nav-overview').classList.add('active');
    draw = () => overview(main);
  }
  const run = async () => {
    // Never redraw under the operator's hands (a form being filled in).
    if (main.contains(document.activeElement) && document.activeElement.matches('input, select, textarea')) return;
    try { await draw(); banner(''); } catch (e) { banner('Could not load: ' + e.message); }
    document.getElementById('footer').textContent = 'Updated ' + new Date().toLocaleTimeString() + ' · refreshes every ' + REFRESH_MS / 1000 + ' s';
  };
  main.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  await run();
  timer = setInterval(run, REFRESH_MS);
}

/** Redraws the page now (after an action). */
export function refresh() { return route(); }

async function boot() {
  const s = await fetch('/api/session', { credentials: 'same-origin' });
  if (s.status === 401) { location.href = '/login'; return; }
  csrf = (await s.json()).csrf;
  document.getElementById('signout-csrf').value = csrf;
  const sites = (await api('ListSites')).sites || [];
  const sel = document.getElementById('nav-site');
  for (const x of sites) sel.append(el('option', { value: x.name }, x.name));
  sel.addEventListener('change', () => { if (sel.value) location.hash = '#/site/' + encodeURIComponent(sel.value); });
  window.addEventListener('hashchange', route);
  ticker = setInterval(() => {
    for (const c of document.querySelectorAll('.countdown')) c.textContent = left(Number(c.dataset.until));
  }, 1000);
  await route();
}

boot().catch((e) => banner('The web view could not start: ' + e.message));
