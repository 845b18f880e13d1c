// The system's risk state (GET /risk/status), the kill switch behind a confirmation, and its re-arm; the
// operator's risk commands: trading states (system, pair), locks and their release (POST /risk/state,
// POST|DELETE /risk/locks).
import { api, qs } from './api.js';
import { pick, plain, time } from './format.js';
import { dialog, h, stateBadge, table, toast } from './ui.js';

export const STATES = ['active', 'reducing', 'halted'];

/** {halted, state, reason} from the risk status answer, whatever its exact nesting. */
export function riskView(data) {
  if (!data) return { halted: false, state: 'unknown', reason: '' };
  const ks = data.kill_switch && typeof data.kill_switch === 'object' ? data.kill_switch : {};
  const state = String(pick(data, 'system_state', 'state', 'trading_state') ?? pick(data.system || {}, 'state') ?? 'unknown');
  const engaged = ks.engaged === true || data.kill_switch === true || data.engaged === true;
  return {
    halted: engaged || state.toLowerCase() === 'halted',
    engaged,
    state,
    reason: String(pick(ks, 'reason') ?? pick(data, 'reason', 'halt_reason') ?? ''),
  };
}

export function killSwitchDialog() {
  return dialog({
    id: 'kill-switch-dialog',
    title: 'Engage the kill switch',
    danger: true,
    text: [
      h('p', null, 'Every open order is canceled and trading halts for every pair until an operator re-arms it.'),
      h('p', { class: 'muted' }, 'With "flatten", every open position is also closed at market.'),
    ],
    fields: [
      { name: 'reason', label: 'Reason (kept in the audit log)', value: 'emergency stop from the dashboard', required: true },
      { name: 'flatten', label: 'Flatten: close every position at market', type: 'checkbox', value: true },
    ],
    confirm: 'Engage kill switch',
    action: async (v) => {
      const r = await api.post('/risk/kill-switch', { reason: v.reason, flatten: v.flatten });
      const res = (r && r.result) || {};
      const canceled = Array.isArray(res.canceled) ? res.canceled.length : res.canceled;
      toast(`Kill switch engaged${v.flatten ? ', flattening every position' : ''}` + (canceled !== undefined ? ` (${canceled} orders canceled)` : ''), 'bad');
      return r;
    },
  });
}

export function rearmDialog() {
  return dialog({
    id: 'rearm-dialog',
    title: 'Re-arm trading',
    text: 'The kill switch is released and the system is set active again; pairs resume trading as their state allows.',
    fields: [{ name: 'reason', label: 'Reason', value: 're-armed from the dashboard', required: true }],
    confirm: 'Re-arm',
    action: async (v) => {
      const r = await api.post('/risk/rearm', { reason: v.reason });
      toast('Trading re-armed', 'good');
      return r;
    },
  });
}

/** A scope's own trading state from the status answer (`states` lists the scopes set; absent is active). */
export function scopeState(data, scope) {
  const states = (data && data.states) || {};
  if (scope === 'system') return String(pick(data || {}, 'system_state') ?? states.system ?? 'active');
  return String(states[scope] ?? 'active');
}

/** The most restrictive of some states (halted over reducing over active): what is in force for a scope. */
export function strictest(states) {
  return states.reduce((a, b) => (STATES.indexOf(b) > STATES.indexOf(a) ? b : a), 'active');
}

/** The active locks of one scope (all of them without a scope). */
export function locksOf(data, scope) {
  const locks = Array.isArray(data && data.locks) ? data.locks : [];
  return scope ? locks.filter((lk) => lk.scope === scope) : locks;
}

export function lockColumns(withScope = true) {
  return [
    withScope && { label: 'Scope', render: (r) => plain(r.scope) },
    { label: 'State', render: (r) => stateBadge(r.action) },
    { label: 'Source', render: (r) => plain(r.source) },
    { label: 'Until', render: (r) => time(r.until) },
    { label: 'Reason', cls: 'wrap', render: (r) => plain(r.reason) },
  ].filter(Boolean);
}

/** Scopes and their own states, system first, then every scope set away from active. */
export function stateRows(data) {
  const rows = [{ scope: 'system', state: scopeState(data, 'system') }];
  for (const [scope, state] of Object.entries((data && data.states) || {})) if (scope !== 'system' && scope !== 'kill_switch') rows.push({ scope, state });
  return rows;
}

export function statesTable(data) {
  return table([{ label: 'Scope', render: (r) => plain(r.scope) }, { label: 'State', render: (r) => stateBadge(r.state) }], stateRows(data));
}

/** Set a trading state: `scopes` are offered in a list (the first preselected), the state defaults to `current`. */
export function stateDialog(scopes, current = 'active') {
  return dialog({
    id: 'risk-state-dialog',
    title: scopes.length === 1 ? `Trading state of ${scopes[0]}` : 'Set a trading state',
    text: 'active trades normally, reducing only closes or shrinks positions, halted sends no new orders. The change is stored with who and why and is in force at once.',
    fields: [
      { name: 'scope', label: 'Scope', type: 'select', options: scopes, value: scopes[0] },
      { name: 'state', label: 'State', type: 'select', options: STATES, value: current },
      { name: 'reason', label: 'Reason (kept in the audit log)', value: 'set from the dashboard', required: true },
    ],
    confirm: 'Set state',
    action: async (v) => {
      const r = await api.post('/risk/state', { scope: v.scope, state: v.state, reason: v.reason });
      toast(`${v.scope} set ${v.state}`, v.state === 'active' ? 'good' : 'bad');
      return r;
    },
  });
}

/** Lock a scope by hand (halted or reducing) for some minutes of the service's clock. */
export function lockDialog(scope) {
  return dialog({
    id: 'risk-lock-dialog',
    title: `Lock ${scope}`,
    danger: true,
    text: `${scope} stops trading (halted) or only reduces its positions until the lock expires or is released. Minutes count on the service's clock: in paper mode, the replay's time.`,
    fields: [
      { name: 'minutes', label: 'Minutes', value: '30', required: true },
      { name: 'state', label: 'State while locked', type: 'select', options: ['halted', 'reducing'], value: 'halted' },
      { name: 'reason', label: 'Reason (kept in the audit log)', value: 'locked from the dashboard', required: true },
    ],
    confirm: 'Lock',
    action: async (v) => {
      const minutes = Number(v.minutes);
      if (!Number.isInteger(minutes) || minutes < 1) throw new Error('minutes must be a whole number of at least 1');
      const r = await api.post('/risk/locks', { scope, minutes, state: v.state, reason: v.reason });
      toast(`${scope} locked (${v.state}) for ${minutes} min`, 'bad');
      return r;
    },
  });
}

/** Release every lock of a scope (`locks`: the ones shown, listed in the dialog). */
export function unlockDialog(scope, locks = []) {
  return dialog({
    id: 'risk-unlock-dialog',
    title: `Unlock ${scope}`,
    text: [
      h('p', null, `Every lock on ${scope} is released; its trading state then applies again.`),
      locks.length ? h('ul', { class: 'muted' }, locks.map((lk) => h('li', null, `${lk.source}: ${lk.action} until ${time(lk.until)}`))) : null,
    ],
    fields: [{ name: 'reason', label: 'Reason (kept in the audit log)', value: 'unlocked from the dashboard', required: true }],
    confirm: 'Unlock',
    action: async (v) => {
      const r = await api.del(`/risk/locks${qs({ scope, reason: v.reason })}`);
      const cleared = r && r.result && Array.isArray(r.result.cleared) ? r.result.cleared.length : undefined;
      toast(`${scope} unlocked${cleared !== undefined ? ` (${cleared} lock${cleared === 1 ? '' : 's'} released)` : ''}`, 'good');
      return r;
    },
  });
}
