// TOML text from the configuration as GET /config gives it (nested objects of scalars and lists). Unset
// values (null) become comments, since TOML has no null.

const BARE = /^[A-Za-z0-9_-]+$/;

function key(k) {
  return BARE.test(k) ? k : JSON.stringify(k);
}

function value(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(value).join(', ')}]`;
  if (v && typeof v === 'object') return `{ ${Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => `${key(k)} = ${value(x)}`).join(', ')} }`;
  return '""';
}

const isTable = (v) => v && typeof v === 'object' && !Array.isArray(v);
const isTableArray = (v) => Array.isArray(v) && v.length > 0 && v.every(isTable);

function emit(obj, path, out) {
  const entries = Object.entries(obj);
  const lines = [];
  for (const [k, v] of entries) {
    if (isTable(v) || isTableArray(v)) continue;
    lines.push(v === null ? `# ${key(k)} = (unset)` : `${key(k)} = ${value(v)}`);
  }
  if (path.length && (lines.length || entries.length === 0)) out.push(`\n[${path.map(key).join('.')}]`);
  out.push(...lines);
  for (const [k, v] of entries) {
    if (isTable(v)) emit(v, [...path, k], out);
    else if (isTableArray(v)) {
      for (const item of v) {
        out.push(`\n[[${[...path, k].map(key).join('.')}]]`);
        for (const [ik, iv] of Object.entries(item)) if (iv !== null) out.push(`${key(ik)} = ${value(iv)}`);
      }
    }
  }
}

export function toToml(obj) {
  if (!obj || typeof obj !== 'object') return '';
  const out = [];
  emit(obj, [], out);
  return `${out.join('\n').trim()}\n`;
}
