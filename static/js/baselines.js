// Search page: while baselines train, refresh their rows from the database every few seconds.
(function () {
  "use strict";
  const box = document.getElementById("baselines");
  if (!box || !box.dataset.active) return;
  const url = box.dataset.statusUrl;

  function pct(v) {
    return v === null || v === undefined ? "–" : v.toFixed(2) + "%";
  }

  function show(rows) {
    rows.forEach((b) => {
      const tr = box.querySelector(`tr[data-baseline="${b.name}"]`);
      if (!tr) return;
      let text = b.status;
      const p = b.progress || {};
      if (b.active && p.epoch) {
        text += ` epoch ${p.epoch}/${p.epochs}`;
        if (p.test_acc !== null && p.test_acc !== undefined) text += `, test ${pct(p.test_acc)}`;
      }
      if (b.error) text += ` ${b.error}`;
      tr.querySelector(".baseline-status").textContent = text;
      tr.querySelector(".baseline-acc").textContent = pct(b.test_acc);
      tr.querySelector(".baseline-params").textContent = b.params ? b.params.toLocaleString("en-US") : "–";
      tr.querySelector(".baseline-eff").textContent = b.efficiency ? b.efficiency.toFixed(1) + "×" : "–";
    });
  }

  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data) return;
        show(data.baselines);
        if (data.baselines.some((b) => b.active)) setTimeout(poll, 3000);
        else location.reload(); // the server renders the final table and buttons
      })
      .catch(() => setTimeout(poll, 10000));
  }
  setTimeout(poll, 3000);
})();
