// Orders (open and recent) and trades (fills), filtered by pair; refreshed on order and fill events.
import { api, qs } from '../api.js';
import { pick, plain, rowsOf, time } from '../format.js';
import { h, panel, stateBadge, table } from '../ui.js';
import { tradeColumns } from './overview.js';

export const title = 'Orders & trades';

export function orderColumns() {
  return [
    { label: 'Created', render: (r) => time(pick(r, 'created', 'time', 'ts')) },
    { label: 'Order', render: (r) => h('span', { class: 'mono' }, plain(pick(r, 'client_order_id', 'id', 'order_id'))) },
    { label: 'Pair', render: (r) => plain(pick(r, 'pair', 'instrument_id', 'instrument')) },
    { label: 'Side', render: (r) => { const s = String(pick(r, 'side') ?? '—'); return h('span', { class: /buy/i.test(s) ? 'pos' : /sell/i.test(s) ? 'neg' : '' }, s); } },
    { label: 'Type', render: (r) => plain(pick(r, 'type', 'order_type')) },
    { label: 'Quantity', num: true, render: (r) => plain(pick(r, 'quantity', 'qty')) },
    { label: 'Filled', num: true, render: (r) => plain(pick(r, 'filled_qty')) },
    { label: 'Price', num: true, render: (r) => plain(pick(r, 'price', 'trigger_price')) },
    { label: 'Avg fill', num: true, render: (r) => plain(pick(r, 'avg_fill_price')) },
    { label: 'Status', render: (r) => stateBadge(pick(r, 'status', 'state')) },
    { label: 'Strategy', render: (r) => plain(pick(r, 'strategy', 'strategy_id')) },
  ];
}

export function mount(root, { scope }) {
  const pairSel = h('select', { class: 'inline', id: 'orders-pair' }, h('option', { value: '' }, 'All pairs'));
  const statusSel = h('select', { class: 'inline', id: 'orders-status' }, h('option', { value: '' }, 'All orders'), h('option', { value: 'open' }, 'Open only'));
  root.append(h('div', { class: 'toolbar' }, pairSel, statusSel, h('span', { class: 'grow' })));
  const orders = panel('Orders', { id: 'orders-panel' });
  const trades = panel('Trades', { id: 'fills-panel' });
  root.append(h('div', { class: 'grid cols-2' }, orders.el, trades.el));
  for (const p of [orders, trades]) p.body.classList.add('scroll', 'tall');

  api.get('/pairs').then(
    (d) => pairSel.append(...rowsOf(d, 'pairs').map((r) => h('option', { value: r.pair }, r.pair))),
    () => {},
  );
  const loadOrders = async () => {
    try {
      const d = await api.get(`/orders${qs({ pair: pairSel.value, status: statusSel.value, limit: 200 })}`);
      let rows = rowsOf(d, 'orders');
      if (pairSel.value) rows = rows.filter((r) => pick(r, 'pair', 'instrument_id', 'instrument') === pairSel.value);
      orders.set(table(orderColumns(), rows, { empty: 'No orders.' }), JSON.stringify(rows));
    } catch (err) {
      orders.error(err);
    }
  };
  const loadTrades = async () => {
    try {
      const d = await api.get(`/trades${qs({ pair: pairSel.value, limit: 200 })}`);
      let rows = rowsOf(d, 'trades', 'fills');
      if (pairSel.value) rows = rows.filter((r) => pick(r, 'pair', 'instrument_id', 'instrument') === pairSel.value);
      trades.set(table(tradeColumns(), rows, { empty: 'No trades.' }), JSON.stringify(rows));
    } catch (err) {
      trades.error(err);
    }
  };
  const ro = scope.refresh(loadOrders, { topics: ['orders', 'fills'], ms: 5000 });
  const rt = scope.refresh(loadTrades, { topics: ['trades'], ms: 5000 });
  pairSel.addEventListener('change', () => (ro(), rt()));
  statusSel.addEventListener('change', ro);
}
