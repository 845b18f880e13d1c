// What a view owns while it is shown: listeners, timers and refreshers, all released when the route changes.

export class Scope {
  constructor(live) {
    this.live = live;
    this.alive = true;
    this.disposers = [];
  }

  on(topic, fn) {
    this.disposers.push(this.live.on(topic, (msg) => this.alive && fn(msg)));
  }

  every(ms, fn) {
    const id = setInterval(() => this.alive && fn(), ms);
    this.disposers.push(() => clearInterval(id));
  }

  add(fn) {
    this.disposers.push(fn);
  }

  /**
   * Run `load` now, again soon after any message on `topics` (throttled), and every `ms` as the fallback
   * when the WebSocket is quiet or down. Runs never overlap. Returns a function that asks for a run.
   */
  refresh(load, { topics = [], ms = 5000, throttle = 300 } = {}) {
    let running = false;
    let again = false;
    let timer = null;
    const run = async () => {
      timer = null;
      if (!this.alive) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        await load();
      } finally {
        running = false;
        if (again && this.alive) {
          again = false;
          soon();
        }
      }
    };
    const soon = () => {
      if (timer === null) timer = setTimeout(run, throttle);
    };
    for (const t of topics) this.on(t, soon);
    this.every(ms, run);
    this.add(() => timer !== null && clearTimeout(timer));
    run();
    return soon;
  }

  dispose() {
    this.alive = false;
    for (const d of this.disposers.splice(0)) {
      try {
        d();
      } catch {
        /* a listener already gone */
      }
    }
  }
}
