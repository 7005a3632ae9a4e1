// The console page: one server-sent event stream feeds every panel; buttons call the JSON API.
"use strict";
const HISTORY = 600;
const q = (path) => path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
const $ = (id) => document.getElementById(id);
const esc = (text) => String(text ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const fmtTime = (ts) => (ts ? new Date(ts * 1000).toLocaleTimeString() : "");

// --- pages (one per hash) ----------------------------------------------------------------------
function showPage() {
  const name = (location.hash || "#components").slice(1);
  for (const page of document.querySelectorAll(".page")) page.classList.toggle("shown", page.id === "page-" + name);
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.hash === "#" + name);
  for (const chart of Object.values(charts)) chart.resize();
  if (name === "shadows") loadShadows();
  if (name === "cloud") loadCloud();
}
window.addEventListener("hashchange", showPage);

// --- charts ------------------------------------------------------------------------------------
const charts = {};
let thresholds = [];
let alertMarks = [];

class Series {
  // A time series chart with horizontal lines (thresholds) and vertical marks (alerts).
  constructor(parent, key, title, lines, marks) {
    this.key = key; this.xs = []; this.ys = []; this.lines = lines; this.marks = marks;
    this.box = document.createElement("div");
    this.box.className = "chart"; this.box.dataset.key = key; this.box.dataset.points = "0";
    parent.appendChild(this.box);
    const self = this;
    this.plot = new uPlot({
      title, width: 460, height: 200,
      scales: { x: { time: true } },
      series: [{}, { label: key.split("|").pop(), stroke: "#1f77b4", width: 1.5 }],
      hooks: { draw: [(u) => self.decorate(u)] },
    }, [[], []], this.box);
  }
  add(ts, value) {
    this.xs.push(ts); this.ys.push(value);
    if (this.xs.length > HISTORY) { this.xs.shift(); this.ys.shift(); }
    this.dirty = true;
  }
  flush() {
    if (!this.dirty) return;
    this.dirty = false;
    this.plot.setData([this.xs, this.ys]);
    this.box.dataset.points = String(this.xs.length);
  }
  resize() { this.plot.redraw(); }
  decorate(u) {
    const ctx = u.ctx; ctx.save();
    for (const line of this.lines()) {
      const y = u.valToPos(line.value, "y", true);
      if (!isFinite(y)) continue;
      ctx.strokeStyle = line.colour; ctx.setLineDash([6, 4]); ctx.beginPath();
      ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
      ctx.fillStyle = line.colour; ctx.fillText(line.label, u.bbox.left + 4, y - 3);
    }
    ctx.setLineDash([]);
    for (const mark of this.marks()) {
      const x = u.valToPos(mark.ts, "x", true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.strokeStyle = mark.state === "raised" ? "#c62828" : "#1a7f37"; ctx.beginPath();
      ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
    }
    ctx.restore();
  }
}

function chart(parentId, key, title, lines = () => [], marks = () => []) {
  if (!charts[key]) charts[key] = new Series($(parentId), key, title, lines, marks);
  return charts[key];
}

function sensorChart(sensor, metric) {
  const rules = () => thresholds.filter((r) => r.sensor === sensor && r.metric === metric);
  const lines = () => rules().flatMap((r) => [
    r.above != null ? { value: r.above, label: r.id + " > " + r.above, colour: r.severity === "critical" ? "#c62828" : "#e08a00" } : null,
    r.below != null ? { value: r.below, label: r.id + " < " + r.below, colour: "#e08a00" } : null,
  ].filter(Boolean));
  const marks = () => { const ids = new Set(rules().map((r) => r.id)); return alertMarks.filter((a) => ids.has(a.ruleId)); };
  return chart("sensor-charts", "sensor|" + sensor + "|" + metric, sensor + " · " + metric, lines, marks);
}

// --- events ------------------------------------------------------------------------------------
const anomalyThresholds = {};
function onEvent(event) {
  if (event.kind === "reading") sensorChart(event.sensor, event.metric).add(event.ts, event.value);
  else if (event.kind === "anomaly") {
    const key = "anomaly|" + event.sensor + "|" + event.model;
    anomalyThresholds[key] = event.threshold;
    chart("anomaly-charts", key, event.sensor + " · " + event.model,
      () => [{ value: anomalyThresholds[key], label: "threshold " + anomalyThresholds[key], colour: "#c62828" }]).add(event.ts, event.score);
  } else if (event.kind === "inspection") chart("reject-chart", "inspection|reject rate", "reject rate (last 20 parts)").add(event.ts, event.rejectRate);
  else if (event.kind === "alert") {
    alertMarks.push(event); if (alertMarks.length > 200) alertMarks.shift();
    const row = document.createElement("tr");
    row.innerHTML = `<td>${fmtTime(event.ts)}</td><td>${esc(event.ruleId)}</td><td>${esc(event.state)}</td><td>${esc(event.severity)}</td><td>${esc(event.message)}</td>`;
    const body = $("alerts-table").tBodies[0]; body.prepend(row);
    while (body.rows.length > 30) body.deleteRow(-1);
  }
}

function onState(state) {
  thresholds = state.thresholds || thresholds;
  renderComponents(state.components || []);
  renderSync(state.sync || {}, state.link || {});
  renderParts(state.inspections || []);
  const leds = Object.entries(state.actuators || {}).map(([name, a]) => `${esc(name)}: ${a.on ? "ON" : "off"}`);
  $("led-state").innerHTML = leds.join(", ") || "no actuator message yet";
  $("active-alerts").textContent = (state.activeAlerts || []).map((a) => a.ruleId + " (" + a.severity + ")").join(", ") || "none";
  for (const c of Object.values(charts)) c.flush();
}

function renderComponents(rows) {
  const body = $("components-table").tBodies[0];
  body.innerHTML = rows.map((r) => `<tr data-component="${esc(r.name)}"><td>${esc(r.name)}</td><td>${esc(r.version)}</td>
    <td class="state-${esc(r.state)}">${esc(r.state)}</td><td>${r.restarts}</td><td>${r.cpuPercent ?? ""}</td><td>${r.rssMiB ?? ""}</td><td>${esc(r.detail)}</td>
    <td><button data-action="restart" data-component="${esc(r.name)}">restart</button>
        <button data-action="stop" data-component="${esc(r.name)}">stop</button></td></tr>`).join("");
  const select = $("config-component");
  if (select.options.length !== rows.length) {
    select.innerHTML = rows.map((r) => `<option>${esc(r.name)}</option>`).join("");
    loadConfig();
  }
}

function renderSync(sync, link) {
  const state = link.connected ? "online" : "offline";
  const el = $("link-state");
  el.textContent = `${state} (cloud link: ${link.connectivity}; sync sees: ${sync.link ?? "?"})`;
  el.className = state; el.dataset.connected = String(Boolean(link.connected));
  const rows = [["last upload", sync.lastUpload ?? "none yet"],
    ["bytes today", (sync.bytesToday ?? 0) + (sync.dailyByteBudget ? " of " + sync.dailyByteBudget + " budget" : " (no budget)")],
    ["budget paused", String(sync.budgetPaused ?? false)], ["link error", sync.linkError ?? ""],
    ["device-side spool", link.spooled ?? ""]];
  $("sync-table").tBodies[0].innerHTML = rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
  const backlog = sync.backlog || {};
  $("backlog-table").tBodies[0].innerHTML = Object.entries(backlog).map(([stream, b]) =>
    `<tr data-stream="${esc(stream)}"><td>${esc(stream)}</td><td>${b.records ?? 0}</td><td>${b.bytes ?? 0}</td></tr>`).join("");
}

let shownParts = "";
function renderParts(parts) {
  const key = parts.map((p) => p.partId + p.ts).join();
  if (key === shownParts) return;
  shownParts = key;
  $("parts").innerHTML = parts.slice().reverse().map((p) => `<div class="part" data-decision="${esc(p.decision)}">
    ${p.image ? `<img alt="${esc(p.partId)}" src="${q("api/images/" + encodeURIComponent(p.image))}">` : `<div class="muted">image not kept</div>`}
    <div><span class="decision-${esc(p.decision)}">${esc(p.decision)}</span> · score ${p.probability?.toFixed(3)}</div>
    <div class="muted">${esc(p.partId)} · ${fmtTime(p.ts)}</div>
    ${(p.detections || []).map((d) => `<div class="muted">box ${esc(d.label ?? d.class ?? "")} ${(d.score ?? 0).toFixed?.(2) ?? ""} ${esc(JSON.stringify(d.box ?? ""))}</div>`).join("")}
  </div>`).join("");
}

// --- actions -----------------------------------------------------------------------------------
async function post(path, body) {
  const response = await fetch(q(path), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });
  const answer = await response.json().catch(() => ({}));
  return { ok: response.ok, answer };
}
document.addEventListener("click", async (e) => {
  const target = e.target;
  if (target.dataset?.action) {
    const { ok, answer } = await post(`api/components/${encodeURIComponent(target.dataset.component)}/${target.dataset.action}`);
    $("action-result").textContent = ok ? `${target.dataset.action} ${target.dataset.component}: ${answer.message ?? "done"}` : `refused: ${answer.error}`;
  } else if (target.dataset?.state) {
    const { ok, answer } = await post("api/link", { state: target.dataset.state });
    if (!ok) $("link-state").textContent = "refused: " + answer.error;
  } else if (target.id === "cloud-refresh") loadCloud();
});
$("config-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  let value;
  try { value = JSON.parse($("config-value").value); } catch (err) { $("config-result").textContent = "the value is not JSON: " + err.message; return; }
  const component = $("config-component").value;
  const { ok, answer } = await post("api/config/" + encodeURIComponent(component), { keyPath: $("config-key").value, value });
  $("config-result").textContent = ok ? `applied to ${component}: ${answer.keyPath.join("/")} = ${JSON.stringify(answer.value)}` : "refused: " + answer.error;
  loadConfig();
});
$("config-component").addEventListener("change", loadConfig);
async function loadConfig() {
  const component = $("config-component").value;
  if (!component) return;
  const response = await fetch(q("api/config/" + encodeURIComponent(component)));
  $("config-current").textContent = JSON.stringify(await response.json(), null, 2);
}
async function loadShadows() {
  const shadows = await (await fetch(q("api/shadows"))).json();
  $("shadows").innerHTML = shadows.map((s) => `<h3>${esc(s.thing)} / ${esc(s.name)} (version ${s.version ?? "?"})</h3>
    <table class="shadow" data-shadow="${esc(s.name)}"><tr><th>desired</th><th>reported</th><th>delta</th></tr>
    <tr>${["desired", "reported", "delta"].map((k) => `<td><pre>${esc(JSON.stringify(s[k] ?? null, null, 2))}</pre></td>`).join("")}</tr></table>`).join("") || "no shadows yet";
}
async function loadCloud() {
  const cloud = await (await fetch(q("api/cloud"))).json();
  $("objects-table").tBodies[0].innerHTML = cloud.objects.map((o) => `<tr><td>${esc(o.bucket)}</td><td>${esc(o.key)}</td><td>${o.size}</td>
    <td><a href="${q("api/cloud/object?bucket=" + encodeURIComponent(o.bucket) + "&key=" + encodeURIComponent(o.key))}">download</a></td></tr>`).join("");
  $("cloud-alerts-table").tBodies[0].innerHTML = cloud.alerts.map((a) => `<tr><td>${esc(a.table)}</td><td><code>${esc(JSON.stringify(a))}</code></td></tr>`).join("");
}

// --- the stream --------------------------------------------------------------------------------
function connect() {
  const source = new EventSource(q("api/events"));
  const handle = (message) => {
    const body = JSON.parse(message.data);
    for (const event of body.events) onEvent(event);
    onState(body);
    $("stream-state").textContent = "live · " + new Date().toLocaleTimeString();
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  };
  source.addEventListener("snapshot", handle);
  source.addEventListener("update", handle);
  source.onerror = () => { $("stream-state").textContent = "disconnected, retrying…"; };
}
showPage();
connect();
