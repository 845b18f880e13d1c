// One pair: price chart with its trades, state and actions, parameters and metrics, position, its risk state and
// locks (lock, unlock, set its trading state: operator), training history.
import { api, qs } from '../api.js';
import { createChart, sec, snapToBar, uniqueByTime } from '../charts.js';
import { isBlank, pick, plain, rowsOf, signed, time } from '../format.js';
import { setEnabled, tradingButton, trainButton } from '../pair_actions.js';
import { lockColumns, lockDialog, locksOf, scopeState, stateDialog, strictest, unlockDialog } from '../risk.js';
import { badge, h, kv, panel, stateBadge, table } from '../ui.js';
import { tradeColumns } from './overview.js';
import { jobColumns, jobRows } from './training.js';

export const title = (args) => `Pair ${args[0] || ''}`;

/** Candles for the chart from the bars answer (times in seconds, prices as numbers for drawing only). */
export function candles(d) {
  return uniqueByTime(
    rowsOf(d, 'bars').map((b) => ({ time: sec(pick(b, 'time', 'ts', 't')), open: Number(b.open), high: Number(b.high), low: Number(b.low), close: Number(b.close) })),
  ).filter((c) => [c.open, c.high, c.low, c.close].every(Number.isFinite));
}

/** Decimals the prices are quoted with (from the API's exact strings: 5 for EURUSD, 3 for USDJPY), 2..8. */
export function priceDecimals(d) {
  let most = 2;
  for (const b of rowsOf(d, 'bars')) {
    const text = String(b.close ?? '');
    const dot = text.indexOf('.');
    if (dot >= 0) most = Math.max(most, text.length - dot - 1);
  }
  return Math.min(most, 8);
}

/** Arrows at the bars of each round trip's entry (buy for a long, sell for a short) and exit (the opposite). */
export function markers(trades, barTimes) {
  const out = [];
  const arrow = (t, buy, text) => {
    if (t === null) return;
    out.push({ time: t, position: buy ? 'belowBar' : 'aboveBar', color: buy ? '#26a69a' : '#ef5350', shape: buy ? 'arrowUp' : 'arrowDown', text });
  };
  for (const tr of trades) {
    const long = !/short|sell/i.test(String(pick(tr, 'side') ?? ''));
    arrow(snapToBar(barTimes, sec(pick(tr, 'entry_time', 'time'))), long, long ? 'B' : 'S');
    if (tr.exit_time) arrow(snapToBar(barTimes, sec(tr.exit_time)), !long, `${long ? 'S' : 'B'} ${plain(tr.pnl)}`);
  }
  return out.sort((a, b) => a.time - b.time);
}

export function mount(root, { scope, session }, args) {
  const pair = (args[0] || '').toUpperCase();
  const enc = encodeURIComponent(pair);
  const head = h('div', { class: 'toolbar', id: 'pair-head' });
  root.append(head);
  const chartP = panel(`${pair} price`, { id: 'price-panel' });
  const chartBox = h('div', { class: 'chart tall', id: 'price-chart' });
  chartP.body.replaceChildren(chartBox);
  const metrics = panel('Parameters & metrics', { id: 'metrics-panel' });
  const position = panel('Position', { id: 'pair-position' });
  const riskP = panel('Risk', { id: 'pair-risk' });
  const riskActs = h('span', { class: 'actions', id: 'pair-risk-actions' });
  const riskScope = `pair:${pair}`;
  const jobs = panel('Training history', { id: 'pair-training' });
  const history = panel('State changes', { id: 'pair-history' });
  const fillsP = panel('Trades', { id: 'pair-trades' });
  for (const p of [jobs, history, fillsP]) p.body.classList.add('scroll');
  root.append(
    h('div', { class: 'grid cols-3' }, chartP.el, h('div', { class: 'stack' }, position.el, riskP.el, metrics.el)),
    h('div', { class: 'grid cols-2' }, fillsP.el, jobs.el),
    history.el,
  );

  let candle = null;
  let barTimes = [];
  let fills = [];
  const chartReady = createChart(chartBox).then(
    (chart) => {
      if (!scope.alive) return chart.remove();
      scope.add(() => {
        candle = null; // a refresh still in flight must not draw on a removed chart
        chart.remove();
      });
      candle = chart.addCandlestickSeries({ upColor: '#26a69a', downColor: '#ef5350', borderVisible: false, wickUpColor: '#26a69a', wickDownColor: '#ef5350' });
      return chart;
    },
    (err) => chartP.error(err),
  );
  const drawMarkers = () => candle && candle.setMarkers(markers(fills, barTimes));

  let fitted = false;
  scope.refresh(
    async () => {
      const chart = await chartReady;
      if (!candle) return;
      try {
        const raw = await api.get(`/pairs/${enc}/bars${qs({ limit: 600 })}`);
        const data = candles(raw);
        if (!scope.alive || !candle) return;
        const digits = priceDecimals(raw);
        candle.applyOptions({ priceFormat: { type: 'price', precision: digits, minMove: 10 ** -digits } });
        if (data.length === 0) {
          chartP.set(h('div', { class: 'note' }, `No bars for ${pair} yet: they appear once the pair is loaded by the running service.`));
          return;
        }
        if (!chartBox.isConnected) chartP.set(chartBox);
        candle.setData(data);
        barTimes = data.map((c) => c.time);
        drawMarkers();
        if (!fitted) {
          chart.timeScale().fitContent();
          fitted = true;
        }
      } catch (err) {
        chartP.error(err);
      }
    },
    { topics: ['prices'], ms: 5000, throttle: 1000 },
  );

  const refreshStatus = scope.refresh(
    async () => {
      try {
        const rec = await api.get(`/pairs/${enc}/status`);
        head.replaceChildren(
          h('h1', null, rec.pair),
          stateBadge(rec.state),
          rec.enabled ? badge('enabled', 'green') : badge('disabled'),
          h('span', { class: 'muted' }, `${rec.strategy} · ${rec.timeframe}${rec.active_version ? ` · params v${rec.active_version}` : ' · untrained'}`),
          h('span', { class: 'grow' }),
          session.can('operator')
            ? h(
                'span',
                { class: 'actions' },
                rec.enabled
                  ? h('button', { class: 'btn', 'data-action': 'disable', onclick: async () => (await setEnabled(rec.pair, false)) && refreshStatus() }, 'Disable')
                  : h('button', { class: 'btn', 'data-action': 'enable', onclick: async () => (await setEnabled(rec.pair, true)) && refreshStatus() }, 'Enable'),
                tradingButton(rec, 'btn', refreshStatus),
                trainButton(rec, 'btn', refreshStatus),
                riskActs,
              )
            : '',
        );
        const ap = rec.active_params;
        const m = (ap && ap.metrics) || {};
        const p = (ap && ap.params) || {};
        metrics.set(
          ap
            ? h(
                'div',
                null,
                kv([['Version', `v${ap.version} (${plain(ap.source)})`], ['Saved', time(ap.saved)], ...Object.entries(m).map(([k2, v]) => [k2, typeof v === 'object' ? JSON.stringify(v) : plain(v)])]),
                h('div', { class: 'muted', style: 'padding:0 12px' }, 'Parameters'),
                kv(Object.entries(p).map(([k2, v]) => [k2, typeof v === 'object' ? JSON.stringify(v) : plain(v)])),
              )
            : h('div', { class: 'note' }, `${rec.pair} has no trained parameters yet${session.can('operator') ? ': press Train.' : '.'}`),
          JSON.stringify(ap),
        );
        const rows = rowsOf(rec, 'positions');
        position.set(
          table(
            [
              { label: 'Strategy', render: (r) => plain(r.strategy) },
              { label: 'Quantity', num: true, render: (r) => signed(r.quantity) },
              { label: 'Avg price', num: true, render: (r) => plain(r.avg_price) },
              { label: 'Realized', num: true, render: (r) => signed(r.realized_pnl) },
            ],
            rows.filter((r) => Number(r.quantity) !== 0),
            { empty: `${rec.pair} is flat.` },
          ),
          JSON.stringify(rows),
        );
      } catch (err) {
        head.replaceChildren(h('h1', null, pair));
        metrics.error(err);
        position.error(err);
      }
    },
    { topics: ['pairs', 'positions', 'fills'], ms: 5000 },
  );

  const refreshRisk = scope.refresh(
    async () => {
      try {
        const data = await api.get('/risk/status');
        const locks = locksOf(data, riskScope);
        const own = scopeState(data, riskScope);
        const system = scopeState(data, 'system');
        const engaged = !!(data && data.kill_switch && data.kill_switch.engaged);
        if (session.can('operator')) {
          const after = async (done) => (await done) && refreshRisk();
          riskActs.replaceChildren(
            h('button', { class: 'btn', 'data-action': 'lock', onclick: () => after(lockDialog(riskScope)) }, 'Lock'),
            locks.length ? h('button', { class: 'btn', 'data-action': 'unlock', onclick: () => after(unlockDialog(riskScope, locks)) }, 'Unlock') : '',
            h('button', { class: 'btn', 'data-action': 'risk-state', onclick: () => after(stateDialog([riskScope], own)) }, 'State'),
          );
        }
        riskP.set(
          h(
            'div',
            null,
            kv([['Pair state', stateBadge(own)], ['System state', stateBadge(engaged ? 'halted' : system)], ['In force', stateBadge(strictest([own, engaged ? 'halted' : system, ...locks.map((lk) => lk.action)]))]]),
            table(lockColumns(false), locks, { empty: `No lock on ${pair}.` }),
          ),
          JSON.stringify([own, system, locks, engaged]),
        );
      } catch (err) {
        riskP.error(err);
      }
    },
    { topics: ['risk'], ms: 5000 },
  );

  scope.refresh(
    async () => {
      try {
        fills = rowsOf(await api.get(`/trades${qs({ pair, limit: 500 })}`), 'trades', 'fills').filter((f) => isBlank(pick(f, 'pair', 'instrument_id', 'instrument')) || pick(f, 'pair', 'instrument_id', 'instrument') === pair);
        drawMarkers();
        fillsP.set(
          table(
            tradeColumns().filter((c) => c.label !== 'Pair'),
            fills.slice(0, 100),
            { empty: `No trades on ${pair} yet.` },
          ),
          JSON.stringify(fills.slice(0, 100)),
        );
      } catch (err) {
        fillsP.error(err);
      }
    },
    { topics: ['trades'], ms: 5000 },
  );

  scope.refresh(
    async () => {
      try {
        const rows = jobRows(await api.get(`/training/jobs${qs({ pair })}`)).filter((j) => isBlank(j.pair) || j.pair === pair);
        jobs.set(table(jobColumns().filter((c) => c.label !== 'Pair'), rows, { empty: `${pair} has not been trained from the API yet.` }), JSON.stringify(rows));
      } catch (err) {
        jobs.error(err);
      }
      try {
        const ev = rowsOf(await api.get(`/pairs/${enc}/history${qs({ limit: 100 })}`), 'events').slice().reverse();
        history.set(
          table(
            [
              { label: 'Time', render: (r) => time(r.time) },
              { label: 'Event', render: (r) => plain(r.event) },
              { label: 'From', render: (r) => (r.from ? stateBadge(r.from) : '—') },
              { label: 'To', render: (r) => (r.to ? stateBadge(r.to) : '—') },
              { label: 'By', render: (r) => plain(r.actor) },
              { label: 'Reason', cls: 'wrap', render: (r) => plain(r.reason) },
            ],
            ev,
            { empty: 'No changes recorded.' },
          ),
          JSON.stringify(ev),
        );
      } catch (err) {
        history.error(err);
      }
    },
    { topics: ['training', 'pairs'], ms: 8000 },
  );
}
