// Pair actions shared by the pairs table, the pair page and the training page: enable, disable, start, stop,
// train and cancel a training job (operator and up).
import { api } from './api.js';
import { dialog, h, toast } from './ui.js';

const enc = encodeURIComponent;

export function setEnabled(pair, enable) {
  const verb = enable ? 'Enable' : 'Disable';
  return dialog({
    id: 'pair-enable-dialog',
    title: `${verb} ${pair}`,
    text: enable ? `${pair} is allowed to trade again; the service starts it when its state allows.` : `${pair} stops trading: the service stops its strategy and cancels its open orders.`,
    fields: [{ name: 'reason', label: 'Reason (kept in the audit log)', value: `${verb.toLowerCase()}d from the dashboard`, required: true }],
    confirm: verb,
    danger: !enable,
    action: async (v) => {
      const r = await api.put(`/pairs/${enc(pair)}/${enable ? 'enable' : 'disable'}`, { reason: v.reason });
      toast(`${pair} ${enable ? 'enabled' : 'disabled'}${r && r.changed === false ? ' (it already was)' : ''}`, 'good');
      return r;
    },
  });
}

/** Start for a ready, enabled pair; Stop for a trading one; nothing in other states (the server refuses them). */
export function tradingButton(rec, cls, after) {
  if (rec.state === 'trading') return h('button', { class: cls, 'data-action': 'stop', onclick: async () => (await setTrading(rec.pair, false)) && after() }, 'Stop');
  if (rec.state === 'ready' && rec.enabled) return h('button', { class: cls, 'data-action': 'start', onclick: async () => (await setTrading(rec.pair, true)) && after() }, 'Start');
  return '';
}

export function setTrading(pair, start) {
  const verb = start ? 'Start' : 'Stop';
  return dialog({
    id: 'pair-trading-dialog',
    title: `${verb} ${pair}`,
    text: start ? `${pair} moves to trading: the service starts its strategy with the active parameters.` : `${pair} moves back to ready: the service stops its strategy and cancels its open orders.`,
    fields: [{ name: 'reason', label: 'Reason (kept in the audit log)', value: `${start ? 'started' : 'stopped'} from the dashboard`, required: true }],
    confirm: verb,
    danger: !start,
    action: async (v) => {
      const r = await api.put(`/pairs/${enc(pair)}/${start ? 'start' : 'stop'}`, { reason: v.reason });
      toast(`${pair} ${start ? 'started' : 'stopped'}`, 'good');
      return r;
    },
  });
}

/** Train, disabled while the pair trades or trains (the server refuses it then too). */
export function trainButton(rec, cls, after) {
  const busy = rec.state === 'trading' || rec.state === 'training';
  const title = rec.state === 'trading' ? 'disable the pair first: a trading pair is not trained' : rec.state === 'training' ? 'already training' : 'queue a training job';
  return h('button', { class: cls, 'data-action': 'train', disabled: busy, title, onclick: async () => (await train(rec.pair)) && after() }, 'Train');
}

export function train(pair) {
  return dialog({
    id: 'pair-train-dialog',
    title: `Train ${pair}`,
    text: `A training job for ${pair} is queued; its progress shows on the Training page. The pair keeps its current parameters until a new version passes out-of-sample checks.`,
    fields: [
      { name: 'trials', label: 'Trials (candidates the search evaluates)', value: '200', required: true },
      { name: 'reason', label: 'Reason (kept in the audit log)', value: 'training requested from the dashboard', required: true },
    ],
    confirm: 'Queue training',
    action: async (v) => {
      const trials = Number(v.trials);
      if (!Number.isInteger(trials) || trials < 2) throw new Error('trials must be a whole number of at least 2');
      const r = await api.post(`/pairs/${enc(pair)}/train`, { reason: v.reason, trials });
      const id = r && (r.job_id ?? r.id ?? (r.job && r.job.id));
      toast(`Training of ${pair} queued${id !== undefined ? ` (job ${id})` : ''}`, 'good');
      return r;
    },
  });
}

/** Cancel a queued or running training job (a running job's worker is stopped within a few seconds). */
export function cancelJob(id, pair) {
  return dialog({
    id: 'job-cancel-dialog',
    title: `Cancel training job ${id}`,
    text: `The training job ${id}${pair ? ` of ${pair}` : ''} is canceled; if it runs, its worker is stopped within a few seconds. The pair keeps its current parameters.`,
    fields: [{ name: 'reason', label: 'Reason (kept with the job)', value: 'canceled from the dashboard', required: true }],
    confirm: 'Cancel job',
    danger: true,
    action: async (v) => {
      const r = await api.post(`/training/jobs/${enc(id)}/cancel`, { reason: v.reason });
      toast(`Training job ${id} canceled${r && r.was ? ` (was ${r.was})` : ''}`, 'good');
      return r;
    },
  });
}
