"""The dashboard's pages: one self-contained HTML document (inline CSS and
JavaScript, nothing fetched from elsewhere) that draws the page it is asked
for from the JSON API, refreshing once a second.

=========  =================================================================
status     totals; the graph summarized by task group (progress of each group,
           its dependencies); the task stream (sampled); cluster memory
           (managed / unmanaged / spilled) and tasks finished per second
workers    one sorted page of workers (CPU, memory, tasks running and queued,
           network) and histograms over all of them
worker     one worker: figures, keys it runs and holds, its recent tasks
errors     the last errors with their tracebacks
=========  =================================================================

The page asks for what changed since its last refresh (task stream entries
after a sequence number, samples after a time), so keeping it open costs the
scheduler a few small JSON answers a second.

>>> html = render("status", "tcp://127.0.0.1:8786")
>>> html.startswith("<!doctype html>") and 'data-page="status"' in html
True
"""

from __future__ import annotations

import html

__all__ = ["PAGES", "render", "SCRIPT", "STYLE"]

PAGES = ("status", "workers", "worker", "errors")

STYLE = """
body{font:13px/1.35 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:6px 14px;display:flex;gap:18px;align-items:center}
header a{color:#cfe3ff;text-decoration:none;font-weight:600}header a.on{color:#fff;
text-decoration:underline}header .addr{margin-left:auto;opacity:.8}
main{padding:8px 14px}section{background:#fff;border:1px solid #ddd;border-radius:4px;
margin:0 0 10px;padding:6px 10px}h2{font-size:14px;margin:2px 0 6px}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}th{cursor:default;background:#f0f0f0}
th.sort{cursor:pointer}.bar{display:flex;width:260px;height:12px;background:#eee}
.bar span{display:block;height:100%}.grid{display:grid;grid-template-columns:1fr 1fr;gap:10px}
pre{background:#f6f6f6;padding:6px;overflow:auto;max-height:240px}.muted{color:#777}
.s-memory{background:#3a9d5d}.s-processing{background:#e0a030}.s-queued{background:#9bb7d4}
.s-waiting{background:#c8c8c8}.s-erred{background:#d24b4b}.s-released{background:#eee}
.s-forgotten{background:#7cc494}.s-managed{background:#3a78c2}.s-unmanaged{background:#9db9dc}
.s-spilled{background:#8e6bbf}.legend span{display:inline-block;width:10px;height:10px;
margin:0 3px 0 10px}svg text{font-size:10px;fill:#333}
"""

SCRIPT = r"""
"use strict";
const PAGE = document.body.dataset.page;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) =>
  ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c]);
const num = (n) => Number(n).toLocaleString("en-US");
function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : Math.round(n)) + " " + u[i];
}
async function get(path) {
  const r = await fetch(path, {cache: "no-store"});
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
function hue(s) { let h = 0; for (const c of s) h = (h * 31 + c.charCodeAt(0)) % 360; return h; }
function bar(parts, total) {
  if (!total) return '<div class="bar"></div>';
  return '<div class="bar">' + parts.filter(([, n]) => n > 0).map(([cls, n]) =>
    `<span class="s-${cls}" style="width:${(100 * n / total).toFixed(2)}%" title="${cls} ${num(n)}"></span>`
  ).join("") + "</div>";
}
function polyline(values, t0, t1, top, w, h, color) {
  if (!values.length) return "";
  const pts = values.map(([t, v]) =>
    `${((t - t0) / Math.max(1e-9, t1 - t0) * w).toFixed(1)},${(h - v / top * h).toFixed(1)}`);
  return `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.join(" ")}"/>`;
}

// ------------------------------------------------------------ status
let streamSeq = 0, stream = [], history = [], lastSample = 0;
async function refreshStatus() {
  const [sum, groups, st, hi] = await Promise.all([
    get("/api/v1/summary"), get("/api/v1/groups?limit=60"),
    get("/api/v1/task-stream?since=" + streamSeq), get("/api/v1/history?since=" + lastSample)]);
  const t = sum.tasks, w = sum.workers, m = sum.memory;
  $("totals").innerHTML =
    `<b>${num(t.total)}</b> tasks: ` + Object.entries(t.by_state).filter(([, n]) => n)
      .map(([s, n]) => `<span data-state="${s}">${s} ${num(n)}</span>`).join(", ") +
    ` &middot; <b>${num(t.finished)}</b> finished, ${num(t.erred)} erred, ` +
    `${t.rate.toFixed(0)} tasks/s &middot; <b id="nworkers">${w.count}</b> workers, ` +
    `${w.threads} threads, mean CPU ${w.cpu_mean.toFixed(0)}% &middot; memory ` +
    `${bytes(m.managed)} managed, ${bytes(m.unmanaged)} unmanaged, ${bytes(m.spilled)} spilled` +
    (m.limit ? ` of ${bytes(m.limit)}` : "") +
    ` &middot; ${sum.groups} groups &middot; dashboard CPU ${sum.dashboard_cpu.toFixed(2)} s`;
  drawGroups(groups);
  if (st.last < streamSeq) stream = [];  // a new scheduler
  streamSeq = st.last;
  stream = stream.concat(st.tasks).slice(-5000);
  drawStream(st.every, sum.time);
  history = history.concat(hi.samples).slice(-900);
  if (history.length) lastSample = history[history.length - 1].time;
  drawHistory();
}
function drawGroups(data) {
  const gs = data.groups;
  const rows = gs.map((g) => {
    const c = g.counts, total = g.total;
    const done = c.memory + c.forgotten + c.erred;
    return `<tr class="group" data-group="${esc(g.name)}" data-memory="${c.memory}" ` +
      `data-done="${g.done}" data-total="${total}">` +
      `<td style="border-left:6px solid hsl(${hue(g.name)},55%,55%)">${esc(g.name)}</td>` +
      `<td>${bar([["memory", c.memory], ["forgotten", c.forgotten], ["erred", c.erred],
                  ["processing", c.processing], ["queued", c.queued], ["waiting", c.waiting],
                  ["released", c.released]], total)}</td>` +
      `<td>${num(done)} / ${num(total)}</td><td>${num(c.processing)}</td><td>${num(c.queued)}</td>` +
      `<td>${num(c.waiting)}</td><td>${num(c.memory)}</td><td>${num(c.erred)}</td>` +
      `<td>${g.done ? (1000 * g.duration / g.done).toFixed(1) + " ms" : ""}</td>` +
      `<td>${bytes(g.nbytes_total)}</td><td class="muted">${g.dependencies.map(esc).join(", ")}</td></tr>`;
  }).join("");
  const more = data.others.groups ? `<tr><td colspan=11 class="muted">and ${data.others.groups} more groups</td></tr>` : "";
  $("groups").innerHTML = "<table><tr><th>group</th><th>progress</th><th>done</th><th>processing</th>" +
    "<th>queued</th><th>waiting</th><th>in memory</th><th>erred</th><th>mean time</th>" +
    "<th>output</th><th>depends on</th></tr>" + rows + more + "</table>";
  // the graph summarized by group: columns by depth, arrows for dependencies
  const depth = {}, byName = Object.fromEntries(gs.map((g) => [g.name, g]));
  const d = (name, seen) => {
    if (depth[name] !== undefined) return depth[name];
    if (seen.has(name)) return 0;
    seen.add(name);
    const deps = (byName[name] ? byName[name].dependencies : []).filter((x) => byName[x]);
    return (depth[name] = deps.length ? 1 + Math.max(...deps.map((x) => d(x, seen))) : 0);
  };
  gs.forEach((g) => d(g.name, new Set()));
  const cols = {}, pos = {};
  gs.forEach((g) => { const k = depth[g.name]; (cols[k] = cols[k] || []).push(g); });
  const ncol = Object.keys(cols).length, nrow = Math.max(1, ...Object.values(cols).map((c) => c.length));
  const W = Math.max(300, ncol * 150), H = nrow * 34 + 10;
  Object.entries(cols).forEach(([k, c]) => c.forEach((g, i) => { pos[g.name] = [10 + k * 150, 8 + i * 34]; }));
  let svg = "";
  gs.forEach((g) => g.dependencies.forEach((x) => {
    if (!pos[x]) return;
    const [x1, y1] = pos[x], [x2, y2] = pos[g.name];
    svg += `<line x1="${x1 + 120}" y1="${y1 + 12}" x2="${x2}" y2="${y2 + 12}" stroke="#999"/>`;
  }));
  gs.forEach((g) => {
    const [x, y] = pos[g.name], c = g.counts;
    const f = g.total ? (c.memory + c.forgotten + c.erred) / g.total : 0;
    const fill = c.erred ? "#e08080" : "#7cc494";
    svg += `<rect x="${x}" y="${y}" width="120" height="24" rx="3" fill="#eee" stroke="#888"/>` +
      `<rect x="${x}" y="${y}" width="${(120 * f).toFixed(1)}" height="24" rx="3" fill="${fill}"/>` +
      `<text x="${x + 4}" y="${y + 15}">${esc(g.name.slice(0, 18))} ${(100 * f).toFixed(0)}%</text>`;
  });
  $("graph").innerHTML = `<svg width="${W}" height="${H}">${svg}</svg>`;
}
function drawStream(every, now) {  // now: the scheduler's clock, not this browser's
  const span = 30, W = 900, rowH = 8;
  const workers = [...new Set(stream.filter((e) => e.stop > now - span).map((e) => e.worker))].sort();
  const row = Object.fromEntries(workers.map((x, i) => [x, i]));
  let svg = "";
  for (const e of stream) {
    if (e.stop < now - span || row[e.worker] === undefined) continue;
    const x = (e.start - (now - span)) / span * W, w = Math.max(1, (e.stop - e.start) / span * W);
    const color = e.status === "erred" ? "#d24b4b" : `hsl(${hue(e.prefix)},55%,55%)`;
    svg += `<rect x="${Math.max(0, x).toFixed(1)}" y="${row[e.worker] * rowH}" width="${w.toFixed(1)}" ` +
      `height="${rowH - 1}" fill="${color}"><title>${esc(e.prefix)} on ${esc(e.worker)}</title></rect>`;
  }
  $("stream").innerHTML = `<div class="muted">last ${span} s, ${workers.length} workers` +
    (every > 1 ? `, one task in ${every} shown` : "") + `</div>` +
    `<svg width="${W}" height="${Math.max(20, workers.length * rowH)}">${svg}</svg>`;
}
function drawHistory() {
  const W = 420, H = 120;
  if (!history.length) { $("memory").textContent = "(no samples yet)"; return; }
  const t0 = history[0].time, t1 = history[history.length - 1].time;
  const mem = history.map((s) => [s.time, s.managed + s.unmanaged + s.spilled]);
  const top = Math.max(1, ...mem.map(([, v]) => v));
  $("memory").innerHTML = `<div class="legend"><span class="s-managed"></span>managed` +
    `<span class="s-unmanaged"></span>unmanaged<span class="s-spilled"></span>spilled ` +
    `(max ${bytes(top)})</div><svg width="${W}" height="${H}">` +
    polyline(history.map((s) => [s.time, s.managed]), t0, t1, top, W, H, "#3a78c2") +
    polyline(history.map((s) => [s.time, s.unmanaged]), t0, t1, top, W, H, "#9db9dc") +
    polyline(history.map((s) => [s.time, s.spilled]), t0, t1, top, W, H, "#8e6bbf") + "</svg>";
  const rate = history.map((s) => [s.time, s.rate]);
  const rtop = Math.max(1, ...rate.map(([, v]) => v));
  const net = history.map((s) => [s.time, s.net_read + s.net_write]);
  const ntop = Math.max(1, ...net.map(([, v]) => v));
  $("throughput").innerHTML = `<div class="muted">tasks/s (max ${rtop.toFixed(0)}), ` +
    `network ${bytes(ntop)}/s max</div><svg width="${W}" height="${H}">` +
    polyline(rate, t0, t1, rtop, W, H, "#3a9d5d") + polyline(net, t0, t1, ntop, W, H, "#e0a030") + "</svg>";
}

// ----------------------------------------------------------- workers
let sortBy = "name", reverse = false, offset = 0;
const LIMIT = 50;
async function refreshWorkers() {
  const page = await get(`/api/v1/workers?sort=${sortBy}&reverse=${reverse ? 1 : 0}` +
    `&offset=${offset}&limit=${LIMIT}`);
  const head = [["name", "worker"], [null, "status"], [null, "threads"], ["cpu", "CPU"],
    ["memory", "memory (managed / unmanaged / spilled)"], ["processing", "running"],
    ["queued", "queued"], ["in_memory", "results"], ["net", "network"], [null, "last seen"]];
  const rows = page.workers.map((r) => {
    const lim = r.memory_limit || Math.max(1, r.managed + r.unmanaged + r.spilled);
    return `<tr class="worker" data-address="${esc(r.address)}" data-processing="${r.processing}" ` +
      `data-in-memory="${r.in_memory}"><td><a href="/worker?address=${encodeURIComponent(r.address)}">` +
      `${esc(r.name)}</a> <span class="muted">${esc(r.address)}</span></td><td>${esc(r.status)}</td>` +
      `<td>${r.nthreads}</td><td>${r.cpu.toFixed(0)}%</td><td>` +
      bar([["managed", r.managed], ["unmanaged", r.unmanaged], ["spilled", r.spilled]], lim) +
      `${bytes(r.managed)} / ${bytes(r.unmanaged)} / ${bytes(r.spilled)}</td>` +
      `<td>${r.running}</td><td>${r.queued}</td><td>${num(r.in_memory)}</td>` +
      `<td>${bytes(r.net_read + r.net_write)}/s</td><td>${r.last_seen.toFixed(1)} s</td></tr>`;
  }).join("");
  $("workers").innerHTML = `<div>${page.total} workers, ${page.offset + 1}-` +
    `${Math.min(page.total, page.offset + LIMIT)} shown <button id="prev">&lt;</button>` +
    `<button id="next">&gt;</button></div><table><tr>` + head.map(([k, label]) =>
      k ? `<th class="sort" data-sort="${k}">${label}${k === sortBy ? (reverse ? " ▼" : " ▲") : ""}</th>`
        : `<th>${label}</th>`).join("") + "</tr>" + rows + "</table>";
  document.querySelectorAll("th.sort").forEach((th) => th.onclick = () => {
    reverse = th.dataset.sort === sortBy ? !reverse : false; sortBy = th.dataset.sort; refreshWorkers();
  });
  $("prev").onclick = () => { offset = Math.max(0, offset - LIMIT); refreshWorkers(); };
  $("next").onclick = () => { if (offset + LIMIT < page.total) offset += LIMIT; refreshWorkers(); };
  $("histograms").innerHTML = Object.entries(page.histograms).map(([name, h]) => {
    const top = Math.max(1, ...h.counts);
    return `<div><b>${name}</b> <span class="muted">0 to ${name === "memory" ? bytes(h.max) : h.max.toFixed(0)}</span>` +
      `<svg width="200" height="50">` + h.counts.map((n, i) =>
        `<rect x="${i * 10}" y="${50 - 50 * n / top}" width="9" height="${50 * n / top}" fill="#3a78c2">` +
        `<title>${n}</title></rect>`).join("") + "</svg></div>";
  }).join("");
}

// ------------------------------------------------------------ worker
async function refreshWorker() {
  const address = new URLSearchParams(location.search).get("address") || "";
  let w;
  try { w = await get("/api/v1/worker?address=" + encodeURIComponent(address)); }
  catch (e) { $("worker").textContent = "no worker " + address + " (it may have left)"; return; }
  const list = (keys) => keys.length ? "<ul>" + keys.map((k) => `<li>${esc(k)}</li>`).join("") + "</ul>" : "<p class=muted>none</p>";
  $("worker").innerHTML = `<h2 data-address="${esc(w.address)}">${esc(w.name)} ${esc(w.address)}</h2>` +
    `<p>${esc(w.status)}, ${w.nthreads} threads, CPU ${w.cpu.toFixed(0)}%, memory ${bytes(w.managed)} managed, ` +
    `${bytes(w.unmanaged)} unmanaged, ${bytes(w.spilled)} spilled` +
    (w.memory_limit ? ` of ${bytes(w.memory_limit)}` : "") + `; ${w.running} running, ${w.queued} queued, ` +
    `${num(w.in_memory)} results held (${bytes(w.nbytes)}), ${num(w.tasks_run)} tasks run; ` +
    `network ${bytes(w.net_read)}/s in, ${bytes(w.net_write)}/s out; pid ${w.pid}` +
    (w.nanny ? `, nanny ${esc(w.nanny)}` : "") + `</p><div class="grid"><div><h2>executing</h2>` +
    list(w.executing_keys) + `<h2>assigned</h2>${list(w.processing_keys)}</div><div><h2>holds</h2>` +
    list(w.held_keys.map((h) => h.key + " (" + bytes(h.nbytes) + ")")) + `<h2>recent tasks</h2>` +
    list(w.recent_tasks.slice(-20).reverse().map((t) => t.prefix + " " + (1000 * (t.stop - t.start)).toFixed(1) + " ms " + t.status)) +
    "</div></div>";
}

// ------------------------------------------------------------ errors
async function refreshErrors() {
  const data = await get("/api/v1/errors");
  $("errors").innerHTML = `<p>${num(data.erred)} tasks erred; the last ${data.errors.length}:</p>` +
    data.errors.slice().reverse().map((e) => `<div class="error" data-key="${esc(e.key)}"><b>${esc(e.key)}</b> ` +
      `<span class="muted">on ${esc(e.worker)} at ${new Date(e.time * 1000).toLocaleTimeString()}</span>` +
      `<pre>${esc(e.exception)}\n${esc(e.traceback)}</pre></div>`).join("");
}

const REFRESH = {status: refreshStatus, workers: refreshWorkers, worker: refreshWorker, errors: refreshErrors};
async function tick() {
  try { await REFRESH[PAGE](); $("error").textContent = ""; document.body.dataset.loaded = "1"; }
  catch (e) { $("error").textContent = "cannot reach the scheduler: " + e.message; }
  setTimeout(tick, 1000);
}
tick();
"""

_BODIES = {
    "status": """<section><div id="totals">loading...</div></section>
<section><h2>Task groups</h2><div id="groups"></div></section>
<section><h2>The graph by group</h2><div id="graph"></div></section>
<section><h2>Task stream</h2><div id="stream"></div></section>
<div class="grid"><section><h2>Cluster memory</h2><div id="memory"></div></section>
<section><h2>Throughput and network</h2><div id="throughput"></div></section></div>""",
    "workers": """<section><h2>Workers</h2><div id="workers">loading...</div></section>
<section><h2>Distribution over all workers</h2><div id="histograms" class="grid"></div></section>""",
    "worker": """<section><div id="worker">loading...</div></section>""",
    "errors": """<section><h2>Errors</h2><div id="errors">loading...</div></section>""",
}


def render(page: str, address: str) -> str:
    """The HTML of ``page`` (one of ``PAGES``) for the scheduler at ``address``."""
    if page not in PAGES:
        raise ValueError(f"no dashboard page {page!r}; pages: {', '.join(PAGES)}")
    nav = "".join(
        f'<a href="/{p}"{" class=on" if p == page else ""}>{p.capitalize()}</a>'
        for p in ("status", "workers", "errors")
    )
    title = html.escape(f"shoal {page} - {address}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head>
<body data-page="{page}"><header><b>shoal</b>{nav}<a href="/metrics">Metrics</a>
<span class="addr">{html.escape(address)}</span></header>
<main><div id="error" style="color:#b00"></div>{_BODIES[page]}</main>
<script>{SCRIPT}</script></body></html>"""
