// The lab page: one click sends the same checkout to every lane; the answer is shown as a matrix of
// capabilities by lane and one span tree per lane on a shared time axis. Plain JavaScript, no build step.
"use strict";

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const ms = (v) => `${v.toFixed(1)} ms`;

async function loadScenarios() {
  const resp = await fetch("/api/scenarios");
  const list = await resp.json();
  const select = document.getElementById("scenario");
  for (const sc of list) {
    select.append(el("option", { value: sc.name, textContent: `${sc.name} (answers ${sc.status})` }));
  }
}

// laneHead names a lane and says how it went: off, no trace, or its answer and trace.
function laneHead(lane) {
  const head = el("div", { className: "lane-head" }, el("strong", { textContent: lane.name }), ` ${lane.observer}`);
  if (lane.off) {
    head.append(el("div", { className: "off", textContent: `off: ${lane.off}` }));
    return head;
  }
  head.append(el("div", { textContent: `answer ${lane.status} in ${ms(lane.latency_ms)}, trace ${lane.trace_id.slice(0, 8)}…` }));
  if (lane.missing) {
    head.append(el("div", { className: "missing", textContent: lane.missing }));
  }
  if (lane.grafana) {
    head.append(el("a", { className: "grafana", href: lane.grafana, target: "_blank", rel: "noopener", textContent: "View in Grafana" }));
  }
  return head;
}

function showMatrix(c) {
  const table = el("table", { className: "matrix" });
  const head = el("tr", {}, el("th", { textContent: "capability" }));
  for (const lane of c.lanes) {
    head.append(el("th", {}, laneHead(lane)));
  }
  table.append(el("thead", {}, head));
  const body = el("tbody");
  for (const row of c.capabilities) {
    const tr = el("tr", {}, el("th", { textContent: row.name }));
    for (const lane of c.lanes) {
      const cell = row.cells[lane.name];
      tr.append(el("td", { className: `cell v-${cell.verdict.replace("/", "")}`, title: cell.reason },
        el("span", { className: "verdict", textContent: cell.verdict }), " ", el("span", { className: "reason", textContent: cell.reason })));
    }
    body.append(tr);
  }
  table.append(body);
  document.getElementById("matrix").replaceChildren(el("h2", { textContent: `Scenario ${c.scenario}` }), table);
}

// spanRow is one span: its label indented by depth, a bar on the shared axis, its details.
function spanRow(n, axis) {
  const left = axis > 0 ? (100 * n.start_ms) / axis : 0;
  const width = axis > 0 ? Math.max(0.5, (100 * n.duration_ms) / axis) : 100;
  const details = [];
  if (n.route) details.push(`route ${n.route}`);
  if (n.status) details.push(`status ${n.status}`);
  if (n.statement) details.push(`SQL: ${n.statement}`);
  else if (n.sql) details.push("SQL, no statement text");
  if (n.error) details.push(`error${n.message ? ": " + n.message : ""}`);
  if (n.events && n.events.length) details.push(`events: ${n.events.join(", ")}`);
  if (n.related) details.push("its own trace, related by time and path");
  return el("div", { className: `span k-${n.kind.toLowerCase()}${n.error ? " err" : ""}${n.related ? " related" : ""}` },
    el("div", { className: "label", style: `padding-left:${n.depth * 0.9}rem`, textContent: `${n.service} ${n.kind} ${n.name}` }),
    el("div", { className: "track" }, el("div", { className: "bar", style: `left:${left}%;width:${Math.min(width, 100 - left)}%` })),
    el("div", { className: "dur", textContent: ms(n.duration_ms) }),
    el("div", { className: "details", textContent: details.join(" · ") }));
}

function showTrees(c) {
  const trees = el("div", { className: "trees" });
  for (const lane of c.lanes) {
    const box = el("div", { className: "tree" }, laneHead(lane));
    box.dataset.lane = lane.name;
    if (lane.off) {
      // nothing more to say than the head does
    } else if (lane.nodes.length === 0) {
      box.append(el("p", { className: "none", textContent: lane.observer === "none" ? "no spans: nothing instruments this lane" : "no spans" }));
    } else {
      for (const n of lane.nodes) box.append(spanRow(n, c.axis_ms));
    }
    trees.append(box);
  }
  document.getElementById("trees").replaceChildren(el("h2", { textContent: `Span trees, one time axis of ${ms(c.axis_ms)}` }), trees);
}

async function compareLanes(event) {
  event.preventDefault();
  const state = document.getElementById("state");
  const button = document.getElementById("go");
  const scenario = document.getElementById("scenario").value;
  button.disabled = true;
  state.className = "";
  state.textContent = `Comparing ${scenario}: sending the checkout to every lane, then waiting for each trace to stop growing…`;
  try {
    const resp = await fetch("/api/compare", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ scenario }),
    });
    const body = await resp.json();
    if (!resp.ok) {
      state.className = "failed";
      state.textContent = `${body.error}: ${body.message}`;
      return;
    }
    showMatrix(body);
    showTrees(body);
    state.textContent = `Compared ${body.lanes.length} lanes.`;
  } catch (err) {
    state.className = "failed";
    state.textContent = `The lab did not answer: ${err}`;
  } finally {
    button.disabled = false;
  }
}

document.getElementById("ask").addEventListener("submit", compareLanes);
loadScenarios().catch((err) => {
  const state = document.getElementById("state");
  state.className = "failed";
  state.textContent = `Could not load the scenarios: ${err}`;
});
