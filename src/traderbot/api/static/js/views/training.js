// The training queue: jobs with live progress (training topic), a form to queue a pair and a Cancel button on
// queued or running jobs (operator and up).
import { api } from '../api.js';
import { isBlank, pick, plain, rowsOf, time } from '../format.js';
import { cancelJob, train } from '../pair_actions.js';
import { h, panel, roleButton, stateBadge, table } from '../ui.js';

export const title = 'Training';

/** Progress as a fraction 0..1 from a job or a progress message. */
export function fraction(j) {
  const p = pick(j, 'progress', 'fraction', 'pct', 'percent');
  if (!isBlank(p)) {
    const n = Number(p);
    return n > 1 ? n / 100 : n;
  }
  const done = Number(pick(j, 'trials_done', 'done', 'completed', 'step'));
  const total = Number(pick(j, 'trials', 'total', 'n_trials', 'steps'));
  return total > 0 && Number.isFinite(done) ? done / total : null;
}

function resultText(j) {
  if (j.error) return h('span', { class: 'neg' }, String(j.error));
  const r = j.result;
  if (r && typeof r === 'object') {
    const gate = r.gate && typeof r.gate === 'object' ? (r.gate.passed === false ? 'gate failed' : r.gate.passed ? 'gate passed' : '') : plain(r.gate);
    return [isBlank(r.oos_quality) ? '' : `OOS quality ${r.oos_quality}`, gate].filter(Boolean).join(' · ') || plain(j.message);
  }
  return plain(j.message);
}

export function progressBar(f) {
  if (f === null || !Number.isFinite(f)) return '—';
  const pct = Math.max(0, Math.min(1, f)) * 100;
  return h('span', null, h('span', { class: 'progress' }, h('span', { style: `width:${pct.toFixed(1)}%` })), `${pct.toFixed(0)}%`);
}

/** Running, then waiting (in run order), then finished jobs. */
export function jobRows(d) {
  if (Array.isArray(d)) return d;
  if (!d) return [];
  return [...rowsOf(d, 'running'), ...rowsOf(d, 'waiting'), ...rowsOf(d, 'finished')];
}

const CANCELABLE = new Set(['queued', 'retry_wait', 'running']);

/** Cancel on a queued or running job (its live status first); nothing on finished ones. */
function cancelButton(j, live, after) {
  const id = pick(j, 'id', 'job_id');
  const status = pick(live[id] || {}, 'status', 'state') ?? pick(j, 'status', 'state');
  if (isBlank(id) || !CANCELABLE.has(String(status))) return '';
  return h('button', { class: 'btn small', 'data-action': 'cancel', onclick: async () => (await cancelJob(id, pick(j, 'pair'))) && after() }, 'Cancel');
}

/** The job table's columns; with `after` (operator and up), a last column with Cancel, then `after()`. */
export function jobColumns(live = {}, after = null) {
  const columns = [
    { label: 'Job', num: true, render: (j) => plain(pick(j, 'id', 'job_id')) },
    { label: 'Pair', render: (j) => { const p = pick(j, 'pair'); return p ? h('a', { href: `#/pair/${encodeURIComponent(p)}` }, p) : '—'; } },
    { label: 'Status', render: (j) => stateBadge(pick(live[pick(j, 'id', 'job_id')] || {}, 'status', 'state') ?? pick(j, 'status', 'state')) },
    { label: 'Progress', render: (j) => progressBar(fraction({ ...j, ...(live[pick(j, 'id', 'job_id')] || {}) })) },
    { label: 'Queued', render: (j) => time(pick(j, 'created', 'queued', 'queued_at', 'created_at', 'submitted')) },
    { label: 'Started', render: (j) => time(pick(j, 'started', 'started_at')) },
    { label: 'Finished', render: (j) => time(pick(j, 'finished', 'finished_at', 'ended', 'done_at')) },
    { label: 'ETA', num: true, render: (j) => (isBlank(j.eta_s) ? '—' : `${Math.round(j.eta_s)} s`) },
    { label: 'Result', cls: 'wrap', render: (j) => resultText(j) },
  ];
  if (after) columns.push({ label: '', cls: 'act', render: (j) => cancelButton(j, live, after) });
  return columns;
}

export function mount(root, { scope, session }) {
  const pairSel = h('select', { class: 'inline', id: 'train-pair' });
  const trainBtn = roleButton(session, 'operator', 'Queue training', async () => pairSel.value && (await train(pairSel.value)) && run(), 'btn primary', { id: 'train-queue' });
  root.append(h('div', { class: 'toolbar' }, session.can('operator') ? [pairSel, trainBtn] : h('span', { class: 'muted' }, 'Training is started by an operator.'), h('span', { class: 'grow' })));
  api.get('/pairs').then(
    (d) => pairSel.append(...rowsOf(d, 'pairs').map((r) => h('option', { value: r.pair }, r.pair))),
    () => {},
  );
  const jobs = panel('Training jobs', { id: 'training-panel' });
  jobs.body.classList.add('scroll', 'tall');
  root.append(jobs.el);
  const live = {};
  let rows = [];
  const draw = () => jobs.set(table(jobColumns(live, session.can('operator') ? () => run() : null), rows, { empty: 'No training jobs yet.' }), JSON.stringify([rows, live]));
  const run = scope.refresh(
    async () => {
      try {
        rows = jobRows(await api.get('/training/jobs?limit=50'));
        draw();
      } catch (err) {
        jobs.error(err);
      }
    },
    { topics: [], ms: 4000 },
  );
  scope.on('training', (msg) => {
    const d = msg.data || {};
    const id = pick(d, 'job_id', 'id');
    if (isBlank(id)) return run();
    live[id] = { ...(live[id] || {}), ...d };
    if (!rows.some((j) => String(pick(j, 'id', 'job_id')) === String(id)) || /done|finished|failed|succeeded|canceled/i.test(String(pick(d, 'status', 'state') || ''))) run();
    else draw();
  });
}
