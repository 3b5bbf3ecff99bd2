"""The dashboard at ``/``: one page, no build step, nothing fetched from the internet.

The server renders the page with the node's latest status in it (so the first paint already shows the
positions), and a small inline script keeps it current from ``/live/events`` (server-sent events): positions
by package with their legs and marks, the day's P&L and equity curve, the risk state, rate limits, the
kernel's recent decisions with their reasons, alerts from the journal, and the controls: the red Emergency
Stop, flatten, and per-strategy toggles (enabling, like reset, asks for the node's token). Text from the
journal is only ever set as text, never as markup. The layout is one column under 720 px wide.
"""

from __future__ import annotations

import json
from typing import Any

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>odte node</title>
<link rel="icon" href="data:,">
<style>
:root{--bg:#0f1115;--card:#181b22;--fg:#e6e6e6;--mute:#8a90a0;--red:#d91c1c;--green:#2fa35a;--amber:#d49a12}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center;padding:.8rem;position:sticky;top:0;
background:var(--bg);border-bottom:1px solid #262a33;z-index:2}
h1{font-size:1.1rem;margin:0 auto 0 0}h2{font-size:.95rem;margin:0 0 .5rem;color:var(--mute)}
.pill{padding:.2rem .6rem;border-radius:1rem;font-weight:700;background:#333}
.ON{background:var(--green)}.STOPPED,.RISK-OFF{background:var(--red)}.LOCKED,.BREAKER,.DISABLED{background:var(--amber)}
#estop{background:var(--red);color:#fff;border:0;border-radius:.5rem;font-size:1.2rem;font-weight:800;
padding:.9rem 1.4rem;box-shadow:0 0 0 3px #ff6b6b55;cursor:pointer;letter-spacing:.03em}
button{background:#2a2f3a;color:var(--fg);border:1px solid #3a4150;border-radius:.4rem;padding:.35rem .7rem;
cursor:pointer}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:.8rem;padding:.8rem}
section{background:var(--card);border-radius:.5rem;padding:.8rem;overflow-x:auto}
table{border-collapse:collapse;width:100%}td,th{padding:.2rem .4rem;text-align:left;border-bottom:1px solid #262a33;
vertical-align:top}th{color:var(--mute);font-weight:500}.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:#4cd07d}.neg{color:#ff6b6b}.mute{color:var(--mute)}.wide{grid-column:1/-1}
#conn{font-size:.8rem}svg{width:100%;height:140px;background:#12151b;border-radius:.3rem}
#msg{padding:0 .8rem;color:var(--amber);min-height:1.2em}
@media (max-width:720px){main{grid-template-columns:1fr}#estop{width:100%;order:-1}}
</style></head><body>
<header>
<button id="estop" data-testid="emergency-stop" title="Stop all new entries now">EMERGENCY STOP</button>
<h1>odte node <span id="risk" class="pill" data-testid="risk-state">&hellip;</span></h1>
<span id="clock" class="mute"></span><span id="conn" class="mute" data-testid="connection">connecting</span>
<button id="flatten" data-testid="flatten">Flatten all</button>
<button id="reset" data-testid="reset">Reset&hellip;</button>
</header>
<div id="msg" role="status" data-testid="message"></div>
<main>
<section><h2>Day P&amp;L</h2><div id="pnl" data-testid="pnl"></div><svg id="equity" viewBox="0 0 300 100"
 preserveAspectRatio="none" data-testid="equity"></svg></section>
<section><h2>Risk</h2><table id="riskt" data-testid="risk"></table></section>
<section><h2>Strategies</h2><table id="strategies" data-testid="strategies"></table></section>
<section class="wide"><h2>Positions by package</h2><div id="packages" data-testid="packages"></div></section>
<section><h2>Rate limits</h2><table id="rates" data-testid="rate-limits"></table></section>
<section><h2>Guards and reconciliation</h2><table id="guards" data-testid="guards"></table></section>
<section class="wide"><h2>Recent kernel decisions</h2><table id="decisions" data-testid="decisions"></table></section>
<section class="wide"><h2>Alerts and control events</h2><table id="alerts" data-testid="alerts"></table></section>
</main>
<script type="application/json" id="initial">__INITIAL__</script>
<script>
"use strict";
const REMOTE = __REMOTE__;
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") n.className = v; else n.setAttribute(k, v); }
  for (const k of kids) n.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return n;
}
const money = (v) => v == null ? "-" : (v < 0 ? "-" : "") + "$" + Math.abs(v).toLocaleString(undefined,
  {minimumFractionDigits: 2, maximumFractionDigits: 2});
const signed = (v) => el("span", {class: v > 0 ? "pos" : v < 0 ? "neg" : ""}, money(v));
function rows(table, head, data) {
  table.replaceChildren(el("tr", {}, ...head.map((h) => el("th", {}, h))), ...data.map((r) => el("tr", {},
    ...r.map((c) => c instanceof Node ? el("td", {}, c) : el("td", {}, c)))));
}
const fromUrl = new URLSearchParams(location.search).get("token");  // a node bound beyond loopback: /?token=...
if (fromUrl) { sessionStorage.setItem("odte-token", fromUrl); history.replaceState(null, "", location.pathname); }
function token() {
  let t = sessionStorage.getItem("odte-token");
  if (!t) {
    t = prompt("The node's control token (a risk-increasing action):");
    if (t) sessionStorage.setItem("odte-token", t);
  }
  return t;
}
async function post(path, body, needsToken) {
  const headers = {"Content-Type": "application/json"};
  if (needsToken || REMOTE) { const t = token(); if (!t) return; headers["X-Odte-Token"] = t; }
  const r = await fetch(path, {method: "POST", headers, body: JSON.stringify(body || {})});
  const j = await r.json().catch(() => ({}));
  if (r.status === 401 || r.status === 403) sessionStorage.removeItem("odte-token");
  $("msg").textContent = r.ok ? path + ": done" : path + ": " + r.status + " " + (j.error || "");
  return j;
}
$("estop").onclick = () => post("/live/emergency-stop", {by: "dashboard", reason: "Emergency Stop button"});
$("flatten").onclick = () => { if (confirm("Stop new entries, cancel working entries and close every package?"))
  post("/live/flatten", {by: "dashboard", reason: "Flatten button"}); };
$("reset").onclick = () => { if (confirm("Reset the kill switch and the RISK-OFF breaker? Trading resumes."))
  post("/live/reset", {by: "dashboard", reason: "Reset button"}, true); };
function render(s) {
  if (!s || !s.risk) { $("conn").textContent = s && s.node ? s.node : "no data"; return; }
  const r = s.risk;
  $("risk").textContent = r.state; $("risk").className = "pill " + r.state;
  $("clock").textContent = (s.time || "").slice(0, 19).replace("T", " ") + " UTC";
  $("conn").textContent = s.node === "running" ? "live" : (s.node || "") + " " + (s.error || "");
  $("pnl").replaceChildren(el("div", {}, "day ", signed(s.pnl.day)),
    el("div", {class: "mute"}, "realized ", money(s.pnl.realized), " / unrealized ", money(s.pnl.unrealized)));
  drawEquity(s.equity || []);
  rows($("riskt"), ["", ""], [
    ["kill switch", r.kill_switch ? "ON: " + (r.kill_switch_reason || "") : "off"],
    ["global breaker", r.global_breaker ? "RISK-OFF: " + (r.global_breaker_reason || "") : "off"],
    ["day lock", r.day_locked ? r.lock_reason : "open"],
    ["ladder", r.ladder.stage + " (soft -" + money(r.ladder.soft_stop_loss)
      + ", hard -" + money(r.ladder.hard_stop_loss) + ")"],
    ["loss streak", r.streak.losses + " (" + r.streak.stage + "; half at " + r.streak.half_size_after
      + ", stop at " + r.streak.stop_after + ")"],
    ["trades today", r.trades_today + " / " + r.max_trades_per_day]]);
  rows($("strategies"), ["strategy", "state", "P&L", "trades", ""], Object.entries(s.strategies).map(([id, st]) => {
    const b = st.enabled
      ? el("button", {"data-testid": "disable-" + id}, "Disable")
      : el("button", {"data-testid": "enable-" + id}, "Enable");
    b.onclick = () => post("/live/strategies/" + encodeURIComponent(id) + (st.enabled ? "/disable" : "/enable"),
      {by: "dashboard"}, !st.enabled);
    return [id, el("span", {class: "pill " + st.state}, st.state), signed(st.day_pnl), String(st.trades_today), b];
  }));
  const pk = s.packages || [];
  $("packages").replaceChildren(pk.length ? el("table", {}, el("tr", {}, ...["package", "state", "qty", "entry", "mark",
    "P&L", "legs"].map((h) => el("th", {}, h))), ...pk.map((p) => el("tr", {"data-testid": "package"},
    el("td", {}, p.strategy, el("br"), el("span", {class: "mute"}, p.package)), el("td", {}, p.state),
    el("td", {class: "num"}, p.quantity), el("td", {class: "num"}, p.entry_price ?? "-"),
    el("td", {class: "num"}, p.mark ?? "-"), el("td", {class: "num"}, signed(p.unrealized_pnl)),
    el("td", {}, ...p.legs.map((l) => el("div", {}, (l.ratio > 0 ? "+" : "") + l.ratio + " " + l.strike + l.right[0] +
      " " + (l.bid ?? "-") + "/" + (l.ask ?? "-"))))))) : el("p", {class: "mute"}, "flat: no package held"));
  const rl = s.rate_limits;
  rows($("rates"), ["limit", "now", "cap"], [
    ["packages in the last hour", rl.packages_last_hour, rl.packages_per_hour_total ?? "-"],
    ...Object.entries(s.strategies).map(([id, st]) =>
      [id + " in the last minute", st.packages_last_minute, st.packages_per_minute ?? "-"])]);
  const g = s.guards, rc = s.reconciliation || {};
  rows($("guards"), ["", ""], [["paper account", g.paper_account ? "yes" : "NO"],
    ["broker paper mode", g.broker_paper_mode ? "yes" : "NO"],
    ["reconciliation passes", rc.passes ?? "-"], ["last", rc.last_due ?? "-"], ["next", rc.next_due ?? "-"],
    ["mismatches", (rc.mismatches || []).map((m) => m.instrument + " broker " + m.broker + " node " + m.node)
      .join("; ") || "none"]]);
  rows($("decisions"), ["time", "strategy", "intent", "answer", "reason"], (s.decisions || []).map((d) => [
    (d.time || "").slice(11, 19), d.strategy, d.kind + " " + (d.package || "") + " (" + d.source + ")",
    el("span", {class: d.allowed ? "pos" : "neg"}, d.allowed ? "allowed" : d.code), d.reason]));
  rows($("alerts"), ["time", "kind", "what"], (s.alerts || []).map((a) => [(a.time || "").slice(11, 19), a.kind,
    Object.entries(a).filter(([k]) => k !== "time" && k !== "kind")
      .map(([k, v]) => k + ": " + (typeof v === "object" ? JSON.stringify(v) : v)).join(", ")]));
}
function drawEquity(points) {
  const svg = $("equity"); svg.replaceChildren();
  if (points.length < 1) return;
  const ys = points.map((p) => p.pnl), lo = Math.min(0, ...ys), hi = Math.max(0, ...ys), span = (hi - lo) || 1;
  const x = (i) => points.length === 1 ? 150 : i * 300 / (points.length - 1), y = (v) => 95 - (v - lo) * 90 / span;
  const ns = "http://www.w3.org/2000/svg";
  const zero = document.createElementNS(ns, "line");
  const axis = [["x1", 0], ["x2", 300], ["y1", y(0)], ["y2", y(0)], ["stroke", "#444"], ["stroke-dasharray", "3 3"]];
  for (const [k, v] of axis) zero.setAttribute(k, v);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.map((p, i) => x(i) + "," + y(p.pnl)).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", ys[ys.length - 1] < 0 ? "#ff6b6b" : "#4cd07d");
  line.setAttribute("stroke-width", "2"); line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(zero, line);
}
render(JSON.parse($("initial").textContent));
function connect() {
  const t = sessionStorage.getItem("odte-token");
  const es = new EventSource("/live/events" + (REMOTE && t ? "?token=" + encodeURIComponent(t) : ""));
  es.addEventListener("status", (e) => render(JSON.parse(e.data)));
  es.onerror = () => { $("conn").textContent = "reconnecting"; };
}
connect();
</script></body></html>
"""


def render_dashboard(status: dict[str, Any] | None = None, remote: bool = False) -> str:
    """The page, with ``status`` (the monitor's latest) for the first paint."""
    initial = json.dumps(status or {}, default=str).replace("</", "<\\/")
    return PAGE.replace("__INITIAL__", initial).replace("__REMOTE__", "true" if remote else "false")
