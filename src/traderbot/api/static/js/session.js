// The signed-in session, kept in sessionStorage (gone when the tab closes): token, role, name, expiry.
const KEY = 'traderbot.session';
const RANK = { viewer: 0, operator: 1, admin: 2 };

let current = read();

function read() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return s && typeof s.token === 'string' ? s : null;
  } catch {
    return null;
  }
}

export const session = {
  get: () => current,
  token: () => (current ? current.token : null),
  role: () => (current ? current.role : 'viewer'),
  /** True when the signed-in role is at least `needed` (the server enforces it anyway). */
  can: (needed) => !!current && (RANK[current.role] ?? -1) >= RANK[needed],
  expired: () => !!current && !!current.expires && Date.parse(current.expires) <= Date.now(),
  save(s) {
    current = s;
    sessionStorage.setItem(KEY, JSON.stringify(s));
  },
  clear() {
    current = null;
    sessionStorage.removeItem(KEY);
  },
};
