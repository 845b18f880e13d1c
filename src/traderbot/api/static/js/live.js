// The WebSocket /api/v1/ws: connect with ?token=, subscribe to topics, receive {topic, ts, type, data}.
// Reconnects with backoff; views also refresh over REST on a timer, so a dropped socket only slows updates.
import { session } from './session.js';

export const TOPICS = ['orders', 'fills', 'positions', 'trades', 'pairs', 'risk', 'training', 'logs'];

export class Live {
  constructor() {
    this.listeners = new Map();
    this.statusListeners = new Set();
    this.topics = new Set(TOPICS);
    this.status = 'offline';
    this.detail = '';
    this.retry = 0;
    this.ws = null;
    this.stopped = false;
    this.recent = []; // the latest data frames, newest last, for views that show a feed when they open
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'signed out');
    this.ws = null;
    this.setStatus('offline', '');
  }

  open() {
    const token = session.token();
    if (!token || this.stopped) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}/api/v1/ws?token=${encodeURIComponent(token)}`);
    } catch (e) {
      this.setStatus('offline', String(e.message || e));
      return;
    }
    this.ws = ws;
    this.setStatus('connecting', '');
    ws.onopen = () => {
      this.retry = 0;
      this.setStatus('live', '');
      this.send({ op: 'subscribe', topics: [...this.topics] });
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.dispatch(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      const why = ev.reason || (ev.code === 1006 ? 'connection lost' : `closed (${ev.code})`);
      this.setStatus('reconnecting', why);
      const delay = Math.min(15000, 500 * 2 ** this.retry++);
      this.timer = setTimeout(() => this.open(), delay);
    };
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  dispatch(msg) {
    if (!msg || typeof msg !== 'object') return;
    const topic = msg.topic || msg.type;
    if (msg.topic) {
      msg.received = Date.now();
      this.recent.push(msg);
      if (this.recent.length > 200) this.recent.shift();
    }
    for (const key of [topic, '*']) {
      const set = this.listeners.get(key);
      if (set) for (const fn of [...set]) fn(msg);
    }
  }

  /** Listen to a topic ('*' for all); returns the function that stops listening. */
  on(topic, fn) {
    if (topic !== '*' && !this.topics.has(topic)) {
      this.topics.add(topic);
      this.send({ op: 'subscribe', topics: [topic] });
    }
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(fn);
    return () => {
      const set = this.listeners.get(topic);
      if (set) set.delete(fn);
      if (topic === 'prices' && set && set.size === 0) {
        this.topics.delete('prices'); // prices are the heavy topic: only while a chart shows them
        this.send({ op: 'unsubscribe', topics: ['prices'] });
      }
    };
  }

  onStatus(fn) {
    this.statusListeners.add(fn);
    fn(this.status, this.detail);
    return () => this.statusListeners.delete(fn);
  }

  setStatus(status, detail) {
    this.status = status;
    this.detail = detail;
    for (const fn of this.statusListeners) fn(status, detail);
  }
}
