// The site page: current state, the 48-hour schedule timeline per
// algorithm, the weighted windows in force (target and achieved split),
// the actions (override, schedule), the last 50 switches, the hashrate per
// pool over 24 h or 7 d, and the site's workers.
import { api, el, n, algoName, algoShort, rate, at, ago, pill, sortable, fieldError, refresh } from './app.js';
import { farm, problems, problemCard, algoRows, dataplaneLine } from './overview.js';
import { timeline, lineChart, offset, PALETTE } from './chart.js';

const HOUR = 3600000;
let chartSpan = 24; // hours
let workerFilter = { text: '', state: '' };

export async function sitePage(main, site) {
  const now = Date.now();
  const f = await farm(site);
  const s = f.sites.find((x) => x.name === site);
  if (!s) { main.replaceChildren(el('h1', {}, site), el('p', {}, 'No such site.')); return; }
  const tz = s.timezone;
  const [preview, switches, pools, stats] = await Promise.all([
    api('PreviewSchedule', { site, hours: 48 }),
    api('ListSwitches', { site, limit: 50 }),
    api('ListPools'),
    api('Stats', { filter: { site, sinceUnixMs: now - chartSpan * HOUR }, windowS: chartSpan > 48 ? 4 * 3600 : 3600 }),
  ]);
  const poolList = (pools.pools || []).map((p) => p.settings || {});
  const colours = new Map();
  const colour = (p) => { if (!colours.has(p)) colours.set(p, PALETTE[colours.size % PALETTE.length]); return colours.get(p); };
  const plan = f.plans.find((p) => p.site === site);
  const active = (plan && plan.active) || [];

  const lanes = active.map((a) => {
    const segs = [];
    let from = now, pool = a.currentPool || '(none)';
    for (const w of (preview.switches || []).filter((x) => x.algorithm === a.algorithm)) {
      const t = n(w.atUnixMs);
      segs.push({ from, to: t, pool }); from = t; pool = w.toPool;
    }
    segs.push({ from, to: now + 48 * HOUR, pool });
    const bands = [];
    const sch = f.schedules.find((x) => x.algorithm === a.algorithm);
    if (sch && sch.override && n(sch.override.untilUnixMs) > now) {
      bands.push({ from: now, to: n(sch.override.untilUnixMs), kind: 'override', title: `override: ${sch.override.pool} until ${at(sch.override.untilUnixMs, tz)}` });
    }
    for (const b of f.breakers) {
      const p = poolList.find((x) => x.name === b.pool);
      if (b.state !== 'closed' && p && p.algorithm === a.algorithm) {
        bands.push({ from: now, to: Math.max(now + 60000, n(b.retryAtUnixMs)), kind: 'breaker', title: `breaker ${b.state}: ${b.pool}, retry ${at(b.retryAtUnixMs, tz)}` });
      }
    }
    return { label: algoName(a.algorithm), segments: segs, bands };
  });

  const tl = el('section', { class: 'card', id: 'timeline' }, el('h2', {}, 'Next 48 hours'),
    el('p', { class: 'muted' }, `Local time of ${tz}, now ${offset(now, tz)}. Blue band: override; red band: breaker open; dashed line: a DST change.`),
    lanes.length ? timeline(lanes, now, now + 48 * HOUR, tz, colour) : el('p', { class: 'muted' }, 'No schedule.'),
    el('p', { class: 'legend' }, [...colours.keys()].map((p) => el('span', {}, el('i', { class: 'swatch-' + (PALETTE.indexOf(colour(p))) }), p))));

  main.replaceChildren(
    el('h1', {}, site, ' ', el('span', { class: 'muted' }, `${tz} (${offset(now, tz)})`)),
    problemCard(problems(f)),
    el('section', { class: 'card' }, algoRows(f, site, tz), dataplaneLine(f, site)),
    tl,
    splitCard(stats.splits || []),
    actions(f, site, tz, active, poolList),
    switchesCard(switches.switches || [], tz),
    chartCard(stats.pools || [], now, tz),
    workersCard(f.workers, tz));
}

function actions(f, site, tz, active, pools) {
  const card = el('section', { class: 'card', id: 'actions' }, el('h2', {}, 'Change'));
  for (const a of active) {
    const sch = f.schedules.find((x) => x.algorithm === a.algorithm) || {};
    const mine = pools.filter((p) => p.algorithm === a.algorithm);
    const key = algoShort(a.algorithm);
    // Override until a time.
    const poolSel = el('select', { id: `override-pool-${key}`, name: 'pool' }, mine.map((p) => el('option', { value: p.name, disabled: !p.enabled }, p.name + (p.enabled ? '' : ' (disabled)'))));
    const until = el('input', { type: 'datetime-local', id: `override-until-${key}`, name: 'until', required: true });
    until.value = localInput(Date.now() + 4 * HOUR);
    const oerr = el('p', { class: 'field-error', id: `override-error-${key}` });
    const oform = el('form', { class: 'inline', id: `override-${key}` },
      el('div', {}, el('label', { for: poolSel.id }, 'Pool'), poolSel),
      el('div', {}, el('label', { for: until.id }, 'Until (this browser\'s time)'), until),
      el('button', { type: 'submit' }, 'Set override'));
    oform.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const ms = new Date(until.value).getTime();
        if (!Number.isFinite(ms)) throw new Error('until: pick a date and time');
        await api('SetOverride', { site, algorithm: a.algorithm, pool: poolSel.value, untilUnixMs: String(ms) });
        fieldError(oerr, null); oerr.textContent = 'Override set.'; await refresh();
      } catch (e) { fieldError(oerr, e); }
    });
    const o = sch.override;
    const clear = o && o.pool && n(o.untilUnixMs) > Date.now()
      ? el('p', {}, `Override: ${o.pool} until ${at(o.untilUnixMs, tz)} `, el('button', {
        type: 'button', class: 'secondary', id: `override-clear-${key}`,
        on: { click: async () => { try { await api('ClearOverride', { site, algorithm: a.algorithm }); await refresh(); } catch (e) { fieldError(oerr, e); } } },
      }, 'Clear override'))
      : null;
    // Replace the day's schedule.
    const text = el('input', { class: 'wide', id: `schedule-${key}`, name: 'schedule', value: entriesText(sch.entries || []) });
    const serr = el('p', { class: 'field-error', id: `schedule-error-${key}` });
    const sform = el('form', { class: 'inline', id: `schedule-form-${key}` },
      el('div', {}, el('label', { for: text.id }, `Schedule (site local time, pool@HH:MM-HH:MM …; a split: btc:70,bch:30@HH:MM-HH:MM)`), text),
      el('button', { type: 'submit' }, 'Save schedule'));
    sform.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const entries = parseSchedule(text.value);
        if (!confirm(`Replace the ${algoName(a.algorithm)} schedule of ${site}?`)) return;
        await api('SetSchedule', { site, algorithm: a.algorithm, entries });
        fieldError(serr, null); serr.textContent = 'Schedule saved.'; await refresh();
      } catch (e) { fieldError(serr, e); }
    });
    card.append(...[el('h3', {}, algoName(a.algorithm)), oform, clear, oerr, sform, serr].filter(Boolean));
  }
  if (!active.length) card.append(el('p', { class: 'muted' }, 'No schedule yet: set one with ctl schedule set.'));
  return card;
}

/** The weighted windows in force: each pool's target part of the work and
 * the part of the accepted work it received over the last hour. */
function splitCard(splits) {
  if (!splits.length) return document.createDocumentFragment();
  const pct = (x) => `${(Number(x) || 0).toFixed(1)} %`;
  return el('section', { class: 'card', id: 'split' }, el('h2', {}, 'Weighted split'),
    el('p', { class: 'muted' }, 'Target: the weights of the window in force (a pool that is down gives its part to the others). Achieved: the accepted work each pool received over the last hour, from the share history.'),
    splits.map((w) => el('div', { id: `split-${algoShort(w.algorithm)}` }, el('h3', {}, algoName(w.algorithm)),
      el('table', {}, el('thead', {}, el('tr', {}, ['Pool', 'Weight', 'Target', 'Achieved (1 h)'].map((t) => el('th', {}, t)))),
        el('tbody', {}, (w.pools || []).map((p) => el('tr', { dataset: { pool: p.pool } },
          el('td', {}, p.pool), el('td', { class: 'num' }, String(p.weight || 0)),
          el('td', { class: 'num target' }, pct(p.targetPercent)), el('td', { class: 'num achieved' }, pct(p.achievedPercent)))))))));
}

/** Entries as ctl writes them: a weighted window's entries (same times, a
 * weight each) are one word, `btc:70,bch:30@00:00-18:00`. */
export function entriesText(entries) {
  const words = [];
  for (const e of entries) {
    const last = words[words.length - 1];
    if (e.weight && last && last.weighted && last.start === e.start && last.end === e.end) {
      last.pools.push(`${e.pool}:${e.weight}`);
    } else {
      words.push({ weighted: !!e.weight, start: e.start, end: e.end, pools: [e.weight ? `${e.pool}:${e.weight}` : e.pool] });
    }
  }
  return words.map((w) => `${w.pools.join(',')}@${w.start}-${w.end}`).join(' ');
}

/** "btc@00:00-18:00 bch@18:00-24:00" (or a split, "btc:70,bch:30@00:00-18:00")
 * into entries, as ctl reads it. */
export function parseSchedule(s) {
  const words = s.trim().split(/\s+/).filter(Boolean);
  if (!words.length) throw new Error('schedule: give at least one pool@HH:MM-HH:MM');
  return words.flatMap((w, i) => {
    const m = /^([^@\s]+)@(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$/.exec(w);
    if (!m) throw new Error(`entries[${i}]: "${w}" is not pool@HH:MM-HH:MM`);
    const start = m[2].padStart(5, '0'), end = m[3].padStart(5, '0');
    if (!/[:,]/.test(m[1])) return [{ pool: m[1], start, end }];
    return m[1].split(',').map((part) => {
      const pw = /^([^:,]+):(\d+)$/.exec(part.trim());
      if (!pw || Number(pw[2]) < 1) throw new Error(`entries[${i}]: "${part}" is not pool:weight (a whole number from 1)`);
      return { pool: pw[1], start, end, weight: Number(pw[2]) };
    });
  });
}

function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

function switchesCard(rows, tz) {
  return el('section', { class: 'card', id: 'switches' }, el('h2', {}, 'Last switches'),
    rows.length ? el('table', {}, el('thead', {}, el('tr', {}, ['When (local)', 'Algorithm', 'From', 'To', 'Reason'].map((t) => el('th', {}, t)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, at(r.atUnixMs, tz), ' ', el('span', { class: 'muted' }, ago(r.atUnixMs))),
        el('td', {}, algoName(r.algorithm)), el('td', {}, r.fromPool || '–'), el('td', {}, r.toPool || '–'), el('td', {}, r.reason)))))
      : el('p', { class: 'muted' }, 'No switch recorded yet.'));
}

function chartCard(rows, now, tz) {
  const card = el('section', { class: 'card', id: 'hashrate' });
  const span = (h, label) => el('button', {
    type: 'button', class: chartSpan === h ? '' : 'secondary',
    on: { click: () => { chartSpan = h; refresh(); } },
  }, label);
  card.append(el('h2', {}, 'Hashrate per pool ', span(24, '24 h'), ' ', span(168, '7 d')));
  const algos = [...new Set(rows.map((r) => r.algorithm))];
  if (!algos.length) card.append(el('p', { class: 'muted' }, 'No accepted shares in this period.'));
  for (const a of algos) {
    const byPool = new Map();
    for (const r of rows.filter((x) => x.algorithm === a)) {
      if (!byPool.has(r.pool)) byPool.set(r.pool, new Map());
      const m = byPool.get(r.pool), t = n(r.windowStartUnixMs);
      m.set(t, (m.get(t) || 0) + n(r.hashrateHs));
    }
    const series = [...byPool.entries()].map(([name, m]) => ({ name, points: [...m.entries()].sort((x, y) => x[0] - y[0]) }));
    card.append(el('h3', {}, algoName(a)),
      lineChart(series, now - chartSpan * HOUR, now, tz, (v) => rate(v, a)),
      el('p', { class: 'legend' }, series.map((s, i) => el('span', {}, el('i', { class: 'swatch-' + (i % PALETTE.length) }), s.name))));
  }
  return card;
}

const STATES = { WORKER_STATE_ONLINE: ['online', 'good'], WORKER_STATE_IDLE: ['idle', 'warn'], WORKER_STATE_OFFLINE: ['offline', 'bad'] };

function workersCard(all, tz) {
  const card = el('section', { class: 'card', id: 'workers' });
  const text = el('input', { type: 'search', id: 'worker-filter', placeholder: 'Filter by name', value: workerFilter.text });
  const state = el('select', { id: 'worker-state' }, el('option', { value: '' }, 'every state'),
    Object.entries(STATES).map(([k, [label]]) => el('option', { value: k, selected: workerFilter.state === k }, label)));
  const holder = el('div');
  const draw = () => {
    workerFilter = { text: text.value, state: state.value };
    const rows = all.filter((w) => (!workerFilter.text || w.worker.toLowerCase().includes(workerFilter.text.toLowerCase()))
      && (!workerFilter.state || w.state === workerFilter.state));
    holder.replaceChildren(el('p', { class: 'muted' }, `${rows.length} of ${all.length} workers`), sortable([
      { title: 'Worker', value: (w) => w.worker },
      { title: 'Algorithm', value: (w) => algoName(w.algorithm) },
      { title: 'State', value: (w) => (STATES[w.state] || ['?'])[0], cell: (w) => pill(...(STATES[w.state] || ['?', ''])) },
      { title: 'Last share', sort: (w) => n(w.lastShareUnixMs), value: (w) => ago(w.lastShareUnixMs), cell: (w) => el('span', { title: at(w.lastShareUnixMs, tz) }, ago(w.lastShareUnixMs)) },
      { title: 'Hashrate 15 min', num: true, sort: (w) => n(w.hashrate15mHs), value: (w) => rate(w.hashrate15mHs, w.algorithm) },
      { title: '24 h', num: true, sort: (w) => n(w.hashrate24hHs), value: (w) => rate(w.hashrate24hHs, w.algorithm) },
      { title: 'Accepted', num: true, sort: (w) => n(w.accepted), value: (w) => n(w.accepted) },
      { title: 'Rejected', num: true, sort: (w) => n(w.rejected), value: (w) => n(w.rejected) },
    ], rows, { class: 'workers' }));
  };
  text.addEventListener('input', draw);
  state.addEventListener('change', draw);
  draw();
  card.append(el('h2', {}, 'Workers'), el('div', { class: 'inline' }, text, ' ', state), holder);
  return card;
}
