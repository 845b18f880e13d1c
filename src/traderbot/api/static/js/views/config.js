// The configuration (secrets redacted by the server), its history, and changes that are always validated
// first: an operator validates then reloads the file; an admin edits, validates, then saves (PUT /config).
import { api } from '../api.js';
import { isBlank, pick, plain, rowsOf, time } from '../format.js';
import { toToml } from '../toml.js';
import { badge, dialog, errorBox, h, panel, table, toast } from '../ui.js';

export const title = 'Config';

/** The configuration as TOML: the server sends it as data (secrets shown as ***). */
function tomlOf(d) {
  if (!d) return '';
  if (typeof d.toml === 'string') return d.toml;
  return d.config ? toToml(d.config) : '';
}

/** One message from a validation answer: ok, or every problem it names. */
export function validationView(r) {
  const ok = r && (r.valid === true || r.ok === true);
  const problems = rowsOf(r, 'errors', 'problems', 'issues').map((e) => (typeof e === 'string' ? e : `${pick(e, 'field', 'loc', 'path') ?? ''} ${pick(e, 'message', 'msg') ?? JSON.stringify(e)}`.trim()));
  const changes = rowsOf(r, 'changes', 'diff', 'changed');
  if (ok) {
    return h(
      'div',
      { class: 'ok-box', id: 'config-valid' },
      h('strong', null, 'Valid. '),
      rowsOf(r, 'restart_needed').length ? `Needs a restart: ${rowsOf(r, 'restart_needed').join(', ')}. ` : '',
      changes.length ? `Changes: ${changes.map((c) => (typeof c === 'string' ? c : pick(c, 'key', 'path', 'field') ?? JSON.stringify(c))).join(', ')}` : 'Nothing changes compared with the running configuration.',
    );
  }
  return h('div', { class: 'error', id: 'config-invalid' }, h('div', { class: 'what' }, 'Not valid'), problems.length ? h('ul', null, problems.map((p) => h('li', null, p))) : pick(r, 'message') || JSON.stringify(r));
}

export function mount(root, { scope, session }) {
  const admin = session.can('admin');
  const operator = session.can('operator');
  const result = h('div', { id: 'config-result' });
  const editor = h('textarea', { class: 'code', id: 'config-editor', spellcheck: 'false', readonly: !admin });
  const viewer = h('pre', { class: 'code', id: 'config-text' });
  const validateBtn = h('button', { class: 'btn', id: 'config-validate', disabled: !operator, title: operator ? '' : 'needs the operator role' }, 'Validate');
  const reloadBtn = h('button', { class: 'btn primary', id: 'config-reload', disabled: true, title: 'validate first' }, 'Reload from file');
  const saveBtn = h('button', { class: 'btn primary', id: 'config-save', disabled: true, title: 'validate first' }, 'Save & apply');
  const actions = admin ? [validateBtn, reloadBtn, saveBtn] : operator ? [validateBtn, reloadBtn] : [];
  const cur = panel('Configuration', { actions, id: 'config-panel' });
  const meta = h('div', { class: 'muted', id: 'config-meta', style: 'padding:8px 12px' });
  const hist = panel('History', { id: 'config-history' });
  hist.body.classList.add('scroll', 'tall');
  root.append(h('div', { class: 'grid cols-3' }, h('div', { class: 'stack' }, cur.el, result), hist.el));

  let loadedText = '';
  let validatedText = null;
  const text = () => (admin ? editor.value : loadedText);
  const setValidated = (t) => {
    validatedText = t;
    const ok = t !== null && t === text();
    const edited = admin && editor.value !== loadedText;
    reloadBtn.disabled = !ok || edited; // a reload reads the file: an unsaved edit is not what it applies
    saveBtn.disabled = !ok || !edited;
    reloadBtn.title = saveBtn.title = ok ? '' : 'validate first';
  };
  editor.addEventListener('input', () => setValidated(validatedText));

  const load = async () => {
    try {
      const d = await api.get('/config');
      loadedText = tomlOf(d);
      const version = pick(d, 'version', 'active_version');
      meta.textContent = [isBlank(version) ? '' : `version ${version}`, d.path || '', d.source ? `from the ${d.source}` : '', 'secrets shown as ***', d.restart_only && d.restart_only.length ? `needs a restart to change: ${d.restart_only.join(', ')}` : ''].filter(Boolean).join(' · ');
      if (!d.config) {
        validateBtn.disabled = true;
        validateBtn.title = 'no configuration to validate';
        cur.set(h('div', { class: 'note' }, 'No configuration is known: the service runs on its defaults (start it with `traderbot run --config traderbot.toml`).'));
        return;
      }
      if (admin) editor.value = loadedText;
      else viewer.textContent = loadedText;
      cur.set(h('div', null, meta, admin ? editor : viewer));
      setValidated(null);
    } catch (err) {
      cur.error(err);
    }
  };
  const loadHistory = async () => {
    try {
      const rows = rowsOf(await api.get('/config/history'), 'versions', 'history', 'items');
      hist.set(
        table(
          [
            { label: 'Version', num: true, render: (r) => plain(pick(r, 'version', 'id')) },
            { label: 'Time', render: (r) => time(pick(r, 'time', 'ts_ns')) },
            { label: 'By', render: (r) => plain(pick(r, 'author', 'actor')) },
            { label: 'Applied', render: (r) => (r.applied === false ? badge('no', 'red') : badge('yes', 'green')) },
            { label: 'Outcome', cls: 'wrap', render: (r) => plain(r.outcome) },
            { label: 'Changes', cls: 'wrap', render: (r) => (Array.isArray(r.diff) && r.diff.length ? h('div', { class: 'mono' }, r.diff.slice(0, 8).map((x) => h('div', null, String(x)))) : '—') },
          ],
          rows,
          { empty: 'No versions recorded yet.' },
        ),
        JSON.stringify(rows),
      );
    } catch (err) {
      hist.error(err);
    }
  };

  validateBtn.addEventListener('click', async () => {
    const t = text();
    validateBtn.disabled = true;
    try {
      const r = await api.post('/config/validate', { toml: t });
      result.replaceChildren(validationView(r));
      setValidated(r && r.valid === true ? t : null);
    } catch (err) {
      const errors = err.details && Array.isArray(err.details.errors) ? err.details.errors : null;
      result.replaceChildren(errors ? validationView({ valid: false, errors }) : errorBox(err));
      setValidated(null);
    } finally {
      validateBtn.disabled = false;
    }
  });
  const applied = (r, what) => {
    const res = (r && r.result) || r || {};
    const outcome = pick(res, 'outcome') ?? pick(r, 'outcome');
    const version = pick(res, 'version') ?? pick(r, 'version');
    result.replaceChildren(h('div', { class: 'ok-box', id: 'config-applied' }, h('strong', null, `${what}. `), [outcome, version !== undefined ? `version ${version}` : ''].filter(Boolean).join(' · ')));
    toast(`Configuration ${what.toLowerCase()}`, 'good');
    load();
    loadHistory();
  };
  reloadBtn.addEventListener('click', () =>
    dialog({
      title: 'Reload the configuration',
      text: 'The service reads its configuration file again and applies what changed, all or nothing.',
      fields: [{ name: 'reason', label: 'Reason (kept in the audit log)', value: 'reload from the dashboard', required: true }],
      confirm: 'Reload',
      action: async (v) => applied(await api.post('/config/reload', { reason: v.reason }), 'Reloaded'),
    }),
  );
  saveBtn.addEventListener('click', () =>
    dialog({
      title: 'Save and apply the configuration',
      text: 'The file is replaced with this text and the service reloads it; if the service does not apply it, the file is put back.',
      fields: [{ name: 'reason', label: 'Reason (kept in the audit log)', value: 'edited in the dashboard', required: true }],
      confirm: 'Save & apply',
      action: async (v) => applied(await api.put('/config', { toml: editor.value, reason: v.reason }), 'Saved and applied'),
    }),
  );
  load();
  scope.refresh(loadHistory, { topics: [], ms: 15000 });
}
