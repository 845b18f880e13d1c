// DOM helpers: elements are built with textContent only (never innerHTML), so API text cannot inject markup.

export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') el.style.cssText = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
}

/** A dense table. columns: [{key, label, num, cls, render(row) -> node|string, title}]. */
export function table(columns, rows, { empty = 'Nothing to show.', rowAttrs } = {}) {
  if (!rows || rows.length === 0) return h('div', { class: 'empty' }, empty);
  const head = h('tr', null, columns.map((c) => h('th', { class: c.num ? 'num' : c.cls || '', title: c.title }, c.label)));
  const body = rows.map((r) =>
    h(
      'tr',
      rowAttrs ? rowAttrs(r) : null,
      columns.map((c) => {
        const v = c.render ? c.render(r) : r[c.key];
        return h('td', { class: [c.num ? 'num' : '', c.cls || ''].join(' ').trim() || null }, v ?? '—');
      }),
    ),
  );
  return h('table', { class: 'data' }, h('thead', null, head), h('tbody', null, body));
}

/** A titled panel; `set(node)` replaces its body only when the content changed (keeps hover and focus). */
export function panel(title, { actions = [], pad = false, id } = {}) {
  const body = h('div', { class: pad ? 'body pad' : 'body' }, h('div', { class: 'empty' }, 'Loading…'));
  const el = h('section', { class: 'panel', id }, h('header', null, h('h2', null, title), actions), body);
  let last = null;
  return {
    el,
    body,
    set(node, key) {
      if (key !== undefined && key === last) return;
      last = key === undefined ? null : key;
      body.replaceChildren(node);
    },
    error(err) {
      last = null;
      body.replaceChildren(errorBox(err));
    },
  };
}

export function errorBox(err) {
  const where = err && err.where ? `${err.where} failed` : 'Request failed';
  const status = err && err.status ? ` (${err.status}${err.code ? ` ${err.code}` : ''})` : '';
  return h('div', { class: 'error', role: 'alert' }, h('div', { class: 'what' }, where + status), String(err && err.message ? err.message : err));
}

export function badge(text, color) {
  return h('span', { class: `badge ${color || ''}` }, text);
}

const STATE_COLORS = {
  trading: 'green', active: 'green', ready: 'blue', running: 'blue', training: 'violet', queued: 'amber',
  pending: 'amber', paused: 'amber', reducing: 'amber', disabled: '', untrained: '', halted: 'red', failed: 'red',
  error: 'red', canceled: '', cancelled: '', done: 'green', succeeded: 'green', finished: 'green', valid: 'green',
  ok: 'green', stale: 'amber', invalid: 'red', missing: 'red', filled: 'green', rejected: 'red', denied: 'red',
  accepted: 'blue', submitted: 'blue', partially_filled: 'amber', expired: '', degraded: 'amber', critical: 'red',
};

export function stateBadge(state) {
  const s = state === undefined || state === null ? '—' : String(state);
  return badge(s, STATE_COLORS[s.toLowerCase()] || '');
}

let toastBox;
export function toast(message, kind = '') {
  if (!toastBox || !toastBox.isConnected) {
    toastBox = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const t = h('div', { class: `toast ${kind}`, role: 'status' }, message);
  toastBox.append(t);
  setTimeout(() => t.remove(), kind === 'bad' ? 9000 : 4000);
}

/**
 * A modal dialog. `fields`: [{name, label, type: 'text'|'checkbox'|'password'|'select', value, required, options}]. Resolves with
 * the field values on confirm, null on cancel. `action(values)` runs before closing; if it throws, its message
 * is shown in the dialog and the dialog stays open.
 */
export function dialog({ title, text, fields = [], confirm = 'Confirm', danger = false, action, id }) {
  return new Promise((resolve) => {
    const inputs = {};
    const msg = h('div');
    const rows = fields.map((f) => {
      if (f.type === 'checkbox') {
        inputs[f.name] = h('input', { type: 'checkbox', name: f.name, checked: f.value });
        return h('label', { class: 'check' }, inputs[f.name], f.label);
      }
      if (f.type === 'select') {
        inputs[f.name] = h('select', { name: f.name }, (f.options || []).map((o) => h('option', { value: o, selected: o === f.value }, o)));
        return h('label', { class: 'field' }, h('span', null, f.label), inputs[f.name]);
      }
      inputs[f.name] = h('input', { type: f.type || 'text', name: f.name, value: f.value ?? '', required: f.required, autocomplete: 'off' });
      return h('label', { class: 'field' }, h('span', null, f.label), inputs[f.name]);
    });
    const ok = h('button', { class: `btn ${danger ? 'danger' : 'primary'}`, type: 'submit', 'data-role': 'confirm' }, confirm);
    const cancel = h('button', { class: 'btn', type: 'button', 'data-role': 'cancel' }, 'Cancel');
    const form = h(
      'form',
      { method: 'dialog' },
      h('header', { class: danger ? 'danger' : '' }, title),
      h('div', { class: 'content' }, text ? (Array.isArray(text) ? text : h('p', null, text)) : null, rows, msg),
      h('footer', null, cancel, ok),
    );
    const dlg = h('dialog', { id, 'aria-label': title }, form);
    document.body.append(dlg);
    const close = (value) => {
      dlg.close();
      dlg.remove();
      resolve(value);
    };
    cancel.addEventListener('click', () => close(null));
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      close(null);
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const values = {};
      for (const [k, el] of Object.entries(inputs)) values[k] = el.type === 'checkbox' ? el.checked : el.value.trim();
      const missing = fields.find((f) => f.required && !values[f.name]);
      if (missing) {
        msg.replaceChildren(h('div', { class: 'error' }, `${missing.label} is required.`));
        return;
      }
      if (!action) return close(values);
      ok.disabled = true;
      try {
        const result = await action(values);
        close(result === undefined ? values : result);
      } catch (err) {
        ok.disabled = false;
        msg.replaceChildren(errorBox(err));
      }
    });
    dlg.showModal();
    const first = Object.values(inputs).find((i) => i.type !== 'checkbox');
    (first || ok).focus();
  });
}

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

/** A button that needs `role`: disabled with an explanation when the session's role is lower. */
export function roleButton(session, role, label, onclick, cls = 'btn small', attrs = {}) {
  const allowed = session.can(role);
  return h(
    'button',
    { class: cls, disabled: !allowed, title: allowed ? attrs.title : `needs the ${role} role`, onclick: allowed ? onclick : null, ...attrs },
    label,
  );
}
