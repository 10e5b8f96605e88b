// The web dashboard's script: reads /dashboard/events (SSE, through fetch so that it can send the
// admin key) and draws the view model the gateway sends: summary, uPlot charts, panels.
/* global uPlot */
"use strict";

const KEY_STORAGE = "turnpike-admin-key";
const PALETTE = [
  "#5fa8e8",
  "#7bc47f",
  "#e6c35c",
  "#ef6f6c",
  "#b48ef0",
  "#4fd1c5",
  "#f6a05a",
  "#d67ab1",
];
const interval = new URLSearchParams(location.search).get("interval") ?? "2";

const expanded = new Set();
const charts = { load: null, ttft: null };
let lastModel = null;
let retryMs = 1000;

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function setConnection(text, tone) {
  const node = document.getElementById("connection");
  node.textContent = text;
  node.className = `tone-${tone}`;
}

function chartOptions(names, width) {
  const axis = { stroke: "#8b909a", grid: { stroke: "#2a2e37" }, ticks: { stroke: "#2a2e37" } };
  return {
    width,
    height: 220,
    scales: { x: { time: true } },
    axes: [axis, axis],
    series: [
      {},
      ...names.map((name, i) => ({
        label: name,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        spanGaps: true,
      })),
    ],
  };
}

function drawChart(which, timesMs, series) {
  const names = series.map((s) => s.name);
  const data = [timesMs.map((t) => t / 1000), ...series.map((s) => s.values)];
  const current = charts[which];
  if (current && current.names.join("\n") === names.join("\n")) {
    current.plot.setData(data);
    return;
  }
  current?.plot.destroy();
  const target = document.getElementById(`chart-${which}`);
  const width = Math.max(320, Math.min(720, Math.floor((document.body.clientWidth - 120) / 2)));
  charts[which] = { names, plot: new uPlot(chartOptions(names, width), data, target) };
}

function panelNode(panel) {
  const node = el("section", { class: "panel", id: `panel-${panel.id}` });
  const count = panel.rows.length > 0 ? ` (${panel.rows.length})` : "";
  node.append(el("h2", {}, `${panel.title}${count}`));
  for (const line of panel.summary) node.append(el("p", { class: "muted" }, line));
  if (panel.rows.length === 0) {
    node.append(el("p", { class: "note" }, panel.note ?? "nothing to show"));
    return node;
  }
  const table = el("table");
  const head = el("tr");
  for (const column of panel.columns) head.append(el("th", {}, column));
  const thead = el("thead");
  thead.append(head);
  table.append(thead);
  const body = el("tbody");
  for (const row of panel.rows) {
    const id = `${panel.id}/${row.key}`;
    const tr = el("tr", { class: `row tone-${row.tone}`, "data-key": row.key });
    row.cells.forEach((cell) => tr.append(el("td", {}, cell)));
    tr.addEventListener("click", () => {
      if (expanded.has(id)) expanded.delete(id);
      else expanded.add(id);
      if (lastModel) render(lastModel);
    });
    body.append(tr);
    if (expanded.has(id)) {
      const detail = el("tr", { class: "detail" });
      detail.append(el("td", { colspan: String(panel.columns.length) }, row.detail.join("\n")));
      body.append(detail);
    }
  }
  table.append(body);
  node.append(table);
  return node;
}

function render(model) {
  lastModel = model;
  setConnection(model.connection.text, model.connection.tone);
  document.getElementById("updated").textContent = `updated ${
    new Date(model.atMs).toISOString().slice(11, 19)
  } UTC`;
  const summary = document.getElementById("summary");
  summary.replaceChildren(...model.header.map((line) => el("p", {}, line)));
  drawChart("load", model.charts.timesMs, model.charts.load);
  drawChart("ttft", model.charts.timesMs, model.charts.ttft);
  document.getElementById("panels").replaceChildren(...model.panels.map(panelNode));
}

async function errorMessage(response) {
  try {
    return (await response.json()).error.message;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function askForKey(message) {
  const form = document.getElementById("login");
  form.hidden = false;
  document.getElementById("login-error").textContent = message;
  setConnection("admin key needed", "warn");
}

/** Reads the event stream until it ends; each `update` event is drawn. */
async function readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) =>
        l.slice(5).replace(/^ /, "")
      )
        .join("\n");
      if (/^event: ?update$/m.test(block) && data) {
        render(JSON.parse(data));
        retryMs = 1000;
      }
    }
  }
}

async function connect() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  try {
    const response = await fetch(`/dashboard/events?interval=${encodeURIComponent(interval)}`, {
      headers,
    });
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY_STORAGE);
      askForKey(key ? await errorMessage(response) : "");
      return;
    }
    if (!response.ok) throw new Error(await errorMessage(response));
    document.getElementById("login").hidden = true;
    await readEvents(response);
    throw new Error("the gateway ended the stream");
  } catch (error) {
    setConnection(
      `disconnected from the gateway (${error.message}); retrying in ${retryMs / 1000}s`,
      "bad",
    );
    setTimeout(connect, retryMs);
    retryMs = Math.min(10_000, retryMs * 2);
  }
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, document.getElementById("admin-key").value);
  document.getElementById("login").hidden = true;
  setConnection("connecting", "warn");
  connect();
});

connect();
