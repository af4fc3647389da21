// The fake agent's dashboard: follows /events (server-sent events) and
// draws the requests, the counters and the charts. Plain JavaScript, no
// dependencies; the charts are SVG drawn here.
"use strict";

(function () {
  const MAX_ROWS = 500;          // rows kept in the table
  const CHART_SPAN = 5 * 60e3;   // the charts show the last five minutes
  const GAP = 3500;              // samples further apart are not joined by a line
  const DECISIONS = ["allowed", "blocked", "redirected", "failed-open"];
  const STATES = {
    none: "decided",
    pending: "waiting for update",
    updated: "updated",
    posted: "posted",
    expired: "expired",
    evicted: "evicted",
  };
  const DECISION_LABELS = {
    allowed: "allowed",
    blocked: "blocked",
    redirected: "redirected",
    "failed-open": "failed open",
    "post-only": "post only",
  };
  // What each protocol deviation means (fakeagent.Deviation).
  const DEVIATIONS = {
    request_id_not_updated: "The request got a RequestID but no UpdateRequest came within the update expiry.",
    unknown_request_id: "An UpdateRequest named a RequestID that was not pending.",
    remote_addr_with_port: "RemoteAddr carries a port; it must be the client IP alone.",
    missing_remote_addr: "RemoteAddr is empty.",
    missing_host: "HeadersIn has no Host header.",
    invalid_timestamp: "Timestamp or NowMillis is zero or negative.",
    missing_method: "Method is empty.",
    missing_uri: "URI is empty.",
    invalid_response_code: "PostRequest or UpdateRequest carried a ResponseCode below 100.",
    unknown_method: "A call named a method the agent does not serve.",
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  };
  const SVG = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  };

  // State.
  const records = new Map(); // seq -> summary record
  const rows = new Map();    // seq -> <tr>
  const signalsSeen = new Set();
  let samples = [];          // stats samples, oldest first
  let info = null;
  let selected = 0;          // seq of the request in the detail pane
  let paused = false;
  let dirty = new Set();     // seqs to (re)draw
  let frame = 0;
  let stats = null;
  let statsAt = 0;           // local time the last stats arrived
  let skipped = 0;           // record updates the agent said this page missed

  // ---- formatting
  const pad = (n, w) => String(n).padStart(w, "0");
  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "–";
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) + "." + pad(d.getMilliseconds(), 3);
  }
  function fmtUs(us) {
    if (!isFinite(us) || us <= 0) return "–";
    if (us < 1000) return (us < 10 ? us.toFixed(1) : Math.round(us)) + " µs";
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
    return (us / 1e6).toFixed(2) + " s";
  }
  function fmtDuration(s) {
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60, sec = s % 60;
    if (d) return d + "d " + h + "h " + m + "m";
    if (h) return h + "h " + m + "m " + sec + "s";
    if (m) return m + "m " + sec + "s";
    return sec + "s";
  }
  const fmtCount = (n) => (n || 0).toLocaleString("en-US");
  function decisionText(r) {
    switch (r.decision) {
      case "blocked": return "blocked " + r.waf_response;
      case "redirected": return "redirected " + r.waf_response;
      default: return DECISION_LABELS[r.decision] || r.decision;
    }
  }

  // ---- the feed
  function matches(r) {
    const d = $("filter-decision").value;
    if (d && r.decision !== d) return false;
    const s = $("filter-signal").value;
    if (s && !r.signals.includes(s) && !(r.response_signals || []).includes(s)) return false;
    const q = $("filter-text").value.trim().toLowerCase();
    if (q) {
      const hay = [r.method, r.host, r.uri, r.client_ip, r.rule, r.request_id, decisionText(r), STATES[r.state] || r.state,
        r.signals.join(" "), (r.response_signals || []).join(" "), r.deviations.join(" "), String(r.response_code || "")]
        .join(" ").toLowerCase();
      if (!hay.includes(q)) return false;
    }
    return true;
  }

  function rowFor(r) {
    let tr = rows.get(r.seq);
    const fresh = !tr;
    if (!tr) {
      tr = el("tr", { tabindex: "-1", "data-seq": r.seq });
      rows.set(r.seq, tr);
    }
    tr.dataset.decision = r.decision;
    tr.dataset.state = r.state;
    const sigs = el("td", { class: "signals" });
    for (const s of r.signals) sigs.append(el("span", { class: "sig", text: s }));
    for (const s of r.response_signals || []) sigs.append(el("span", { class: "sig resp", title: "response signal", text: s }));
    const state = el("span", { class: "state s-" + r.state, text: STATES[r.state] || r.state });
    const decision = el("td", { class: "decision" },
      el("span", { class: "badge d-" + r.decision, title: r.why || null, text: decisionText(r) }));
    decision.append(el("span", { class: "state-inline state s-" + r.state, text: STATES[r.state] || r.state }));
    if (r.deviations.length) {
      decision.append(el("span", { class: "dev", title: r.deviations.join(", "), text: "⚠ " + r.deviations.length }));
    }
    tr.replaceChildren(
      el("td", { class: "time mono", text: fmtTime(r.received) }),
      el("td", { class: "method", text: r.method || "–" }),
      el("td", { class: "uri", text: r.uri || "–" }),
      el("td", { class: "ip mono", text: r.client_ip || "–" }),
      decision,
      sigs,
      el("td", { class: "lat", text: fmtUs(r.agent_latency_ns / 1000) }),
      el("td", { class: "state-cell" }, state),
    );
    tr.setAttribute("aria-selected", r.seq === selected ? "true" : "false");
    tr.setAttribute("aria-label", [r.method, r.uri, decisionText(r), r.signals.join(" "), STATES[r.state] || r.state].join(", "));
    if (fresh) tr.classList.add("fresh");
    return { tr, fresh };
  }

  function addRecord(r) {
    records.set(r.seq, r);
    for (const s of r.signals.concat(r.response_signals || [])) {
      if (!signalsSeen.has(s)) {
        signalsSeen.add(s);
        refreshSignalOptions();
      }
    }
    if (selected === r.seq) showDetail(r.seq, false);
    dirty.add(r.seq);
    schedule();
  }

  function schedule() {
    if (!frame && !paused) frame = requestAnimationFrame(render);
  }

  function render() {
    frame = 0;
    const body = $("rows");
    const added = [];
    for (const seq of dirty) {
      const r = records.get(seq);
      if (!r) continue;
      const { tr, fresh } = rowFor(r);
      tr.hidden = !matches(r);
      if (fresh) added.push([seq, tr]);
    }
    dirty.clear();
    // New rows go on top, newest first; they normally arrive in order.
    added.sort((a, b) => b[0] - a[0]);
    for (const [seq, tr] of added) {
      const first = body.firstElementChild;
      if (!first || Number(first.dataset.seq) < seq) {
        body.prepend(tr);
      } else {
        let at = first;
        while (at && Number(at.dataset.seq) > seq) at = at.nextElementSibling;
        body.insertBefore(tr, at);
      }
    }
    while (rows.size > MAX_ROWS) {
      const last = body.lastElementChild;
      const seq = Number(last.dataset.seq);
      last.remove();
      rows.delete(seq);
      records.delete(seq);
    }
    updateShown();
  }

  function applyFilters() {
    for (const [seq, tr] of rows) tr.hidden = !matches(records.get(seq));
    updateShown();
  }

  function updateShown() {
    let shown = 0;
    for (const tr of rows.values()) if (!tr.hidden) shown++;
    $("shown").textContent = rows.size ? shown + " of " + rows.size + " shown" : "";
    $("empty").hidden = rows.size > 0;
    if (rows.size > 0 && shown === 0) {
      $("empty").hidden = false;
      $("empty").textContent = "No request matches the filters.";
    } else {
      $("empty").textContent = "No requests yet. Send one through the app.";
    }
  }

  function refreshSignalOptions() {
    const sel = $("filter-signal");
    const cur = sel.value;
    const opts = [el("option", { value: "", text: "any" })];
    for (const s of [...signalsSeen].sort()) opts.push(el("option", { value: s, text: s }));
    sel.replaceChildren(...opts);
    sel.value = cur;
  }

  // ---- the detail pane
  async function showDetail(seq, focus) {
    selected = seq;
    for (const [s, tr] of rows) tr.setAttribute("aria-selected", s === seq ? "true" : "false");
    const r = records.get(seq);
    const pane = $("detail");
    document.querySelector("main").classList.remove("no-detail");
    pane.hidden = false;
    $("detail-title").textContent = "Request " + seq;
    const body = $("detail-body");
    if (r) body.replaceChildren(summaryView(r), el("p", { class: "state", text: "Loading every field…" }));
    if (focus) pane.focus();
    let full = null;
    try {
      const resp = await fetch("/requests/" + seq, { headers: { Accept: "application/json" } });
      if (resp.ok) full = await resp.json();
    } catch (e) { /* shown below */ }
    if (selected !== seq) return;
    const parts = [];
    if (r) parts.push(summaryView(r));
    if (full) parts.push(...fullView(full));
    else parts.push(el("p", { class: "state", text: "The agent no longer keeps this request; the summary above is what the feed carried." }));
    body.replaceChildren(...parts);
  }

  function hideDetail() {
    const wasSel = rows.get(selected);
    selected = 0;
    $("detail").hidden = true;
    document.querySelector("main").classList.add("no-detail");
    for (const tr of rows.values()) tr.setAttribute("aria-selected", "false");
    if (wasSel) wasSel.focus();
  }

  function dl(pairs) {
    const d = el("dl");
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === "") continue;
      d.append(el("dt", { text: k }), el("dd", {}, v instanceof Node ? v : String(v)));
    }
    return d;
  }

  function summaryView(r) {
    const sigs = el("span");
    for (const s of r.signals) sigs.append(el("span", { class: "sig", text: s }));
    for (const s of r.response_signals || []) sigs.append(el("span", { class: "sig", text: s }));
    return el("section", {},
      dl([
        ["Received", new Date(r.received).toISOString()],
        ["Request", (r.method || "–") + " " + (r.uri || "–")],
        ["Host", r.host],
        ["Client", r.client_ip],
        ["Decision", el("span", { class: "badge d-" + r.decision, text: decisionText(r) })],
        ["Why", r.why],
        ["WAFResponse", r.waf_response],
        ["Signals", r.signals.length || (r.response_signals || []).length ? sigs : "none"],
        ["Rule", r.rule],
        ["RequestID", r.request_id],
        ["Agent latency", fmtUs(r.agent_latency_ns / 1000)],
        ["Fault", r.fault],
        ["State", STATES[r.state] || r.state],
        ["Note", r.note],
        ["Response", r.response_code ? r.response_code + " (via " + r.response_via + ")" : ""],
      ]),
      deviationsView(r.deviations),
    );
  }

  function deviationsView(devs) {
    if (!devs || !devs.length) return el("p", { class: "state", text: "No protocol deviations." });
    const ul = el("ul", { class: "devs" });
    for (const d of devs) ul.append(el("li", {}, el("code", { text: d }), " ", DEVIATIONS[d] || ""));
    return el("section", {}, el("h3", { text: "Protocol deviations" }), ul);
  }

  function headersTable(h) {
    if (!h || !h.length) return el("p", { class: "state", text: "none" });
    const t = el("table");
    for (const [k, v] of h) t.append(el("tr", {}, el("td", { class: "mono", text: k }), el("td", { class: "mono", text: v })));
    return t;
  }

  function decodeBody(b64) {
    try {
      const bin = atob(b64);
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    } catch (e) {
      return "(" + b64.length + " base64 characters)";
    }
  }

  function fullView(rec) {
    const inn = rec.in || {};
    const skip = new Set(["HeadersIn", "HeadersOut", "PostBody"]);
    const fields = Object.entries(inn).filter(([k]) => !skip.has(k));
    const out = [
      el("h3", { text: "What the module sent (" + (rec.pre ? "PreRequest" : "PostRequest") + ")" }),
      dl(fields.map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : v])),
      el("h3", { text: "Request headers" }),
      headersTable(inn.HeadersIn),
    ];
    if (inn.PostBody) {
      out.push(el("h3", { text: "Body (" + rec.body_size + " bytes" + (rec.body_size > 8192 ? ", first 8 KiB kept" : "") + ")" }),
        el("pre", { text: decodeBody(inn.PostBody) }));
    }
    out.push(el("h3", { text: "What the agent answered" }),
      dl([["WAFResponse", rec.out && rec.out.WAFResponse], ["RequestID", rec.out && rec.out.RequestID]]),
      headersTable(rec.out && rec.out.RequestHeaders));
    if (rec.response) {
      const r = rec.response;
      out.push(el("h3", { text: "The response, as reported by " + r.via }),
        dl([["Code", r.response_code], ["Duration", r.response_millis + " ms"], ["Size", r.response_size + " bytes"],
          ["After", fmtUs(r.after_ns / 1000)], ["Signals", (r.signals || []).join(", ") || "none"]]),
        headersTable(r.headers_out));
    }
    out.push(el("h3", { text: "Raw record" }), el("pre", { text: JSON.stringify(rec, null, 2) }));
    return out;
  }

  // ---- counters and charts
  function applyStats(st) {
    stats = st;
    statsAt = Date.now();
    $("count-requests").textContent = fmtCount(st.requests);
    for (const d of DECISIONS) $("count-" + d).textContent = fmtCount(st.decisions[d]);
    $("count-pending").textContent = fmtCount(st.pending);
    $("count-deviations").textContent = fmtCount(st.deviations);
    $("lat-window").textContent = st.latency.window_s;
    $("lat-p50").textContent = fmtUs(st.latency.p50_us);
    $("lat-p90").textContent = fmtUs(st.latency.p90_us);
    $("lat-p99").textContent = fmtUs(st.latency.p99_us);
    updateUptime();
    drawTopSignals(st.top_signals);
    addSample(st);
  }

  function addSample(st) {
    const at = Date.parse(st.at);
    if (samples.length && at - Date.parse(samples[samples.length - 1].at) < 900) {
      samples[samples.length - 1] = st;
    } else {
      samples.push(st);
    }
    const cut = at - CHART_SPAN - 2000;
    while (samples.length > 2 && Date.parse(samples[0].at) < cut) samples.shift();
    drawCharts();
  }

  function drawTopSignals(top) {
    const ol = $("top-signals");
    if (!top || !top.length) {
      ol.replaceChildren(el("li", { class: "empty", text: "none yet" }));
      return;
    }
    const max = top[0].count || 1;
    ol.replaceChildren(...top.slice(0, 8).map((s) => {
      const bar = el("span", { class: "bar" });
      bar.style.width = Math.max(2, (100 * s.count) / max) + "%";
      return el("li", { "aria-label": s.signal + ": " + s.count }, el("span", { class: "mono", text: s.signal }), bar,
        el("span", { text: fmtCount(s.count) }));
    }));
  }

  function rateSeries() {
    // Requests per second between consecutive samples, by decision.
    const series = Object.fromEntries(DECISIONS.map((d) => [d, []]));
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1], b = samples[i];
      const dt = (Date.parse(b.at) - Date.parse(a.at)) / 1000;
      if (dt <= 0 || dt * 1000 > GAP) continue; // nobody watched in between: no rate to show
      const t = Date.parse(b.at);
      for (const d of DECISIONS) series[d].push([t, Math.max(0, (b.decisions[d] - a.decisions[d]) / dt)]);
    }
    return series;
  }

  function drawCharts() {
    const now = samples.length ? Date.parse(samples[samples.length - 1].at) : Date.now();
    const rates = rateSeries();
    const last = (s) => (s.length ? s[s.length - 1][1] : 0);
    drawLines($("chart-rate"), DECISIONS.map((d) => ({ cls: "s-" + d, points: rates[d] })), now, (v) => fmtRate(v));
    $("chart-rate").setAttribute("aria-label", "Requests per second over the last five minutes; now " +
      DECISIONS.map((d) => DECISION_LABELS[d] + " " + fmtRate(last(rates[d]))).join(", "));
    const lat = { p50: [], p90: [], p99: [] };
    for (const s of samples) {
      if (!s.latency.count) continue;
      const t = Date.parse(s.at);
      lat.p50.push([t, s.latency.p50_us]);
      lat.p90.push([t, s.latency.p90_us]);
      lat.p99.push([t, s.latency.p99_us]);
    }
    drawLines($("chart-latency"), ["p50", "p90", "p99"].map((p) => ({ cls: "s-" + p, points: lat[p] })), now, fmtUs);
    $("chart-latency").setAttribute("aria-label", "Agent latency percentiles over the last five minutes; now p50 " +
      fmtUs(last(lat.p50)) + ", p90 " + fmtUs(last(lat.p90)) + ", p99 " + fmtUs(last(lat.p99)));
  }

  function fmtRate(v) {
    if (v >= 100) return Math.round(v) + "/s";
    if (v >= 10) return v.toFixed(1) + "/s";
    return v.toFixed(2).replace(/\.?0+$/, "") + "/s";
  }

  // drawLines draws each series as a polyline over the chart span ending
  // at now, with a y axis from 0 to a round maximum.
  function drawLines(svg, series, now, fmt) {
    const W = 480, H = 160, L = 52, B = 16, T = 6;
    let max = 0;
    for (const s of series) for (const [, v] of s.points) max = Math.max(max, v);
    max = niceCeil(max);
    const x = (t) => L + ((t - (now - CHART_SPAN)) / CHART_SPAN) * (W - L);
    const y = (v) => T + (1 - v / max) * (H - T - B);
    const parts = [];
    for (const f of [0, 0.5, 1]) {
      const v = max * f;
      parts.push(svgEl("line", { class: "grid", x1: L, x2: W, y1: y(v), y2: y(v) }));
      const label = svgEl("text", { class: "axis", x: L - 4, y: y(v) + 3, "text-anchor": "end" });
      label.textContent = f === 0 ? "0" : fmt(v);
      parts.push(label);
    }
    for (const [t, txt, anchor] of [[now - CHART_SPAN, "−5 min", "start"], [now - CHART_SPAN / 2, "−2.5 min", "middle"], [now, "now", "end"]]) {
      const label = svgEl("text", { class: "axis", x: x(t), y: H - 2, "text-anchor": anchor });
      label.textContent = txt;
      parts.push(label);
    }
    for (const s of series) {
      const pts = s.points.filter(([t]) => t >= now - CHART_SPAN - 1000);
      // One line per run of samples; a gap (no dashboard was open) breaks it.
      let run = [];
      const flush = () => {
        if (!run.length) return;
        if (run.length === 1) run.unshift([run[0][0] - 1000, run[0][1]]);
        parts.push(svgEl("polyline", {
          class: s.cls,
          points: run.map(([t, v]) => x(Math.max(t, now - CHART_SPAN)).toFixed(1) + "," + y(v).toFixed(1)).join(" "),
        }));
        run = [];
      };
      for (const p of pts) {
        if (run.length && p[0] - run[run.length - 1][0] > GAP) flush();
        run.push(p);
      }
      flush();
    }
    svg.replaceChildren(...parts);
  }

  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function updateUptime() {
    if (!stats) return;
    $("info-uptime").textContent = fmtDuration(stats.uptime_s + (Date.now() - statsAt) / 1000);
  }

  // ---- the agent
  function applyInfo(i) {
    if (info && info.instance !== i.instance) {
      // The agent restarted: what is on the page belongs to the old one.
      records.clear();
      rows.clear();
      $("rows").replaceChildren();
      samples = [];
      hideDetail();
    }
    info = i;
    $("info-mode").textContent = i.mode;
    $("info-engine").textContent = i.engine;
    const n = i.rules + (i.rules === 1 ? " rule" : " rules");
    $("info-rules").textContent = i.rules_file ? i.rules_file + " (" + n + ")" : i.rules ? n + " (set in code)" : "none";
    $("info-version").textContent = i.version;
    const banner = $("banner");
    const msgs = [];
    if (i.mode === "not-blocking") msgs.push("Not blocking: the agent tags attacks but lets every request through (mode not-blocking).");
    if (i.mode === "off") msgs.push("Off: the agent inspects nothing and allows every request (mode off).");
    if (i.faults) msgs.push("Fault injection is on: some calls are slowed down or fail on purpose.");
    if (!i.loaded) msgs.push("Starting: the rules are not loaded yet.");
    banner.textContent = msgs.join(" ");
    banner.hidden = msgs.length === 0;
    banner.dataset.mode = i.mode;
  }

  // ---- the stream
  function connect() {
    const es = new EventSource("/events");
    const conn = $("conn");
    es.onopen = () => { conn.dataset.state = "live"; conn.textContent = "live"; };
    es.onerror = () => {
      conn.dataset.state = "reconnecting";
      conn.textContent = es.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…";
    };
    es.addEventListener("hello", (e) => {
      const h = JSON.parse(e.data);
      applyInfo(h.info);
      if (!h.resumed) {
        // A fresh stream: the agent's history replaces what the page drew.
        samples = [];
        for (const s of h.history || []) addSample(s);
      }
    });
    es.addEventListener("stats", (e) => applyStats(JSON.parse(e.data)));
    es.addEventListener("record", (e) => addRecord(JSON.parse(e.data)));
    es.addEventListener("dropped", (e) => {
      const d = JSON.parse(e.data);
      skipped += d.missed;
      const n = $("notice");
      n.hidden = false;
      n.textContent = "Under load the table shows the newest requests only: " + fmtCount(skipped) +
        " updates skipped since the page opened. The counters and charts are the agent's own, and exact.";
    });
  }

  // ---- keyboard
  function visibleRows() {
    return [...$("rows").children].filter((tr) => !tr.hidden);
  }

  function onRowsKey(e) {
    const tr = e.target.closest("tr[data-seq]");
    if (!tr) return;
    const vis = visibleRows();
    const i = vis.indexOf(tr);
    let to = null;
    switch (e.key) {
      case "ArrowDown": to = vis[i + 1]; break;
      case "ArrowUp": to = vis[i - 1]; break;
      case "Home": to = vis[0]; break;
      case "End": to = vis[vis.length - 1]; break;
      case "Enter": case " ":
        e.preventDefault();
        showDetail(Number(tr.dataset.seq), false);
        return;
      default: return;
    }
    e.preventDefault();
    if (to) focusRow(to);
  }

  function focusRow(tr) {
    for (const r of rows.values()) r.tabIndex = -1;
    tr.tabIndex = 0;
    tr.focus();
  }

  function init() {
    document.querySelector("main").classList.add("no-detail");
    for (const id of ["filter-decision", "filter-signal", "filter-text"]) $(id).addEventListener("input", applyFilters);
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("pause").addEventListener("change", (e) => {
      paused = e.target.checked;
      if (!paused) schedule();
    });
    const body = $("rows");
    body.addEventListener("click", (e) => {
      const tr = e.target.closest("tr[data-seq]");
      if (tr) {
        focusRow(tr);
        showDetail(Number(tr.dataset.seq), false);
      }
    });
    body.addEventListener("keydown", onRowsKey);
    $("detail-close").addEventListener("click", hideDetail);
    document.addEventListener("keydown", (e) => {
      const typing = e.target.matches("input, select, textarea");
      if (e.key === "Escape") {
        if (!$("detail").hidden) hideDetail();
        else if (typing) e.target.blur();
      } else if (e.key === "/" && !typing) {
        e.preventDefault();
        $("filter-text").focus();
      }
    });
    // Keep one row in the tab order: the newest visible, unless one was focused.
    new MutationObserver(() => {
      if (![...rows.values()].some((tr) => tr.tabIndex === 0)) {
        const first = visibleRows()[0];
        if (first) first.tabIndex = 0;
      }
    }).observe(body, { childList: true });
    setInterval(updateUptime, 1000);
    drawCharts();
    updateShown();
    connect();
  }

  init();
})();
