// Every pair: lifecycle state, cache health, position, and the actions the role allows.
import { api } from '../api.js';
import { isBlank, pick, plain, qty, rowsOf, signed, time } from '../format.js';
import { setEnabled, tradingButton, trainButton } from '../pair_actions.js';
import { badge, h, panel, roleButton, stateBadge, table, toast } from '../ui.js';

export const title = 'Pairs';

/** pair -> row, from a list answer keyed by `pair` (or instrument/instrument_id/symbol). */
export function byPair(rows) {
  const out = {};
  for (const r of rows) {
    const p = pick(r, 'pair', 'instrument_id', 'instrument', 'symbol');
    if (p) out[p] = r;
  }
  return out;
}

/** valid (with its score 0..100), invalid or unknown; the reasons in the tooltip. */
export function cacheBadge(c) {
  if (!c) return badge('—');
  const reasons = rowsOf(c, 'reasons').join('; ');
  const score = isBlank(c.score) ? '' : ` ${Math.round(Number(c.score))}`;
  const el = c.valid === true ? badge(`valid${score}`, 'green') : c.valid === false ? badge('invalid', 'red') : c.source === 'none' ? badge('no cache') : badge('unknown', 'amber');
  el.title = [reasons, c.last_bar ? `last bar ${time(c.last_bar)}` : '', c.source ? `from ${c.source}` : ''].filter(Boolean).join(' · ');
  return el;
}

/** The cache rows of GET /cache/status, whatever the list is called. */
export function cacheRows(data) {
  if (!data) return [];
  if (data.pairs && !Array.isArray(data.pairs) && typeof data.pairs === 'object') return Object.entries(data.pairs).map(([pair, v]) => ({ pair, ...v }));
  return rowsOf(data, 'pairs', 'series', 'items', 'entries');
}

export function mount(root, { scope, session }) {
  const canOperate = session.can('operator');
  const refreshBtn = roleButton(session, 'operator', 'Refresh cache', async () => {
    try {
      await api.post('/cache/refresh', { reason: 'cache refresh from the dashboard' });
      toast('Cache refresh started', 'good');
    } catch (err) {
      toast(err.message, 'bad');
    }
  }, 'btn small', { id: 'cache-refresh' });
  const p = panel('Pairs', { actions: [refreshBtn], id: 'pairs-panel' });
  root.append(p.el);
  const cacheNote = h('div');
  root.append(cacheNote);

  const load = async () => {
    let pairs;
    try {
      pairs = rowsOf(await api.get('/pairs'), 'pairs');
    } catch (err) {
      p.error(err);
      return;
    }
    const [cache, positions] = await Promise.allSettled([api.get('/cache/status'), api.get('/positions')]);
    const cacheBy = cache.status === 'fulfilled' ? byPair(cacheRows(cache.value)) : {};
    const posBy = positions.status === 'fulfilled' ? byPair(rowsOf(positions.value, 'positions')) : {};
    const problems = [cache, positions].filter((r) => r.status === 'rejected').map((r) => r.reason);
    cacheNote.replaceChildren(...problems.map((e) => h('div', { class: 'note' }, `${e.where}: ${e.message}`)));
    const columns = [
      { label: 'Pair', render: (r) => h('a', { href: `#/pair/${encodeURIComponent(r.pair)}` }, r.pair) },
      { label: 'State', render: (r) => stateBadge(r.state) },
      { label: 'Enabled', render: (r) => (r.enabled ? badge('yes', 'green') : badge('no')) },
      { label: 'Strategy', key: 'strategy' },
      { label: 'TF', key: 'timeframe' },
      { label: 'Params', num: true, render: (r) => (r.active_version ? `v${r.active_version}` : '—') },
      { label: 'OOS quality', num: true, render: (r) => plain(r.oos_quality) },
      { label: 'Last trained', render: (r) => time(r.last_trained) },
      { label: 'Cache', render: (r) => cacheBadge(cacheBy[r.pair]) },
      { label: 'Position', num: true, render: (r) => qty(pick(posBy[r.pair] || {}, 'quantity', 'qty', 'net_quantity')) },
      { label: 'Unrealized', num: true, render: (r) => signed(pick(posBy[r.pair] || {}, 'unrealized_pnl', 'unrealised_pnl')) },
    ];
    if (canOperate) {
      columns.push({
        label: '',
        cls: 'act',
        render: (r) =>
          h(
            'div',
            { class: 'actions' },
            r.enabled
              ? h('button', { class: 'btn small', 'data-action': 'disable', onclick: async () => (await setEnabled(r.pair, false)) && run() }, 'Disable')
              : h('button', { class: 'btn small', 'data-action': 'enable', onclick: async () => (await setEnabled(r.pair, true)) && run() }, 'Enable'),
            tradingButton(r, 'btn small', run),
            trainButton(r, 'btn small', run),
          ),
      });
    }
    const key = JSON.stringify([pairs, cacheBy, posBy]);
    p.set(table(columns, pairs, { empty: 'No pairs registered: add one with `traderbot pairs add EURUSD`.', rowAttrs: (r) => ({ 'data-pair': r.pair, 'data-state': r.state }) }), key);
  };
  const run = scope.refresh(load, { topics: ['pairs', 'positions', 'fills'], ms: 4000 });
}
