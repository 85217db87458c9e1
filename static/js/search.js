// Search page: the server rendered the truth; this script appends live events from the socket.
// Every event carries the search's seq number. A gap (a message lost by a slow client) or a
// reconnect makes the page ask for a fresh snapshot and redraw from it.
(function () {
  "use strict";

  const page = document.getElementById("search-page");
  if (!page) return;

  const PHASES = ["depth", "width", "op", "kernel"];
  const COLOURS = { depth: "#1f77b4", width: "#ff7f0e", op: "#2ca02c", kernel: "#d62728" };
  const ACTIVE = ["queued", "running"];

  const state = {
    liveEvents: 0, // socket events applied (snapshots not counted)
    lastSeq: 0,
    chart: null,
    status: "queued",
    candidates: new Map(), // index -> candidate (finished only)
    socket: null,
    retries: 0,
  };
  window.miniNAS = state;

  const $ = (id) => document.getElementById(id);
  const fmtInt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
  const fmtPct = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2) + "%");
  function fmtSeconds(v) {
    if (v === null || v === undefined) return "–";
    if (v < 10) return Number(v).toFixed(1) + "s";
    const s = Math.round(v);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }
  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  // ---------------------------------------------------------------- chart

  function makeChart() {
    const canvas = $("candidates-chart");
    if (!canvas || typeof Chart === "undefined") return null;
    return new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: PHASES.map((p) => ({
          label: p,
          data: [],
          backgroundColor: COLOURS[p],
          borderColor: COLOURS[p],
          pointStyle: (ctx) => (ctx.raw && ctx.raw.accepted ? "star" : "circle"),
          pointRadius: (ctx) => (ctx.raw && ctx.raw.accepted ? 9 : 4),
          pointBorderWidth: (ctx) => (ctx.raw && ctx.raw.accepted ? 2 : 1),
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { type: "logarithmic", title: { display: true, text: "parameters" } },
          y: { title: { display: true, text: "test accuracy (%)" } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (ctx) =>
                "#" + ctx.raw.index + " " + ctx.raw.arch + ": " + fmtPct(ctx.raw.y) + ", " +
                fmtInt(ctx.raw.x) + " params" + (ctx.raw.accepted ? " (accepted)" : ""),
            },
          },
        },
      },
    });
  }

  function redrawChart() {
    if (!state.chart) return;
    const byPhase = Object.fromEntries(PHASES.map((p) => [p, []]));
    for (const c of [...state.candidates.values()].sort((a, b) => a.index - b.index)) {
      if (c.test_acc === null || c.test_acc === undefined) continue;
      const point = { x: c.params, y: c.test_acc, index: c.index, arch: c.arch_short, accepted: c.accepted };
      (byPhase[c.phase] || byPhase.depth).push(point);
    }
    state.chart.data.datasets.forEach((ds) => (ds.data = byPhase[ds.label]));
    state.chart.update();
  }

  // ---------------------------------------------------------------- tables

  function candidateRow(c) {
    const tr = document.createElement("tr");
    tr.dataset.index = String(c.index);
    if (c.accepted) tr.className = "accepted";
    cell(tr, String(c.index));
    cell(tr, c.phase);
    cell(tr, c.arch_short, "mono");
    cell(tr, fmtInt(c.params));
    cell(tr, fmtInt(c.macs));
    cell(tr, fmtPct(c.train_acc));
    cell(tr, fmtPct(c.test_acc));
    cell(tr, String(c.epochs));
    cell(tr, fmtSeconds(c.seconds));
    cell(tr, c.accepted ? "yes" : "no");
    cell(tr, c.reason || "");
    return tr;
  }

  function upsertCandidate(c) {
    if (c.status === "running") return;
    state.candidates.set(c.index, c);
    const tbody = document.querySelector("#candidates-table tbody");
    const row = candidateRow(c);
    const old = tbody.querySelector('tr[data-index="' + c.index + '"]');
    if (old) {
      old.replaceWith(row);
    } else {
      const after = [...tbody.rows].find((r) => Number(r.dataset.index) > c.index);
      tbody.insertBefore(row, after || null);
    }
    $("candidate-count").textContent = String(state.candidates.size);
  }

  function showBest(best) {
    const tbody = document.querySelector("#best-table tbody");
    if (!best) return;
    tbody.replaceChildren(
      ...(best.table || []).map((r) => {
        const tr = document.createElement("tr");
        [r.layer, r.ch, r.dims, r.stride, r.op, r.k].forEach((v) => cell(tr, String(v)));
        return tr;
      })
    );
    $("best-params").textContent = fmtInt(best.params) + " params · " + fmtPct(best.test_acc);
  }

  // ---------------------------------------------------------------- status, progress, summary

  function showStatus(status, phase) {
    if (status) {
      state.status = status;
      const el = $("search-status");
      el.textContent = status;
      el.className = "status status-" + status;
      if (!ACTIVE.includes(status)) {
        const form = $("cancel-form");
        if (form) form.remove();
      }
    }
    if (phase !== undefined && phase !== null) $("search-phase").textContent = phase || "–";
  }

  function showProgress(p, active) {
    const text = $("epoch-text");
    const bar = $("epoch-bar");
    $("epoch-progress").hidden = !active;
    if (!active) {
      text.textContent = "–";
      bar.value = 0;
      return;
    }
    if (!p || p.index === undefined || p.index === null) {
      text.textContent = "waiting for the worker…";
      return;
    }
    let s = "Candidate " + p.index + " (" + (p.phase || "") + "): epoch " + (p.epoch || 0) + "/" + (p.epochs || "?");
    if (p.test_acc !== undefined && p.test_acc !== null) s += ", test " + Number(p.test_acc).toFixed(2) + "%";
    text.textContent = s;
    bar.max = p.epochs || 1;
    bar.value = p.epoch || 0;
  }

  function downloadLink(id, href, label) {
    let a = $(id);
    if (!a) {
      a = document.createElement("a");
      a.id = id;
      a.className = "button";
      a.setAttribute("download", "");
      $("downloads").appendChild(a);
    }
    a.href = href;
    a.textContent = label;
  }

  function showSearch(s) {
    showStatus(s.status, s.phase);
    const active = ACTIVE.includes(s.status);
    showProgress(s.progress, active);
    if (s.best) showBest(s.best);
    const err = $("search-error");
    err.textContent = s.error || "";
    err.hidden = !s.error;
    if (active) return;
    $("search-summary").hidden = false;
    const b = s.best;
    $("summary-arch").textContent = b ? b.arch_short : "–";
    $("summary-acc").textContent = b ? fmtPct(b.test_acc) : "–";
    $("summary-params").textContent = b ? fmtInt(b.params) : "–";
    $("summary-time").textContent = fmtSeconds(s.duration);
    const dl = s.downloads || {};
    if (dl.pt) downloadLink("download-pt", dl.pt, "Download weights (.pt)");
    if (dl.onnx) downloadLink("download-onnx", dl.onnx, "Download ONNX (.onnx)");
  }

  // ---------------------------------------------------------------- messages

  function applySnapshot(snap) {
    state.lastSeq = snap.seq;
    state.candidates.clear();
    document.querySelector("#candidates-table tbody").replaceChildren();
    (snap.candidates || []).forEach(upsertCandidate);
    $("candidate-count").textContent = String(state.candidates.size);
    showSearch(snap.search);
    redrawChart();
  }

  function applyEvent(msg) {
    switch (msg.type) {
      case "search.phase":
        showStatus(msg.status, msg.phase);
        break;
      case "candidate.started":
        showStatus("running");
        showProgress({ index: msg.candidate.index, phase: msg.candidate.phase, epoch: 0 }, true);
        break;
      case "candidate.epoch":
        showStatus("running");
        showProgress(msg, true);
        break;
      case "candidate.finished":
        upsertCandidate(msg.candidate);
        if (msg.best) showBest(msg.best);
        redrawChart();
        break;
      case "search.finished":
        showSearch(msg.search);
        break;
      default:
        return false; // unknown: resync to be safe
    }
    return true;
  }

  function onMessage(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (msg.type === "snapshot") {
      applySnapshot(msg);
      return;
    }
    if (typeof msg.seq !== "number" || msg.seq <= state.lastSeq) return; // already shown
    if (msg.seq > state.lastSeq + 1) {
      resync(); // a message was lost: the database has it
      return;
    }
    if (!applyEvent(msg)) {
      resync();
      return;
    }
    state.lastSeq = msg.seq;
    state.liveEvents += 1;
  }

  function resync() {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify({ type: "resync" }));
    }
  }

  // A lost group membership (a Redis restart) shows no gap: ask now and then whether we are
  // behind; the server answers with a snapshot if so, else with a pong.
  const PING_MS = 20000;
  setInterval(() => {
    if (!ACTIVE.includes(state.status)) return;
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify({ type: "ping", seq: state.lastSeq }));
    }
  }, PING_MS);

  // ---------------------------------------------------------------- socket with backoff

  function connect() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(proto + location.host + page.dataset.wsPath);
    state.socket = ws;
    const live = $("live-state");
    ws.onopen = () => {
      state.retries = 0;
      live.textContent = "live";
      live.className = "live on";
    };
    ws.onmessage = onMessage;
    ws.onclose = (ev) => {
      live.textContent = "offline";
      live.className = "live off";
      if (ev.code === 4401 || ev.code === 4404) return; // not allowed: reconnecting won't help
      if (!ACTIVE.includes(state.status)) return; // finished: nothing more will come
      const delay = Math.min(30000, 500 * 2 ** state.retries) * (0.75 + Math.random() / 2);
      state.retries += 1;
      setTimeout(connect, delay);
    };
  }

  // ---------------------------------------------------------------- start

  state.chart = makeChart();
  const initial = JSON.parse($("search-snapshot").textContent);
  applySnapshot(initial);
  connect();
})();
