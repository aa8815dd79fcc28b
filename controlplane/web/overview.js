// The overview page: what is wrong first, then every site with, per
// algorithm, where the hashrate goes now and why, the next switch, the
// hashrate, rejects, miners and the site's data planes.
import { api, el, n, algoName, rate, pct, ago, at, countdown, pill } from './app.js';

const MIN = 60000;

/** Everything the overview and the site page read, fetched at once. */
export async function farm(site = '') {
  const now = Date.now();
  const [status, sites, schedules, breakers, dps, s15, s24, workers] = await Promise.all([
    api('Status'),
    api('ListSites'),
    api('ShowSchedule', { site }),
    api('ListBreakers', { site }),
    api('ListDataPlanes', { site }),
    api('Stats', { filter: { site, sinceUnixMs: now - 15 * MIN } }),
    api('Stats', { filter: { site, sinceUnixMs: now - 1440 * MIN } }),
    api('ListWorkers', { site }),
  ]);
  return {
    plans: status.plans || [], sites: sites.sites || [], schedules: schedules.schedules || [],
    breakers: breakers.breakers || [], dataplanes: dps.dataplanes || [],
    s15: s15.pools || [], s24: s24.pools || [], workers: workers.workers || [],
  };
}

/** Why the hashrate goes where it goes: override, failover or schedule. */
export function why(f, site, a) {
  const sch = f.schedules.find((s) => s.site === site && s.algorithm === a.algorithm);
  const o = sch && sch.override;
  if (o && o.pool && n(o.untilUnixMs) > Date.now() && o.pool === a.currentPool) {
    return { kind: 'override', text: 'override until ' + at(o.untilUnixMs, sch.timezone) };
  }
  if (!a.currentPool) return { kind: 'none', text: 'no pool available' };
  if (a.currentPool !== a.scheduledPool) {
    return { kind: 'failover', text: 'failover: ' + (a.scheduledPool || 'the scheduled pool') + ' unavailable' };
  }
  return { kind: 'schedule', text: 'schedule' };
}

function sum(rows, site, algo, key) {
  return rows.filter((r) => r.site === site && (!algo || r.algorithm === algo)).reduce((t, r) => t + n(r[key]), 0);
}

// A plan is acknowledged within a second of a change: a data plane is
// called behind only when this page has seen it behind the same plan for
// longer than this.
const BEHIND_GRACE = 30000;
const behindSince = new Map();
function behindFor(d) {
  const key = `${d.id} ${n(d.sitePlanVersion)}`;
  if (!behindSince.has(key)) behindSince.set(key, Date.now());
  return Date.now() - behindSince.get(key);
}

/** What is wrong, most urgent first. */
export function problems(f) {
  const out = [];
  for (const b of f.breakers) {
    if (b.state !== 'closed') {
      out.push(['bad', `Breaker ${b.state} for pool ${b.pool} at ${b.site} since ${ago(b.changedAtUnixMs)}` +
        (b.lastError ? `: ${b.lastError}` : '')]);
    }
  }
  for (const d of f.dataplanes) {
    if (!d.connected) out.push(['bad', `Data plane ${d.id} (${d.site}) is gone: last seen ${ago(d.lastSeenUnixMs)}`]);
    else if (d.ackError) out.push(['bad', `Data plane ${d.id} (${d.site}) refused plan ${n(d.sitePlanVersion)}: ${d.ackError}`]);
    else if (n(d.ackedPlanVersion) < n(d.sitePlanVersion) && behindFor(d) > BEHIND_GRACE) {
      out.push(['warn', `Data plane ${d.id} (${d.site}) is behind: plan ${n(d.ackedPlanVersion)} of ${n(d.sitePlanVersion)}, first seen behind ${ago(Date.now() - behindFor(d))}`]);
    }
    if (n(d.eventsDropped) > 0) out.push(['bad', `Data plane ${d.id} (${d.site}) lost ${n(d.eventsDropped)} share events`]);
  }
  // Forget plan versions no data plane is behind any more.
  const current = new Set(f.dataplanes.map((d) => `${d.id} ${n(d.sitePlanVersion)}`));
  for (const k of behindSince.keys()) if (!current.has(k)) behindSince.delete(k);
  for (const p of f.plans) {
    for (const a of p.active || []) {
      const w = why(f, p.site, a);
      if (w.kind === 'none') out.push(['bad', `${p.site} ${algoName(a.algorithm)}: no pool available`]);
      if (w.kind === 'failover') out.push(['warn', `${p.site} ${algoName(a.algorithm)}: on ${a.currentPool}, ${w.text}`]);
    }
  }
  const offline = {};
  for (const w of f.workers) if (w.state === 'WORKER_STATE_OFFLINE') offline[w.site] = (offline[w.site] || 0) + 1;
  for (const [site, count] of Object.entries(offline)) {
    out.push(['warn', `${count} rig${count === 1 ? '' : 's'} offline at ${site}`]);
  }
  for (const s of f.sites) {
    if (!f.dataplanes.some((d) => d.site === s.name)) out.push(['warn', `No data plane has ever connected for site ${s.name}`]);
  }
  return out.sort((x, y) => (x[0] === 'bad' ? 0 : 1) - (y[0] === 'bad' ? 0 : 1));
}

export function problemCard(list) {
  if (!list.length) return el('div', { class: 'card ok', id: 'problems' }, 'Nothing is wrong.');
  return el('div', { class: 'card problems', id: 'problems' }, el('h2', {}, 'Needs attention'),
    el('ul', {}, list.map(([k, t]) => el('li', {}, pill(k === 'bad' ? 'problem' : 'warning', k), ' ', t))));
}

export function workerCounts(f, site, algo) {
  const c = { online: 0, idle: 0, offline: 0 };
  for (const w of f.workers) {
    if (w.site !== site || (algo && w.algorithm !== algo)) continue;
    if (w.state === 'WORKER_STATE_ONLINE') c.online++;
    else if (w.state === 'WORKER_STATE_IDLE') c.idle++;
    else if (w.state === 'WORKER_STATE_OFFLINE') c.offline++;
  }
  return c;
}

/** One algorithm's row: current pool and why, next switch, rates, miners. */
export function algoRows(f, site, tz) {
  const plan = f.plans.find((p) => p.site === site);
  const rows = (plan && plan.active) || [];
  if (!rows.length) return el('p', { class: 'muted' }, 'No schedule yet (ctl schedule set).');
  const heads = ['Algorithm', 'Pool now', 'Why', 'Next switch', 'Hashrate 15 min', 'Hashrate 24 h', 'Rejects 24 h', 'Miners online / idle / offline'];
  // Each cell carries its column's name: at phone width a row is a list.
  const td = (i, attrs, ...c) => el('td', { ...attrs, 'data-label': heads[i] }, ...c);
  return el('table', { class: 'algos' },
    el('thead', {}, el('tr', {}, heads.map((t, i) => el('th', { class: i >= 4 && i <= 6 ? 'num' : '' }, t)))),
    el('tbody', {}, rows.map((a) => {
      const w = why(f, site, a);
      const acc = sum(f.s24, site, a.algorithm, 'accepted'), rej = sum(f.s24, site, a.algorithm, 'rejected');
      const c = workerCounts(f, site, a.algorithm);
      const next = n(a.nextSwitchUnixMs)
        ? el('span', {}, a.nextPool, ' at ', at(a.nextSwitchUnixMs, tz), ' (in ', countdown(a.nextSwitchUnixMs), ')')
        : el('span', { class: 'muted' }, 'none in 24 h');
      return el('tr', { dataset: { algorithm: a.algorithm } },
        td(0, {}, algoName(a.algorithm)),
        td(1, { class: 'current-pool' }, a.currentPool || '–'),
        td(2, {}, pill(w.text, w.kind === 'schedule' ? '' : w.kind === 'override' ? 'warn' : 'bad')),
        td(3, {}, next),
        td(4, { class: 'num hashrate-15m' }, rate(sum(f.s15, site, a.algorithm, 'hashrateHs'), a.algorithm)),
        td(5, { class: 'num' }, rate(sum(f.s24, site, a.algorithm, 'hashrateHs'), a.algorithm)),
        td(6, { class: 'num' }, pct(rej, acc + rej)),
        td(7, { class: 'miners' }, `${c.online} / ${c.idle} / ${c.offline}`));
    })));
}

export function dataplaneLine(f, site) {
  const d = f.dataplanes.filter((x) => x.site === site);
  if (!d.length) return el('p', { class: 'muted' }, 'No data plane yet.');
  return el('p', { class: 'dataplanes' }, `Data planes: ${d.filter((x) => x.connected).length} of ${d.length} connected. `,
    d.map((x) => el('span', {}, pill(x.id + (x.connected ? '' : ' (gone)'), x.connected ? (n(x.ackedPlanVersion) >= n(x.sitePlanVersion) && !x.ackError ? 'good' : 'warn') : 'bad'),
      ` plan ${n(x.ackedPlanVersion)}/${n(x.sitePlanVersion)}, ${n(x.miners)} miners `)));
}

export async function overview(main) {
  const f = await farm();
  const cards = f.sites.map((s) => el('section', { class: 'card site', dataset: { site: s.name } },
    el('h2', {}, el('a', { href: '#/site/' + encodeURIComponent(s.name) }, s.name), ' ',
      el('span', { class: 'muted' }, s.timezone)),
    algoRows(f, s.name, s.timezone),
    dataplaneLine(f, s.name)));
  main.replaceChildren(el('h1', {}, 'Overview'), problemCard(problems(f)),
    ...(cards.length ? cards : [el('p', { class: 'muted' }, 'No sites yet (ctl site add).')]));
}
