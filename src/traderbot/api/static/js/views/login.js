// Sign in: username and password (POST /auth/login), or an API key exchanged for a short-lived token
// (POST /auth/token). Only the token is kept (sessionStorage); the key and the password are never stored.
import { api, request } from '../api.js';
import { session } from '../session.js';
import { errorBox, h } from '../ui.js';

function expiresFrom(r) {
  if (r.expires_at) return r.expires_at;
  if (r.expires) return typeof r.expires === 'number' ? new Date(r.expires * 1000).toISOString() : r.expires;
  if (r.expires_in) return new Date(Date.now() + r.expires_in * 1000).toISOString();
  return null;
}

async function withPassword(username, password) {
  const r = await request('POST', '/auth/login', { body: { username, password }, auth: false });
  return { token: r.token, role: r.role, name: r.username || username, expires: expiresFrom(r), via: 'password' };
}

async function withKey(key) {
  const r = await request('POST', '/auth/token', { headers: { 'X-API-Key': key }, auth: false });
  const s = { token: r.token, role: r.role, name: 'API key', expires: expiresFrom(r), via: 'key' };
  session.save(s);
  try {
    const me = await api.get('/auth/whoami');
    s.name = me.name || (me.key_id ? `key ${me.key_id}` : s.name);
  } catch {
    /* the name is only shown; the token works */
  }
  return s;
}

export function render({ message, onDone }) {
  let mode = 'password';
  const msg = h('div', null, message ? h('div', { class: 'note' }, message) : null);
  const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', placeholder: 'username' });
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', placeholder: 'password' });
  const key = h('input', { type: 'password', name: 'api_key', autocomplete: 'off', placeholder: 'tb_…' });
  const pwFields = h('div', null, h('label', { class: 'field' }, h('span', null, 'Username'), user), h('label', { class: 'field' }, h('span', null, 'Password'), pass));
  const keyFields = h('div', { hidden: true }, h('label', { class: 'field' }, h('span', null, 'API key'), key), h('p', { class: 'muted' }, 'Exchanged for a short-lived token; the key itself is not stored.'));
  const submit = h('button', { class: 'btn primary', type: 'submit', id: 'sign-in' }, 'Sign in');
  const tabPw = h('button', { type: 'button', class: 'active', id: 'tab-password', onclick: () => choose('password') }, 'Password');
  const tabKey = h('button', { type: 'button', id: 'tab-key', onclick: () => choose('key') }, 'API key');
  function choose(m) {
    mode = m;
    tabPw.classList.toggle('active', m === 'password');
    tabKey.classList.toggle('active', m === 'key');
    pwFields.hidden = m !== 'password';
    keyFields.hidden = m !== 'key';
    (m === 'password' ? user : key).focus();
  }
  const form = h(
    'form',
    {
      id: 'login-form',
      onsubmit: async (e) => {
        e.preventDefault();
        submit.disabled = true;
        msg.replaceChildren();
        try {
          let s;
          if (mode === 'password') {
            if (!user.value.trim() || !pass.value) throw new Error('enter a username and a password (or sign in with an API key)');
            s = await withPassword(user.value.trim(), pass.value);
          } else {
            if (!key.value.trim()) throw new Error('paste an API key (an admin creates one with `traderbot keys create`)');
            s = await withKey(key.value.trim());
          }
          session.save(s);
          if (!location.hash || location.hash === '#/login') location.hash = '#/overview';
          onDone();
        } catch (err) {
          session.clear();
          if (err.status === 404 && mode === 'password') err.message = 'this server has no password login: sign in with an API key';
          msg.replaceChildren(err.where ? errorBox(err) : h('div', { class: 'error' }, err.message));
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('div', { class: 'tabs' }, tabPw, tabKey),
    pwFields,
    keyFields,
    msg,
    submit,
  );
  setTimeout(() => user.focus(), 0);
  return h('div', { class: 'login' }, h('div', { class: 'card' }, h('div', { class: 'brand' }, h('span', { class: 'logo' }), 'traderbot'), form));
}
