// Pair actions shared by the pairs table and the pair page: enable, disable, train (operator and up).
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
