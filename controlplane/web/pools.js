// The pools page: each pool's settings, the sites it is granted to, and
// whether it is enabled (with the
// switch), its health per site (breaker state, failures and successes, the
// last error) with open and reset, and its shares and top reject reasons
// over 24 hours.
import { api, el, n, algoName, ago, pct, pill, fieldError, refresh } from './app.js';

const REASONS = {
  REASON_DUPLICATE: 'duplicate share', REASON_STALE: 'stale job', REASON_LOW_DIFFICULTY: 'low difficulty share',
  REASON_JOB_NOT_FOUND: 'job not found', REASON_UNAUTHORIZED: 'unauthorized', REASON_TIMEOUT: 'timeout',
  REASON_NOT_CONNECTED: 'not connected', REASON_INVALID: 'invalid share', REASON_INVALID_NONCE: 'invalid nonce',
};
const reasonText = (r) => (r.reason === 'REASON_OTHER' ? r.reasonText : REASONS[r.reason] || r.reasonText || r.reason);

export async function poolsPage(main) {
  const [pools, breakers, sites, stats] = await Promise.all([
    api('ListPools'), api('ListBreakers'), api('ListSites'),
    api('Stats', { filter: { sinceUnixMs: Date.now() - 86400000 } }),
  ]);
  const list = (pools.pools || []).map((p) => p.settings || {});
  const err = el('p', { class: 'field-error', id: 'pools-error' });

  const poolRows = list.map((p) => {
    const s = (stats.pools || []).filter((r) => r.pool === p.name);
    const acc = s.reduce((t, r) => t + n(r.accepted), 0), rej = s.reduce((t, r) => t + n(r.rejected), 0);
    const reasons = new Map();
    for (const r of s) for (const c of r.reasons || []) reasons.set(reasonText(c), (reasons.get(reasonText(c)) || 0) + n(c.count));
    const top = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([t, c]) => `${t} (${c})`).join(', ');
    const toggle = el('button', {
      type: 'button', class: p.enabled ? 'secondary' : '', id: `pool-toggle-${p.name}`,
      on: { click: async () => {
        if (p.enabled && !confirm(`Disable pool ${p.name}? Sites scheduled on it fail over.`)) return;
        try { await api('SetPoolEnabled', { name: p.name, enabled: !p.enabled }); await refresh(); } catch (e) { fieldError(err, e); }
      } },
    }, p.enabled ? 'Disable' : 'Enable');
    return el('tr', { dataset: { pool: p.name } },
      el('td', {}, p.name), el('td', {}, algoName(p.algorithm)),
      el('td', {}, `${p.host}:${p.port}${p.tls ? ' (TLS)' : ''}`),
      el('td', { class: 'sites' }, p.sites && p.sites.length ? p.sites.join(', ') : 'all sites'),
      el('td', {}, p.enabled ? pill('enabled', 'good') : pill('disabled', 'bad')),
      el('td', { class: 'num' }, acc), el('td', { class: 'num' }, rej), el('td', { class: 'num' }, pct(rej, acc + rej)),
      el('td', {}, top || '–'), el('td', {}, toggle));
  });

  const brRows = (breakers.breakers || []).map((b) => el('tr', { dataset: { site: b.site, pool: b.pool } },
    el('td', {}, b.site), el('td', {}, b.pool),
    el('td', {}, pill(b.state, b.state === 'closed' ? 'good' : b.state === 'open' ? 'bad' : 'warn')),
    el('td', { class: 'num' }, n(b.consecutiveFailures)), el('td', { class: 'num' }, n(b.successes)),
    el('td', { class: 'num connects' }, `${n(b.connectsOk)} / ${n(b.connectsFailed)}`),
    el('td', {}, ago(b.changedAtUnixMs)), el('td', {}, b.lastError || '–'),
    el('td', {}, b.state === 'closed'
      ? el('button', { type: 'button', class: 'danger', on: { click: () => breaker('OpenBreaker', b.site, b.pool, err) } }, 'Open')
      : el('button', { type: 'button', id: `breaker-reset-${b.site}-${b.pool}`, on: { click: () => breaker('ResetBreaker', b.site, b.pool, err) } }, 'Reset'))));

  const siteSel = el('select', { id: 'breaker-site' }, (sites.sites || []).map((s) => el('option', { value: s.name }, s.name)));
  const poolSel = el('select', { id: 'breaker-pool' }, list.map((p) => el('option', { value: p.name }, p.name)));
  const openForm = el('form', { class: 'inline', id: 'breaker-open' },
    el('div', {}, el('label', { for: 'breaker-site' }, 'Site'), siteSel),
    el('div', {}, el('label', { for: 'breaker-pool' }, 'Pool'), poolSel),
    el('button', { type: 'submit', class: 'danger' }, 'Open breaker'));
  openForm.addEventListener('submit', (ev) => { ev.preventDefault(); breaker('OpenBreaker', siteSel.value, poolSel.value, err); });

  main.replaceChildren(el('h1', {}, 'Pools'), err,
    el('section', { class: 'card' }, el('h2', {}, 'Pools, last 24 hours'),
      el('table', { id: 'pools' }, el('thead', {}, el('tr', {}, ['Pool', 'Algorithm', 'Address', 'Sites', 'State', 'Accepted', 'Rejected', 'Reject %', 'Top reject reasons', '']
        .map((t, i) => el('th', { class: i >= 5 && i <= 7 ? 'num' : '' }, t)))), el('tbody', {}, poolRows))),
    el('section', { class: 'card' }, el('h2', {}, 'Health per site'),
      brRows.length ? el('table', { id: 'breakers' }, el('thead', {}, el('tr', {}, ['Site', 'Pool', 'Breaker', 'Failures in a row', 'Successes', 'Connects ok / failed', 'Changed', 'Last error', '']
        .map((t) => el('th', {}, t)))), el('tbody', {}, brRows)) : el('p', { class: 'muted' }, 'No connection results reported yet.'),
      el('h3', {}, 'Take a pool out of a site\'s rotation'), openForm));
}

async function breaker(method, site, pool, err) {
  if (method === 'OpenBreaker' && !confirm(`Open the breaker of ${pool} at ${site}? Its hashrate moves to the failover pool.`)) return;
  try { await api(method, { site, pool }); await refresh(); } catch (e) { fieldError(err, e); }
}
