// fleetbook console: a little vanilla JavaScript over server-rendered pages. No framework, no
// build step. Everything that came from a run (names, outputs, identities) is put in the page
// with textContent, never as HTML.
"use strict";

(function () {
  const body = document.body;
  // readyMs is how long after the navigation began the page became interactive, for the
  // time-to-interactive benchmark.
  const ready = () => {
    body.dataset.readyMs = String(Math.round(performance.now()));
    body.dataset.ready = "true";
  };
  const showError = (msg) => {
    const el = document.getElementById("error");
    if (!el) return;
    el.textContent = msg || "";
    el.hidden = !msg;
  };

  // Sign-in: the grant comes in the URL's fragment, which the browser never sends to a server;
  // it is posted from here and removed from the address bar and history at once.
  function signinFromHash() {
    const m = /(?:^#|&)grant=([^&]+)/.exec(location.hash);
    const form = document.getElementById("signin-form");
    if (!m || !form) return false;
    history.replaceState(null, "", location.pathname + location.search);
    document.getElementById("grant").value = decodeURIComponent(m[1]);
    form.submit();
    return true;
  }

  function signinPage() {
    // A sign-in URL opened in a tab already on this page changes only the fragment.
    window.addEventListener("hashchange", signinFromHash);
    if (signinFromHash()) return;
    const form = document.getElementById("signin-form");
    // A link followed from another site arrives without the SameSite=Strict cookie: ask, from
    // this page, whether the session is there after all, and go on where the link pointed.
    fetch("/session", { credentials: "same-origin" }).then((r) => {
      if (r.ok && !document.getElementById("error").textContent) {
        const next = form && form.elements.next.value;
        location.replace(next || "/runs");
        return;
      }
      ready();
    }).catch(ready);
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // Run page: the timeline updated from the run's events (server-sent), and the node tables.
  function runPage() {
    const header = document.getElementById("run-header");
    if (!header) { ready(); return; } // the run could not be read: the page shows why
    const runID = header.dataset.id;
    const timeline = document.getElementById("timeline");
    const tables = [];
    document.querySelectorAll("section.node-table").forEach((s) => tables.push(nodeTable(runID, s)));

    function stepItem(seq) {
      let li = timeline.querySelector('li.step[data-seq="' + seq + '"]');
      if (li) return li;
      li = el("li", "step");
      li.dataset.seq = seq;
      const head = el("div", "step-head");
      head.append(el("span", "step-seq", seq), el("span", "step-name"), el("span", "step-list"),
        el("span", "step-type"), el("span", "step-state"), el("span", "step-duration"), el("span", "step-tries"));
      li.append(head, el("div", "step-msg"), el("pre", "step-output"));
      // Steps arrive in execution order, but a reconnect replays them: keep them sorted.
      let after = null;
      timeline.querySelectorAll("li.step").forEach((o) => { if (Number(o.dataset.seq) < seq) after = o; });
      if (after) after.after(li); else timeline.prepend(li);
      const empty = document.getElementById("timeline-empty");
      if (empty) empty.remove();
      return li;
    }
    function setText(li, cls, text) {
      const e = li.querySelector("." + cls);
      if (e) e.textContent = text == null ? "" : String(text);
    }
    function onStep(s) {
      const li = stepItem(s.seq);
      li.dataset.state = s.state;
      setText(li, "step-name", s.name);
      setText(li, "step-list", s.list);
      setText(li, "step-type", s.type);
      setText(li, "step-state", s.state);
      if (s.duration !== undefined) setText(li, "step-duration", s.duration);
      if (s.tries > 1) setText(li, "step-tries", s.tries + " tries");
      if (s.msg !== undefined) setText(li, "step-msg", s.msg);
      if (s.output !== undefined) setText(li, "step-output", s.output);
      const existing = li.querySelector("section.node-table");
      if (s.nodes_total > 0 && !existing) {
        const sec = nodeSection(s.seq);
        setTotals(sec, s);
        li.append(sec);
        tables.push(nodeTable(runID, sec));
      } else if (existing && s.nodes_total > 0 && s.state !== "running") {
        setTotals(existing, s);
        const t = tables.find((t) => t.seq === String(s.seq));
        if (t) t.reload();
      }
    }
    function onProgress(p) {
      const li = stepItem(p.seq);
      setText(li, "step-msg", p.nodes_ok + " ok, " + p.nodes_failed + " failed of " + p.nodes_total + " nodes");
    }
    function onStatus(st) {
      const s = document.getElementById("run-status");
      s.dataset.status = st.status;
      s.className = "badge " + st.status;
      s.textContent = st.status;
      if (st.ended) setText(header, "ended", st.ended);
      if (st.started) setText(header, "started", st.started);
      const e = document.getElementById("run-error");
      if (e) { e.textContent = st.error || ""; e.hidden = !st.error; }
      if (["success", "failed", "cancelled"].includes(st.status)) {
        const c = document.getElementById("cancel-form");
        if (c) c.hidden = true;
      }
    }

    const log = document.getElementById("run-log");
    const seen = new Set();
    function onLog(l) {
      if (!log || seen.has(l.n)) return;
      seen.add(l.n);
      const li = el("li", "log-line");
      li.dataset.level = l.level || "info";
      li.append(el("span", "log-time", l.time), el("span", "log-level", l.level || "info"),
        el("span", "log-task", l.task ? "task " + l.task : ""), el("span", "log-msg", l.msg));
      log.append(li);
    }

    // A finished run's stream replays its log and ends; a running run's also follows it.
    const wasLive = body.dataset.live === "true";
    const es = new EventSource("/runs/" + encodeURIComponent(runID) + "/events");
    const on = (name, f) => es.addEventListener(name, (ev) => f(JSON.parse(ev.data)));
    es.onopen = () => { if (body.dataset.live === "reconnecting") body.dataset.live = "true"; };
    on("step", onStep);
    on("progress", onProgress);
    on("status", onStatus);
    on("log", onLog);
    on("end", () => { es.close(); body.dataset.live = "false"; });
    es.onerror = () => {
      // EventSource reconnects by itself after a lost connection; say so while it is down. An
      // error answer (the console's stream cap, a session that expired) closes it for good.
      if (wasLive && es.readyState === EventSource.CONNECTING) body.dataset.live = "reconnecting";
      if (wasLive && es.readyState === EventSource.CLOSED) {
        body.dataset.live = "false";
        showError("live updates stopped: reload the page to follow the run again");
      }
      if (!wasLive) es.close();
    };
    Promise.all(tables.map((t) => t.loaded)).finally(ready);
  }

  function setTotals(sec, s) {
    const t = sec.querySelector(".node-totals");
    if (!t) return;
    t.dataset.total = s.nodes_total;
    t.dataset.ok = s.nodes_ok || 0;
    t.dataset.failed = s.nodes_failed || 0;
    t.textContent = s.nodes_total + " nodes: " + (s.nodes_ok || 0) + " ok, " + (s.nodes_failed || 0) + " failed";
  }

  function nodeSection(seq) {
    const sec = el("section", "node-table");
    sec.dataset.seq = seq;
    const tools = el("div", "node-tools");
    for (const [f, label] of [["all", "All"], ["ok", "OK"], ["failed", "Failed"]]) {
      const b = el("button", null, label);
      b.type = "button";
      b.dataset.filter = f;
      b.setAttribute("aria-pressed", f === "all" ? "true" : "false");
      tools.append(b);
    }
    const search = el("input", "node-search");
    search.type = "search";
    search.placeholder = "identity contains";
    search.setAttribute("aria-label", "search nodes by identity");
    const totals = el("span", "node-totals");
    tools.append(search, el("span", "node-count", "0"), el("span", null, "nodes shown"), totals);
    const vp = el("div", "node-viewport");
    const table = el("table");
    table.append(el("tbody"));
    vp.append(el("div", "node-spacer"), table);
    sec.append(tools, vp);
    return sec;
  }

  // A run's per-node table: every row is fetched once as compact JSON ([identity, ok, msg]), and
  // only the rows in view are in the DOM, so 10,000 nodes scroll, filter and search at once.
  function nodeTable(runID, sec) {
    const rowHeight = 24, overscan = 8;
    const seq = sec.dataset.seq;
    const vp = sec.querySelector(".node-viewport");
    const spacer = sec.querySelector(".node-spacer");
    const table = vp.querySelector("table");
    const tbody = table.querySelector("tbody");
    const count = sec.querySelector(".node-count");
    const search = sec.querySelector(".node-search");
    let rows = [], shown = [], filter = "all", needle = "";

    function apply() {
      shown = [];
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        if (filter === "ok" && !r[1]) continue;
        if (filter === "failed" && r[1]) continue;
        if (needle && !r[0].includes(needle)) continue;
        shown.push(i);
      }
      count.textContent = String(shown.length);
      spacer.style.height = shown.length * rowHeight + "px";
      draw();
    }
    function draw() {
      const first = Math.max(0, Math.floor(vp.scrollTop / rowHeight) - overscan);
      const n = Math.ceil((vp.clientHeight || 320) / rowHeight) + 2 * overscan;
      const last = Math.min(shown.length, first + n);
      const frag = document.createDocumentFragment();
      for (let k = first; k < last; k++) {
        const r = rows[shown[k]];
        const tr = el("tr", "node");
        tr.dataset.identity = r[0];
        tr.dataset.outcome = r[1] ? "ok" : "failed";
        tr.append(el("td", "identity", r[0]), el("td", "outcome", r[1] ? "ok" : "failed"), el("td", "node-msg", r[2] || ""));
        frag.append(tr);
      }
      tbody.replaceChildren(frag);
      table.style.top = first * rowHeight + "px";
    }
    async function load() {
      const all = [];
      let complete = true, kept = 0, total = 0;
      let offset = 0;
      for (;;) {
        const r = await fetch("/runs/" + encodeURIComponent(runID) + "/nodes?seq=" + encodeURIComponent(seq) + "&offset=" + offset,
          { credentials: "same-origin" });
        const page = await r.json();
        if (!r.ok) throw new Error(page.error || r.statusText);
        for (const row of page.rows) all.push(row);
        complete = page.complete; kept = page.kept; total = page.total;
        if (!page.next_offset) break;
        offset = page.next_offset;
      }
      rows = all;
      const note = sec.querySelector(".node-kept");
      if (note && !complete) {
        note.textContent = "(this run's results are no longer kept: its report keeps " + kept + " of " + total + " nodes, every failed one, up to 1,000)";
        note.hidden = false;
      }
      apply();
    }
    sec.querySelectorAll("button[data-filter]").forEach((b) => b.addEventListener("click", () => {
      filter = b.dataset.filter;
      sec.querySelectorAll("button[data-filter]").forEach((o) => o.setAttribute("aria-pressed", o === b ? "true" : "false"));
      vp.scrollTop = 0;
      apply();
    }));
    search.addEventListener("input", () => { needle = search.value.trim(); vp.scrollTop = 0; apply(); });
    vp.addEventListener("scroll", () => requestAnimationFrame(draw), { passive: true });
    const t = { seq: seq, loaded: null, reload: () => load().catch((e) => showError("nodes of step " + seq + ": " + e.message)) };
    t.loaded = t.reload();
    return t;
  }

  function start() {
    switch (body.dataset.page) {
      case "signin": signinPage(); return;
      case "run": runPage(); return;
    }
    ready();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
