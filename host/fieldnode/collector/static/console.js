// The fieldnode console (collector/console.py): draws the view's JSON (embedded in the page, then re-read from the
// view's /api path after each server-sent "change") as tables and SVG plots. No library, no build step.
"use strict";
(function () {
  const main = document.getElementById("view");
  const view = main.dataset.view;
  let api = main.dataset.api;
  let data = JSON.parse(document.getElementById("data").textContent);
  const state = {sort: "health", dir: 1, filter: "", range: data.range || "week"};
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const pad = (n) => String(n).padStart(2, "0");

  // ISO 8601 in the browser's time zone, with its offset
  function iso(t) {
    if (t == null) return "-";
    const d = new Date(t * 1000);
    const off = -d.getTimezoneOffset();
    const tz = off === 0 ? "Z" : (off > 0 ? "+" : "-") + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" +
      pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + tz;
  }
  function ago(t, now) {
    if (t == null) return "never";
    const s = Math.max(0, now - t);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 129600) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }
  const when = (t, now) => t == null ? "never" :
    "<span class=ago>" + ago(t, now) + "</span> <time datetime='" + iso(t) + "'>" + iso(t) + "</time>";
  const fmt = (v, unit, dp) => v == null ? "-" : (typeof v === "number" ? +v.toFixed(dp == null ? 2 : dp) : v) + (unit ? " " + unit : "");
  const badges = (h) => h.map((w) => "<span class='h h-" + esc(w) + "'>" + esc(w.replace("_", " ")) + "</span>").join(" ");
  // silent first, then alarm, low battery, queue, clock, never heard, ok
  const RANK = {silent: 0, alarm: 1, low_battery: 2, queue: 3, clock: 4, never: 5, ok: 6};
  const rank = (h) => Math.min.apply(null, h.map((w) => RANK[w] == null ? 9 : RANK[w]));

  // --- fleet ---
  const COLS = [["id", "device"], ["health", "health"], ["last_seen", "last seen"], ["rssi", "signal"],
    ["batt", "battery"], ["days_left", "days left"], ["version", "firmware"], ["board", "board"],
    ["reports", "reports"], ["alarms", "alarms"]];
  function fleet() {
    const now = data.now;
    const f = state.filter.toLowerCase();
    let rows = data.devices.filter((d) => !f || [d.id, d.board, d.version, d.health.join(" ")].join(" ")
      .toLowerCase().includes(f));
    const k = state.sort;
    const key = (d) => k === "health" ? rank(d.health) : (k === "last_seen" && d.last_seen == null ? -1 : d[k]);
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === y) return (a.id - b.id);
      if (x == null) return 1;
      if (y == null) return -1;
      return (x < y ? -1 : 1) * state.dir;
    });
    const counts = {};
    data.devices.forEach((d) => d.health.forEach((w) => counts[w] = (counts[w] || 0) + 1));
    const summary = Object.keys(counts).sort((a, b) => RANK[a] - RANK[b])
      .map((w) => "<button class='h h-" + w + "' data-filter='" + w + "'>" + w.replace("_", " ") + " " + counts[w] + "</button>").join(" ");
    const head = COLS.map(([c, t]) => "<th data-sort=" + c + (c === k ? " class=sorted" : "") + ">" + t +
      (c === k ? (state.dir > 0 ? " ▲" : " ▼") : "") + "</th>").join("");
    const body = rows.map((d) => "<tr data-id=" + d.id + " class='" + (d.health.includes("silent") ? "silent" : "") + "'>" +
      "<td><a href='/devices/" + d.id + "'>" + d.id + "</a></td><td>" + badges(d.health) + "</td><td>" + when(d.last_seen, now) +
      "</td><td>" + fmt(d.rssi, "dBm", 0) + "</td><td>" + fmt(d.batt, "V") + "</td><td>" +
      (d.days_left == null ? "-" : d.days_left + " d") + "</td><td>" + esc(d.version || "-") + "</td><td>" + esc(d.board || "-") +
      "</td><td>" + d.reports + "</td><td>" + d.alarms + "</td></tr>").join("");
    main.innerHTML = "<h1>Fleet <small>" + data.devices.length + " devices, collector time " + iso(now) + "</small></h1>" +
      "<p class=summary>" + summary + "</p><p><input id=filter type=search placeholder='filter: id, board, health, firmware' value='" +
      esc(state.filter) + "'> <span id=shown>" + rows.length + " shown</span></p>" +
      "<table id=fleet><thead><tr>" + head + "</tr></thead><tbody>" + body + "</tbody></table>";
    main.querySelectorAll("th[data-sort]").forEach((th) => th.onclick = () => {
      state.dir = state.sort === th.dataset.sort ? -state.dir : 1;
      state.sort = th.dataset.sort;
      fleet();
    });
    main.querySelectorAll("button[data-filter]").forEach((b) => b.onclick = () => {
      state.filter = state.filter === b.dataset.filter ? "" : b.dataset.filter;
      fleet();
    });
    const inp = document.getElementById("filter");
    inp.oninput = () => {
      state.filter = inp.value;
      const pos = inp.selectionStart;
      fleet();
      const again = document.getElementById("filter");
      again.focus();
      again.setSelectionRange(pos, pos);
    };
  }

  // --- plots ---
  function niceStep(span, n) {
    const raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }
  function timeTicks(t0, t1) {
    const span = t1 - t0;
    const steps = [3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400];
    const step = steps.find((s) => span / s <= 8) || 14 * 86400;
    const out = [];
    const d = new Date(t0 * 1000);
    d.setMinutes(0, 0, 0);
    if (step >= 86400) d.setHours(0);
    let t = d.getTime() / 1000;
    while (t < t0) t += step >= 86400 ? 86400 : step;
    for (; t <= t1; t += step) {
      const x = new Date(t * 1000);
      const label = step >= 86400 ? (x.getMonth() + 1) + "-" + pad(x.getDate()) :
        (x.getHours() === 0 ? (x.getMonth() + 1) + "-" + pad(x.getDate()) + " " : "") + pad(x.getHours()) + ":00";
      out.push([t, label]);
    }
    return out;
  }
  function plot(name, unit, t, vals, markers, t0, t1) {
    const W = 720, H = 150, L = 56, R = 22, T = 10, B = 24;
    const pts = [];
    let lo = Infinity, hi = -Infinity;
    vals.forEach((v) => { if (v != null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (lo === Infinity) return "";
    if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }  // a flat line, in the middle
    const step = niceStep(hi - lo, 4);
    lo = Math.floor(lo / step) * step; hi = Math.ceil(hi / step) * step;
    const x = (tt) => L + (W - L - R) * (tt - t0) / Math.max(1, t1 - t0);
    const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
    vals.forEach((v, i) => { if (v != null) pts.push(x(t[i]).toFixed(1) + "," + y(v).toFixed(1)); });
    let g = "";
    const dp = Math.max(0, -Math.floor(Math.log10(step)));
    for (let v = lo; v <= hi + step / 2; v += step) {
      g += "<line class=grid x1=" + L + " x2=" + (W - R) + " y1=" + y(v).toFixed(1) + " y2=" + y(v).toFixed(1) + " />" +
        "<text class=ytick x=" + (L - 4) + " y=" + (y(v) + 4).toFixed(1) + ">" + v.toFixed(dp) + "</text>";
    }
    timeTicks(t0, t1).forEach(([tt, label]) => {
      g += "<line class=grid x1=" + x(tt).toFixed(1) + " x2=" + x(tt).toFixed(1) + " y1=" + T + " y2=" + (H - B) + " />" +
        "<text class=xtick x=" + x(tt).toFixed(1) + " y=" + (H - 6) + ">" + label + "</text>";
    });
    let m = "";
    markers.forEach((mk) => {
      const cls = mk.flags.includes("boot") && mk.flags.length === 1 ? "reset" : "alarm";
      m += "<line class='marker " + cls + "' x1=" + x(mk.t).toFixed(1) + " x2=" + x(mk.t).toFixed(1) + " y1=" + T +
        " y2=" + (H - B) + "><title>" + esc(mk.flags.join(", ")) + " at " + iso(mk.t) + "</title></line>";
    });
    return "<figure class=plot data-field='" + esc(name) + "'><figcaption>" + esc(name) + (unit ? " (" + esc(unit) + ")" : "") +
      "</figcaption><svg viewBox='0 0 " + W + " " + H + "' role=img aria-label='" + esc(name) + "'>" + g + m +
      "<polyline class=line data-points=" + pts.length + " points='" + pts.join(" ") + "' /></svg></figure>";
  }

  // --- device ---
  function device() {
    const d = data, now = d.now;
    const markers = d.markers;
    const plots = Object.keys(d.series).map((k) => plot(k, d.series[k].unit, d.t, d.series[k].values, markers, d.since, now)).join("");
    const ranges = ["day", "week", "month"].map((r) => "<button data-range=" + r + (r === d.range ? " class=on" : "") + ">" + r + "</button>").join(" ");
    const hh = d.health_history.slice(-30).reverse().map((h) => "<tr><td>" + iso(h.t) + "</td><td>" + h.counter + "</td><td>" +
      fmt(h.rssi, "dBm", 0) + "</td><td>" + h.qdepth + "</td><td>" + h.resets + "</td><td>" + h.rcause + "</td><td>" + h.dropped + "</td></tr>").join("");
    const mk = markers.slice(-30).reverse().map((m) => "<tr><td>" + iso(m.t) + "</td><td>" + m.counter + "</td><td>" + esc(m.flags.join(", ")) + "</td></tr>").join("");
    const cmds = d.commands.map((c) => "<tr><td>" + c.cmd_id + "</td><td>" + c.op + "</td><td>" + c.key + "</td><td>" + c.value +
      "</td><td>" + iso(c.queued) + "</td><td>" + c.sent + "</td></tr>").join("") || "<tr><td colspan=6>none pending</td></tr>";
    const ups = d.updates.slice().reverse().map((u) => "<tr><td>" + iso(u.at) + "</td><td>" + esc(u.version) + "</td><td>" + esc(u.status) +
      "</td><td>" + esc(u.detail) + "</td></tr>").join("") || "<tr><td colspan=4>none</td></tr>";
    const det = d.detector;
    const facts = d.facts || {};
    main.innerHTML = "<h1>Device " + d.id + " " + badges(d.health) + "</h1>" +
      "<dl class=facts><dt>last seen</dt><dd id=lastseen>" + when(d.last_seen, now) + "</dd><dt>board</dt><dd>" + esc(facts.board || "-") +
      "</dd><dt>reporting every</dt><dd>" + (d.interval_s ? Math.round(d.interval_s / 60) + " min" : "-") +
      "</dd><dt>battery</dt><dd>" + fmt(d.last_report && d.last_report.batt, "V") + (d.days_left != null ? ", about " + d.days_left + " days left" : "") +
      "</dd><dt>detector</dt><dd id=detector>" + esc(det.state) + (det.since ? " since " + iso(det.since) : "") + ", " + det.anomalies +
      " anomaly reports in range</dd><dt>ICCID / IMSI / IMEI</dt><dd>" + esc(facts.iccid || "-") + " / " + esc(facts.imsi || "-") + " / " +
      esc(facts.imei || "-") + "</dd></dl>" +
      "<p class=ranges>" + ranges + " <span id=points>" + d.points + " points of " + d.reports_in_range + " reports</span></p>" +
      "<section id=plots>" + (plots || "<p>no reports in this range</p>") + "</section>" +
      "<h2>Alarms and resets</h2><table><tr><th>time</th><th>counter</th><th>flags</th></tr>" + (mk || "<tr><td colspan=3>none in range</td></tr>") + "</table>" +
      "<h2>Health history</h2><table id=health><tr><th>time</th><th>counter</th><th>signal</th><th>queue</th><th>resets</th><th>reset cause</th><th>dropped</th></tr>" +
      (hh || "<tr><td colspan=7>no health block in range</td></tr>") + "</table>" +
      "<h2>Pending downlink commands</h2><table><tr><th>id</th><th>op</th><th>key</th><th>value</th><th>queued</th><th>sent</th></tr>" + cmds + "</table>" +
      "<h2>App updates</h2><table><tr><th>time</th><th>version</th><th>status</th><th>detail</th></tr>" + ups + "</table>";
    main.querySelectorAll("button[data-range]").forEach((b) => b.onclick = () => {
      state.range = b.dataset.range;
      refresh();
    });
  }

  // --- events ---
  function events() {
    const now = data.now;
    const rows = data.events.map((e) => "<tr class='ev-" + e.kind + "'><td>" + when(e.at, now) + "</td><td>" +
      (e.device == null ? "-" : "<a href='/devices/" + e.device + "'>" + e.device + "</a>") + "</td><td>" + esc(e.kind) + "</td><td>" +
      esc(e.what) + "</td><td>" + (e.kind === "alarm" ? (e.cleared ? "cleared " + iso(e.cleared) : "<b>active</b>") : esc(e.detail || e.source || "")) +
      "</td></tr>").join("");
    const rej = Object.keys(data.rejects).map((k) => esc(k) + " " + data.rejects[k]).join(", ") || "none";
    main.innerHTML = "<h1>Events <small>newest first</small></h1><p>refused so far: " + rej + "</p>" +
      "<table id=events><tr><th>when</th><th>device</th><th>kind</th><th>what</th><th>detail</th></tr>" + rows + "</table>";
  }

  const draw = {fleet: fleet, device: device, events: events}[view];
  function refresh() {
    const url = api + (view === "device" ? "?range=" + state.range : "");
    fetch(url, {credentials: "same-origin"}).then((r) => r.json()).then((j) => { data = j; draw(); document.body.dataset.updated = Date.now(); });
  }
  draw();
  document.body.dataset.ready = "1";
  // live: a server-sent "change" re-reads the view (at most every half second); polling when the stream fails
  let pending = null;
  const live = document.getElementById("live");
  if (window.EventSource) {
    const es = new EventSource("/api/stream");
    let seen = null;  // the first message is the count at connect time: nothing changed yet
    es.onmessage = (m) => {
      if (seen !== null && m.data !== seen && !pending) pending = setTimeout(() => { pending = null; refresh(); }, 500);
      seen = m.data;
    };
    es.onopen = () => { live.textContent = "live"; live.className = "on"; };
    es.onerror = () => { live.textContent = "reconnecting"; live.className = ""; };
  }
  setInterval(refresh, window.EventSource ? 30000 : 10000);  // time passes without reports too: silence shows
})();
