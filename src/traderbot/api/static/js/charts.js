// TradingView Lightweight Charts (vendored, static/vendor/), loaded on the first page that draws a chart.
import { toMs } from './format.js';

let loading = null;

export function loadCharts() {
  if (window.LightweightCharts) return Promise.resolve(window.LightweightCharts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/static/vendor/lightweight-charts.standalone.production.js';
      s.onload = () => resolve(window.LightweightCharts);
      s.onerror = () => {
        loading = null;
        reject(new Error('the chart library (/static/vendor/) did not load'));
      };
      document.head.append(s);
    });
  }
  return loading;
}

const THEME = {
  autoSize: true,
  layout: { background: { type: 'solid', color: '#131722' }, textColor: '#8b90a0', fontSize: 11 },
  grid: { vertLines: { color: '#1b1f2b' }, horzLines: { color: '#1b1f2b' } },
  rightPriceScale: { borderColor: '#262b38' },
  timeScale: { borderColor: '#262b38', timeVisible: true, secondsVisible: false },
  crosshair: { mode: 0 },
};

export async function createChart(el) {
  const L = await loadCharts();
  return L.createChart(el, THEME);
}

/** Seconds since the epoch (the chart's time unit) from any time the API gives. */
export function sec(t) {
  const ms = toMs(t);
  return ms === null ? null : Math.floor(ms / 1000);
}

/** Points sorted by time with one value per time (the chart refuses repeated or unsorted times). */
export function uniqueByTime(points) {
  const sorted = points.filter((p) => p.time !== null && Number.isFinite(p.time)).sort((a, b) => a.time - b.time);
  const out = [];
  for (const p of sorted) {
    if (out.length && out[out.length - 1].time === p.time) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

/** The time of the bar that contains `t` (markers must sit on a bar of the series). */
export function snapToBar(times, t) {
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0 || t < times[0]) return null;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return times[lo];
}
