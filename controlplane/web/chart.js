// SVG drawing for the site page: the 48-hour schedule timeline (lanes of
// pool segments in the site's local time, DST changes, overrides and open
// breakers) and the hashrate line chart. Elements only, no inline styles.
const NS = 'http://www.w3.org/2000/svg';
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** The zone's UTC offset at an instant, "UTC+01:00". */
export function offset(ms, tz) {
  const p = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' })
    .formatToParts(new Date(ms)).find((x) => x.type === 'timeZoneName');
  const v = p ? p.value.replace('GMT', 'UTC') : 'UTC';
  return v === 'UTC' ? 'UTC+00:00' : v;
}

/** The instants in [start, end) where the zone's offset changes (to the minute). */
export function offsetChanges(start, end, tz) {
  const out = [];
  const step = 15 * 60000;
  for (let t = start; t < end; t += step) {
    const a = offset(t, tz), b = offset(t + step, tz);
    if (a === b) continue;
    let lo = t, hi = t + step;
    while (hi - lo > 60000) { const mid = lo + Math.floor((hi - lo) / 2); if (offset(mid, tz) === a) lo = mid; else hi = mid; }
    out.push({ at: hi, from: a, to: b });
  }
  return out;
}

function hourLabel(ms, tz) {
  return new Intl.DateTimeFormat('en-GB', { timeZone: tz, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));
}

/** Local hours of the zone at which ticks fall (every 6 local hours). */
function ticks(start, end, tz, everyH) {
  const out = [];
  for (let t = Math.ceil(start / 3600000) * 3600000; t < end; t += 3600000) {
    const h = Number(new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', hourCycle: 'h23' }).format(new Date(t)));
    const m = Number(new Intl.DateTimeFormat('en-GB', { timeZone: tz, minute: '2-digit' }).format(new Date(t)));
    if (m === 0 && h % everyH === 0) out.push(t);
  }
  return out;
}

/**
 * lanes: [{label, segments: [{from, to, pool}], bands: [{from, to, kind, title}]}]
 * colour: pool -> colour. Returns an <svg>.
 */
export function timeline(lanes, start, end, tz, colour) {
  const W = 960, left = 90, laneH = 30, top = 8, H = top + lanes.length * (laneH + 8) + 34;
  const x = (t) => left + ((Math.min(Math.max(t, start), end) - start) / (end - start)) * (W - left - 10);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'timeline', role: 'img', 'aria-label': '48-hour schedule' });
  lanes.forEach((lane, i) => {
    const y = top + i * (laneH + 8);
    g.append(svg('text', { x: 4, y: y + laneH / 2 + 4 }, lane.label));
    for (const s of lane.segments) {
      if (s.to <= start || s.from >= end) continue;
      const r = svg('rect', { x: x(s.from), y, width: Math.max(1, x(s.to) - x(s.from)), height: laneH, fill: colour(s.pool), class: 'segment' },
        svg('title', {}, `${s.pool}: ${hourLabel(s.from, tz)} – ${hourLabel(s.to, tz)}`));
      r.dataset.pool = s.pool;
      g.append(r);
      if (x(s.to) - x(s.from) > 60) g.append(svg('text', { x: x(s.from) + 4, y: y + laneH / 2 + 4, class: 'segment-label' }, s.pool));
    }
    for (const b of lane.bands || []) {
      g.append(svg('rect', { x: x(b.from), y: b.kind === 'breaker' ? y + laneH - 7 : y - 3, width: Math.max(3, x(b.to) - x(b.from)), height: 7, class: b.kind },
        svg('title', {}, b.title)));
    }
  });
  const axisY = top + lanes.length * (laneH + 8) + 2;
  g.append(svg('line', { x1: left, x2: W - 10, y1: axisY, y2: axisY, class: 'axis' }));
  for (const t of ticks(start, end, tz, 6)) {
    g.append(svg('line', { x1: x(t), x2: x(t), y1: top, y2: axisY + 4, class: 'axis' }));
    g.append(svg('text', { x: x(t) - 24, y: axisY + 16 }, hourLabel(t, tz)));
  }
  for (const c of offsetChanges(start, end, tz)) {
    g.append(svg('line', { x1: x(c.at), x2: x(c.at), y1: top, y2: axisY, class: 'dst' }, svg('title', {}, `${c.from} → ${c.to}`)));
    g.append(svg('text', { x: x(c.at) + 3, y: axisY + 30, class: 'dst-label' }, `DST ${c.from} → ${c.to}`));
  }
  g.append(svg('line', { x1: x(start), x2: x(start), y1: top - 4, y2: axisY, class: 'now' }));
  return g;
}

/** series: [{name, points: [[ms, value]]}]; fmt formats the y axis. */
export function lineChart(series, start, end, tz, fmt) {
  const W = 960, H = 260, left = 90, bottom = 28, top = 10;
  const max = Math.max(1e-12, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const x = (t) => left + ((t - start) / (end - start)) * (W - left - 10);
  const y = (v) => top + (1 - v / max) * (H - top - bottom);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'hashrate per pool' });
  for (const f of [0, 0.5, 1]) {
    g.append(svg('line', { x1: left, x2: W - 10, y1: y(max * f), y2: y(max * f), class: 'axis' }));
    g.append(svg('text', { x: 2, y: y(max * f) + 4 }, fmt(max * f)));
  }
  const span = end - start;
  for (const t of ticks(start, end, tz, span > 2 * 86400000 ? 24 : 6)) {
    g.append(svg('text', { x: x(t) - 24, y: H - 8 }, hourLabel(t, tz)));
  }
  series.forEach((s, i) => {
    const pts = s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    if (s.points.length === 1) {
      g.append(svg('circle', { cx: x(s.points[0][0]), cy: y(s.points[0][1]), r: 3, fill: PALETTE[i % PALETTE.length] }));
    }
    g.append(svg('polyline', { points: pts, fill: 'none', stroke: PALETTE[i % PALETTE.length], 'stroke-width': 2 }, svg('title', {}, s.name)));
  });
  return g;
}
