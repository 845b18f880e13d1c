// Overview: account figures, equity curve, open positions, recent fills, health, a live event feed, and the risk
// controls: trading states and locks, with setting a state (operator).
import { api } from '../api.js';
import { createChart, sec, uniqueByTime } from '../charts.js';
import { isBlank, pct, pick, plain, rowsOf, signed, time } from '../format.js';
import { lockColumns, locksOf, stateDialog, statesTable } from '../risk.js';
import { h, panel, roleButton, stateBadge, table } from '../ui.js';

export const title = 'Overview';

function kpi(label, id) {
  const value = h('div', { class: 'value', id: `kpi-${id}` }, '—');
  const sub = h('div', { class: 'sub' }, '');
  return { el: h('div', { class: 'kpi' }, h('div', { class: 'label' }, label), value, sub), value, sub };
}

/** [{time, value}] from the performance answer's equity curve, whatever it is called. */
export function equityPoints(perf) {
  if (!perf) return [];
  let curve = pick(perf, 'equity_curve', 'equity_series', 'curve', 'snapshots') || [];
  if (!Array.isArray(curve)) curve = rowsOf(curve, 'points');
  return uniqueByTime(
    curve.map((p) => (Array.isArray(p) ? { time: sec(p[0]), value: Number(p[1]) } : { time: sec(pick(p, 'time', 'ts', 't', 'at')), value: Number(pick(p, 'equity', 'value', 'v')) })).filter((p) => Number.isFinite(p.value) && p.time > 0),
  );
}

export function positionColumns() {
  return [
    { label: 'Pair', render: (r) => { const p = pick(r, 'pair', 'instrument_id', 'instrument'); return h('a', { href: `#/pair/${encodeURIComponent(p)}` }, p); } },
    { label: 'Side', render: (r) => plain(r.side) },
    { label: 'Quantity', num: true, render: (r) => signed(pick(r, 'quantity', 'qty', 'net_quantity')) },
    { label: 'Avg price', num: true, render: (r) => plain(pick(r, 'avg_price', 'average_price', 'avg_px')) },
    { label: 'Mark', num: true, render: (r) => plain(pick(r, 'mark', 'last_price', 'mark_price')) },
    { label: 'Unrealized', num: true, render: (r) => signed(pick(r, 'unrealized_pnl', 'unrealised_pnl')) },
    { label: 'Realized', num: true, render: (r) => signed(pick(r, 'realized_pnl', 'realised_pnl')) },
  ];
}

/** Closed round trips (GET /trades): side is the position's (long/short), P&L net of costs. */
export function tradeColumns() {
  return [
    { label: 'Closed', render: (r) => time(pick(r, 'exit_time', 'time')) },
    { label: 'Pair', render: (r) => plain(pick(r, 'pair', 'instrument_id')) },
    { label: 'Side', render: (r) => { const s = String(pick(r, 'side') ?? '—'); return h('span', { class: /long|buy/i.test(s) ? 'pos' : /short|sell/i.test(s) ? 'neg' : '' }, s); } },
    { label: 'Quantity', num: true, render: (r) => plain(pick(r, 'quantity', 'qty')) },
    { label: 'Entry', num: true, render: (r) => plain(pick(r, 'entry_price')) },
    { label: 'Exit', num: true, render: (r) => plain(pick(r, 'exit_price')) },
    { label: 'Commission', num: true, render: (r) => plain(pick(r, 'commission')) },
    { label: 'P&L', num: true, render: (r) => signed(pick(r, 'pnl', 'realized_pnl')) },
  ];
}

/** One line for a live event: the pair and the few fields that say what happened. */
export function describe(msg) {
  const d = msg.data;
  if (d === null || typeof d !== 'object') return String(d ?? '');
  if (msg.topic === 'logs') return `${d.level || ''} ${d.message || ''}`.trim();
  const who = pick(d, 'instrument_id', 'pair') || '';
  const parts = [];
  if (msg.topic === 'fills') parts.push(`${d.side || ''} ${plain(d.quantity)} @ ${plain(d.price)}`);
  else if (msg.topic === 'trades') parts.push(`${d.side || ''} ${plain(d.quantity)} closed, P&L ${plain(d.pnl)}`);
  else if (msg.topic === 'training') parts.push(`job ${plain(d.id)} ${d.status || ''}${isBlank(d.progress) ? '' : ` ${Math.round(Number(d.progress) * 100)}%`}`);
  else if (msg.topic === 'orders') parts.push(plain(d.client_order_id));
  for (const k of ['state', 'reason', 'message']) if (!isBlank(d[k]) && typeof d[k] !== 'object') parts.push(String(d[k]));
  return [who, ...parts].filter(Boolean).join(' · ') || JSON.stringify(d).slice(0, 160);
}

export function openPositions(rows) {
  return rows.filter((r) => Number(pick(r, 'quantity', 'qty', 'net_quantity') ?? 0) !== 0);
}

export function mount(root, { scope, live, session }) {
  const k = {
    equity: kpi('Equity', 'equity'),
    daily: kpi('Daily P&L', 'daily-pnl'),
    realized: kpi('Realized P&L', 'realized'),
    unrealized: kpi('Unrealized P&L', 'unrealized'),
    positions: kpi('Open positions', 'positions'),
    pairs: kpi('Pairs trading', 'pairs'),
    risk: kpi('Risk state', 'risk'),
    health: kpi('System health', 'health'),
  };
  root.append(h('div', { class: 'kpis' }, Object.values(k).map((x) => x.el)));
  const chartPanel = panel('Equity', { id: 'equity-panel' });
  const chartBox = h('div', { class: 'chart', id: 'equity-chart' });
  chartPanel.body.replaceChildren(chartBox);
  const feed = panel('Live events', { id: 'events-panel' });
  const feedBox = h('div', { class: 'log', id: 'event-feed' }, h('div', { class: 'muted' }, 'Waiting for events…'));
  feed.body.replaceChildren(feedBox);
  const pos = panel('Open positions', { id: 'positions-panel' });
  const fills = panel('Recent trades', { id: 'trades-panel' });
  let scopes = ['system'];
  let systemState = 'active';
  const risk = panel('Risk controls', {
    id: 'risk-panel',
    actions: [roleButton(session, 'operator', 'Set state', async () => (await stateDialog(scopes, systemState)) && refreshAll(), 'btn small', { id: 'risk-set-state' })],
  });
  root.append(h('div', { class: 'grid cols-3' }, chartPanel.el, feed.el), h('div', { class: 'grid cols-2' }, pos.el, fills.el), risk.el);

  let series = null;
  let chart = null;
  let drawn = 0;
  let chartError = null;
  const chartReady = createChart(chartBox)
    .then((c) => {
      chart = c;
      if (!scope.alive) return chart.remove();
      scope.add(() => {
        series = null; // a refresh still in flight must not draw on a removed chart
        chart.remove();
      });
      series = chart.addAreaSeries({ lineColor: '#3d7bfd', topColor: 'rgba(61,123,253,.28)', bottomColor: 'rgba(61,123,253,0)', lineWidth: 2, priceLineVisible: false });
    })
    .catch((err) => {
      chartError = err;
      chartPanel.error(err);
    });
  const seen = [];

  const setKpi = (x, value, sub, colour) => {
    x.value.replaceChildren(colour ? signed(value) : plain(value));
    x.sub.textContent = sub || '';
  };

  const refreshAll = scope.refresh(
    async () => {
      const [perf, posR, riskR, pairs, health] = await Promise.allSettled([
        api.get('/trading/performance'),
        api.get('/positions'),
        api.get('/risk/status'),
        api.get('/pairs'),
        api.get('/system/health'),
      ]);
      if (perf.status === 'fulfilled') {
        const p = perf.value || {};
        const acct = p.account || p;
        const ccy = pick(acct, 'currency', 'account_currency') || '';
        setKpi(k.equity, pick(acct, 'equity'), `${ccy} · cash ${plain(pick(acct, 'cash', 'balance'))}${p.as_of ? ` · as of ${time(p.as_of)}` : ''}`);
        setKpi(k.daily, pick(p, 'daily_pnl', 'pnl_today'), p.day_start ? `since ${time(p.day_start)}` : 'today (UTC)', true);
        setKpi(k.realized, pick(p, 'realized_pnl', 'realised_pnl') ?? pick(acct, 'realized_pnl'), '', true);
        setKpi(k.unrealized, pick(p, 'unrealized_pnl', 'unrealised_pnl') ?? pick(acct, 'unrealized_pnl'), '', true);
        await chartReady;
        if (series && !chartError && scope.alive) {
          let pts = equityPoints(p);
          const eq = Number(pick(acct, 'equity'));
          if (pts.length === 0 && Number.isFinite(eq)) {
            seen.push({ time: Math.floor(Date.now() / 1000), value: eq }); // no stored curve: draw what we see
            pts = uniqueByTime(seen);
          }
          series.setData(pts);
          if (pts.length !== drawn) chart.timeScale().fitContent();
          drawn = pts.length;
        }
      } else {
        setKpi(k.equity, '—', perf.reason.message);
        chartPanel.error(perf.reason);
      }
      if (posR.status === 'fulfilled') {
        const rows = openPositions(rowsOf(posR.value, 'positions'));
        setKpi(k.positions, String(rows.length), rows.length ? rows.map((r) => pick(r, 'pair', 'instrument_id')).join(', ') : 'all flat');
        pos.set(table(positionColumns(), rows, { empty: 'No open positions: every pair is flat.' }), JSON.stringify(rows));
      } else pos.error(posR.reason);
      if (riskR.status === 'fulfilled') {
        const r = riskR.value || {};
        const ks = r.kill_switch || {};
        const st = ks.engaged ? 'halted' : pick(r, 'system_state', 'state') ?? 'unknown';
        k.risk.value.replaceChildren(stateBadge(st));
        const dd = perf.status === 'fulfilled' && perf.value && perf.value.drawdown;
        k.risk.sub.textContent = ks.engaged ? `kill switch: ${ks.reason || 'engaged'}` : dd ? `drawdown ${pct(dd.current_pct, 2)} · max ${pct(dd.max_pct, 2)}` : '';
        systemState = String(pick(r, 'system_state') ?? 'active');
        const locks = locksOf(r);
        risk.set(
          h('div', { class: 'grid cols-2' }, h('div', { id: 'risk-states' }, statesTable(r)), h('div', { id: 'risk-locks' }, table(lockColumns(), locks, { empty: 'No locks.' }))),
          JSON.stringify([r.system_state, r.states, locks]),
        );
      } else {
        setKpi(k.risk, '—', riskR.reason.message);
        risk.error(riskR.reason);
      }
      if (pairs.status === 'fulfilled') {
        const rows = rowsOf(pairs.value, 'pairs');
        scopes = ['system', ...rows.map((r) => `pair:${r.pair}`)];
        setKpi(k.pairs, `${rows.filter((r) => r.state === 'trading').length} / ${rows.length}`, `${rows.filter((r) => r.enabled).length} enabled`);
      } else setKpi(k.pairs, '—', pairs.reason.message);
      if (health.status === 'fulfilled') {
        const hv = health.value || {};
        const score = pick(hv, 'score', 'health_score');
        k.health.value.replaceChildren(isBlank(score) ? stateBadge(pick(hv, 'status', 'state')) : h('span', null, String(score), ' ', stateBadge(pick(hv, 'status', 'state', 'grade'))));
        const reasons = rowsOf(hv, 'reasons');
        k.health.sub.textContent = reasons.length ? reasons.map((x) => (typeof x === 'string' ? x : pick(x, 'message', 'reason', 'text'))).join('; ') : 'no problems';
      } else setKpi(k.health, '—', health.reason.message);
    },
    { topics: ['fills', 'positions', 'risk', 'pairs'], ms: 5000 },
  );

  scope.refresh(
    async () => {
      try {
        const rows = rowsOf(await api.get('/trades?limit=12'), 'trades', 'fills');
        fills.set(table(tradeColumns(), rows.slice(0, 12), { empty: 'No trades yet.' }), JSON.stringify(rows));
      } catch (err) {
        fills.error(err);
      }
    },
    { topics: ['trades'], ms: 5000 },
  );

  let first = true;
  const addEvent = (msg) => {
    if (first) {
      feedBox.replaceChildren();
      first = false;
    }
    const text = describe(msg);
    const d = msg.data || {};
    const bad = /error|critical/i.test(String(d.level || '')) || msg.topic === 'risk' || /Denied|Rejected/.test(msg.type || '');
    feedBox.prepend(h('div', { class: bad ? 'neg' : '', title: `${text} (event time ${time(msg.ts)})` }, h('span', { class: 't' }, time(msg.received || Date.now()).slice(11)), h('span', { class: 'muted' }, `${msg.type || msg.topic} `), text));
    while (feedBox.childElementCount > 200) feedBox.lastChild.remove();
  };
  const FEED = ['logs', 'risk', 'orders', 'fills', 'trades', 'pairs', 'training'];
  for (const m of live.recent) if (FEED.includes(m.topic)) addEvent(m);
  for (const t of FEED) scope.on(t, addEvent);
}
