// The case websocket: connects, reconnects with backoff, and reloads the current state over HTTP after each
// (re)connection, because the channel layer keeps nothing for clients that were away.

export const CLOSE_NOT_FOUND = 4404; // the server's "no such case for you": reconnecting cannot help

export function backoffDelay(attempt, { baseMs = 500, maxMs = 10000, random = Math.random } = {}) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  // Full jitter, with a floor so a flapping server is not hammered.
  return Math.round(baseMs / 2 + random() * (ceiling - baseMs / 2));
}

export function socketUrl(location, path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export class CaseSocket {
  constructor({
    url,
    stateUrl,
    onEvent = () => {},
    onState = () => {},
    onStatus = () => {},
    WebSocketImpl = globalThis.WebSocket,
    fetchImpl = globalThis.fetch?.bind(globalThis),
    setTimeoutImpl = globalThis.setTimeout.bind(globalThis),
    clearTimeoutImpl = globalThis.clearTimeout.bind(globalThis),
    random = Math.random,
    baseMs = 500,
    maxMs = 10000,
  }) {
    Object.assign(this, { url, stateUrl, onEvent, onState, onStatus, WebSocketImpl, fetchImpl });
    Object.assign(this, { setTimeoutImpl, clearTimeoutImpl, random, baseMs, maxMs });
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.status = "idle";
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) this.clearTimeoutImpl(this.timer);
    this.timer = null;
    if (this.ws) this.ws.close(1000);
    this.setStatus("stopped");
  }

  setStatus(status) {
    this.status = status;
    this.onStatus(status);
  }

  connect() {
    this.timer = null;
    this.setStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    ws.onmessage = (message) => this.handleMessage(message);
    ws.onclose = (event) => this.handleClose(event);
    ws.onerror = () => {}; // a close event always follows
  }

  handleMessage(message) {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    if (data.type === "hello") {
      // Joined the group: from now on nothing is missed, so this is the moment to load the current state.
      this.attempt = 0;
      this.setStatus("live");
      this.reload();
    } else if (data.type === "job") {
      this.onEvent(data);
    }
  }

  handleClose(event) {
    this.ws = null;
    if (this.stopped) return;
    if (event.code === CLOSE_NOT_FOUND) {
      this.setStatus("not-found");
      return;
    }
    const delay = backoffDelay(this.attempt, { baseMs: this.baseMs, maxMs: this.maxMs, random: this.random });
    this.attempt += 1;
    this.setStatus("reconnecting");
    this.timer = this.setTimeoutImpl(() => this.connect(), delay);
  }

  async reload() {
    if (!this.stateUrl || !this.fetchImpl) return;
    try {
      const response = await this.fetchImpl(this.stateUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`state request answered ${response.status}`);
      this.onState(await response.json());
    } catch (error) {
      this.setStatus("stale");
      console.warn("could not reload the case state", error);
    }
  }
}
