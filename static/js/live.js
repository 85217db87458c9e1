// A page's socket (consumers.py): a snapshot on connect, then events. Search events carry the
// search's seq number: a gap (a message that channels_redis dropped for a slow client) makes the
// page ask for a fresh snapshot. Suite events carry the whole suite, so they need no number.
// The socket reconnects with backoff while the page's work is active.

const PING_MS = 20000;
const NOT_ALLOWED = [4401, 4404]; // signed out, or not yours: reconnecting won't help

/**
 * Open `path` and keep it open while isActive(). onSnapshot(msg) redraws the page; onEvent(msg)
 * applies one event and returns false for one it does not know (then the page resyncs).
 * `indicator` is the element that says "live" or "offline". Returns the connection's state.
 */
export function connect({ path, onSnapshot, onEvent, isActive, indicator }) {
  const state = { liveEvents: 0, lastSeq: 0, socket: null, retries: 0 };
  const send = (msg) => {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(msg));
  };
  const resync = () => send({ type: "resync" });
  const show = (on) => {
    indicator.textContent = on ? "live" : "offline";
    indicator.className = on ? "live on" : "live off";
  };

  function onMessage(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (msg.type === "snapshot") {
      state.lastSeq = msg.seq || 0;
      onSnapshot(msg);
      return;
    }
    if (msg.type === "pong") return;
    const numbered = typeof msg.seq === "number";
    if (numbered && msg.seq <= state.lastSeq) return; // already shown
    if ((numbered && msg.seq > state.lastSeq + 1) || onEvent(msg) === false) {
      resync(); // a message was lost, or is unknown: the database has it
      return;
    }
    if (numbered) state.lastSeq = msg.seq;
    state.liveEvents += 1;
  }

  function open() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + location.host + path);
    state.socket = ws;
    ws.onopen = () => {
      state.retries = 0;
      show(true);
    };
    ws.onmessage = onMessage;
    ws.onclose = (ev) => {
      show(false);
      if (NOT_ALLOWED.includes(ev.code) || !isActive()) return;
      const delay = Math.min(30000, 500 * 2 ** state.retries) * (0.75 + Math.random() / 2);
      state.retries += 1;
      setTimeout(open, delay);
    };
  }

  // A lost group membership (a Redis restart) shows no gap: ask now and then whether we are
  // behind; the server answers with a snapshot if so, else with a pong.
  setInterval(() => isActive() && send({ type: "ping", seq: state.lastSeq }), PING_MS);
  open();
  return state;
}
