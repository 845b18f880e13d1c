// The dashboard shell: login, navigation (hash routes), live connection, risk state and the kill switch.
import { onUnauthorized } from './api.js';
import { api } from './api.js';
import { Live } from './live.js';
import { killSwitchDialog, rearmDialog, riskView } from './risk.js';
import { Scope } from './scope.js';
import { session } from './session.js';
import { badge, h } from './ui.js';
import * as configView from './views/config.js';
import * as loginView from './views/login.js';
import * as ordersView from './views/orders.js';
import * as overviewView from './views/overview.js';
import * as pairView from './views/pair.js';
import * as pairsView from './views/pairs.js';
import * as trainingView from './views/training.js';

const ROUTES = {
  overview: overviewView,
  pairs: pairsView,
  pair: pairView,
  training: trainingView,
  orders: ordersView,
  config: configView,
};
const NAV = [
  ['overview', 'Overview'],
  ['pairs', 'Pairs'],
  ['training', 'Training'],
  ['orders', 'Orders & trades'],
  ['config', 'Config'],
];

const root = document.getElementById('app');
let live = null;
let shellScope = null;
let viewScope = null;
let shell = null;

function showLogin(message) {
  if (viewScope) viewScope.dispose();
  if (shellScope) shellScope.dispose();
  if (live) live.stop();
  viewScope = shellScope = live = shell = null;
  root.replaceChildren(loginView.render({ message, onDone: showShell }));
}

function signOut(message) {
  session.clear();
  if (location.hash !== '#/login') history.replaceState(null, '', '#/overview');
  showLogin(message);
}

function connBadge(status, detail) {
  const cls = { live: 'ok', connecting: 'warn', reconnecting: 'warn', offline: 'bad' }[status] || '';
  const label = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline' }[status] || status;
  return h('span', { class: 'conn', title: detail || (status === 'live' ? 'WebSocket connected' : 'updates every few seconds over REST') }, h('span', { class: `dot ${cls}` }), label);
}

function showShell() {
  const s = session.get();
  live = new Live();
  shellScope = new Scope(live);
  const title = h('div', { class: 'title' });
  const conn = h('span');
  const riskSlot = h('span', { id: 'risk-state' });
  const rearmSlot = h('span');
  const killBtn = h(
    'button',
    {
      class: 'btn kill',
      id: 'kill-switch',
      disabled: !session.can('operator'),
      title: session.can('operator') ? 'Cancel every order and halt trading' : 'needs the operator role',
      onclick: async () => {
        if (await killSwitchDialog()) refreshRisk();
      },
    },
    'KILL SWITCH',
  );
  const nav = h(
    'nav',
    { class: 'nav' },
    NAV.map(([id, label]) => h('a', { href: `#/${id}`, dataset: { route: id } }, label)),
    h(
      'div',
      { class: 'foot' },
      h('div', null, 'Charts by ', h('a', { href: 'https://www.tradingview.com/', target: '_blank', rel: 'noopener noreferrer' }, 'TradingView Lightweight Charts™')),
      h('div', null, h('a', { href: '/docs', target: '_blank' }, 'API docs')),
    ),
  );
  const banner = h('div');
  const view = h('div', { id: 'view' });
  shell = { title, nav, view, banner };
  root.replaceChildren(
    h(
      'div',
      { class: 'shell' },
      h('div', { class: 'brand' }, h('span', { class: 'logo' }), 'traderbot'),
      h(
        'header',
        { class: 'topbar' },
        title,
        conn,
        riskSlot,
        h('span', { class: 'who', id: 'whoami' }, `${s.name || 'signed in'} `, badge(s.role, s.role === 'admin' ? 'violet' : s.role === 'operator' ? 'blue' : '')),
        rearmSlot,
        killBtn,
        h('button', { class: 'btn', onclick: () => signOut('Signed out.') }, 'Sign out'),
      ),
      nav,
      h('main', { class: 'main' }, banner, view),
    ),
  );
  live.onStatus((st, detail) => conn.replaceChildren(connBadge(st, detail)));
  live.start();

  const refreshRisk = shellScope.refresh(
    async () => {
      let r;
      try {
        r = riskView(await api.get('/risk/status'));
      } catch (err) {
        riskSlot.replaceChildren(h('span', { class: 'badge amber', title: err.message }, 'risk: unknown'));
        return;
      }
      riskSlot.replaceChildren(h('span', { title: r.reason || '' }, badge(r.halted ? 'HALTED' : r.state, r.halted ? 'red' : r.state === 'active' ? 'green' : 'amber')));
      document.body.dataset.risk = r.halted ? 'halted' : r.state;
      rearmSlot.replaceChildren(
        r.halted && session.can('operator') ? h('button', { class: 'btn', id: 'rearm', onclick: async () => (await rearmDialog()) && refreshRisk() }, 'Re-arm') : '',
      );
      banner.replaceChildren(
        r.halted
          ? h('div', { class: 'banner', id: 'halt-banner' }, h('strong', null, 'Trading halted'), h('span', { class: 'grow' }, r.reason ? `Kill switch: ${r.reason}` : 'The kill switch is engaged: no new orders are sent.'))
          : '',
      );
    },
    { topics: ['risk'], ms: 5000 },
  );
  shellScope.every(15000, () => session.expired() && signOut('Your session expired: sign in again.'));
  route();
}

function route() {
  if (!session.get()) return;
  if (!shell) return;
  const parts = (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map(decodeURIComponent);
  const name = ROUTES[parts[0]] ? parts[0] : 'overview';
  if (viewScope) viewScope.dispose();
  viewScope = new Scope(live);
  const mod = ROUTES[name];
  for (const a of shell.nav.querySelectorAll('a[data-route]')) {
    a.classList.toggle('active', a.dataset.route === name || (name === 'pair' && a.dataset.route === 'pairs'));
  }
  const args = parts.slice(1);
  shell.title.textContent = typeof mod.title === 'function' ? mod.title(args) : mod.title;
  document.title = `${shell.title.textContent} · traderbot`;
  const el = h('div', { class: 'stack', id: `view-${name}` });
  shell.view.replaceChildren(el);
  mod.mount(el, { scope: viewScope, live, session }, args);
}

onUnauthorized(() => signOut('Your session expired or its key was revoked: sign in again.'));
window.addEventListener('hashchange', route);

if (session.get() && !session.expired()) showShell();
else {
  session.clear();
  showLogin();
}
