// Calls to /api/v1 with the session's bearer token; every failure becomes an ApiError carrying the server's
// one-sentence message (error shape {"error": {"code", "message"}}).
import { session } from './session.js';

export const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message, where, details) {
    super(message);
    this.details = details || null; // the whole "error" object (some carry a list, e.g. "errors")
    this.status = status;
    this.code = code;
    this.where = where;
  }
}

let unauthorized = () => {};

/** Called once per 401 on an authenticated call (the token expired or its key was revoked). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

function messageOf(data, res) {
  if (data && data.error && data.error.message) return String(data.error.message);
  if (data && data.detail) return typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail);
  return `HTTP ${res.status} ${res.statusText || ''}`.trim();
}

export async function request(method, path, { body, headers = {}, auth = true } = {}) {
  const where = `${method} ${BASE}${path}`;
  const h = { Accept: 'application/json', ...headers };
  const token = session.token();
  if (auth && token) h.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, { method, headers: h, body: payload, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', `the server did not answer (${e.message}): is traderbot still running?`, where);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { raw: text };
    }
  }
  if (!res.ok) {
    const code = (data && data.error && data.error.code) || `http_${res.status}`;
    const err = new ApiError(res.status, code, messageOf(data, res), where, data && data.error);
    if (res.status === 401 && auth && token) unauthorized(err);
    throw err;
  }
  return data;
}

export const api = {
  get: (path, opts) => request('GET', path, opts),
  post: (path, body, opts) => request('POST', path, { ...opts, body }),
  put: (path, body, opts) => request('PUT', path, { ...opts, body }),
  del: (path, opts) => request('DELETE', path, opts),
};

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
