// The system's risk state (GET /risk/status), the kill switch behind a confirmation, and its re-arm.
import { api } from './api.js';
import { pick } from './format.js';
import { dialog, h, toast } from './ui.js';

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
