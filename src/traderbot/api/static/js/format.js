// Display formats. Money and quantities are shown exactly as the API gives them (decimal strings); only the
// sign is coloured. Times are shown in UTC.
import { h } from './ui.js';

export function isBlank(v) {
  return v === undefined || v === null || v === '';
}

/** A decimal as given, with a sign colour. */
export function signed(v) {
  if (isBlank(v)) return '—';
  const s = String(v);
  const n = Number(s);
  const cls = n > 0 ? 'pos' : n < 0 ? 'neg' : '';
  return h('span', { class: cls }, s);
}

export function plain(v) {
  return isBlank(v) ? '—' : String(v);
}

/** A quantity with its side colour (long green, short red). */
export function qty(v) {
  return signed(v);
}

export function pct(v, digits = 1) {
  if (isBlank(v)) return '—';
  const n = Number(v);
  return Number.isFinite(n) ? `${(n * 100).toFixed(digits)}%` : String(v);
}

/** Milliseconds since the epoch from an ISO string, ns/ms/s integers, or null. */
export function toMs(t) {
  if (isBlank(t)) return null;
  if (typeof t === 'number' || /^\d+$/.test(String(t))) {
    const n = Number(t);
    if (n > 1e17) return n / 1e6; // ns
    if (n > 1e14) return n / 1e3; // us
    if (n > 1e11) return n; // ms
    return n * 1000; // s
  }
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

export function time(t) {
  const ms = toMs(t);
  if (ms === null) return isBlank(t) ? '—' : String(t);
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function ago(t) {
  const ms = toMs(t);
  if (ms === null) return '—';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 0) return time(t);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** The first present field among `names` (the API's field names, tolerant of small renames). */
export function pick(obj, ...names) {
  if (!obj) return undefined;
  for (const n of names) if (!isBlank(obj[n])) return obj[n];
  return undefined;
}

/** Rows of a list answer: the array itself or the first array field among `names`. */
export function rowsOf(data, ...names) {
  if (Array.isArray(data)) return data;
  if (!data) return [];
  for (const n of names) if (Array.isArray(data[n])) return data[n];
  const any = Object.values(data).find(Array.isArray);
  return any || [];
}
