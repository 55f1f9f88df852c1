// The shop's page: list products, buy one with a scenario, show the outcome and its trace.
// Plain JavaScript, no build step.
"use strict";

const grafanaURL = document.body.dataset.grafanaUrl;

// hex returns n random bytes as lower-case hex.
function hex(n) {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// newTraceparent starts a trace in the browser, so the trace id is known in every lane,
// including those whose services carry no OpenTelemetry code.
function newTraceparent() {
  const traceId = hex(16);
  return { traceId, header: `00-${traceId}-${hex(8)}-01` };
}

// traceLink opens Grafana Explore on the Tempo datasource (uid "tempo") for one trace id.
function traceLink(traceId) {
  const panes = {
    a: {
      datasource: "tempo",
      queries: [{ refId: "A", datasource: { type: "tempo", uid: "tempo" }, queryType: "traceql", query: traceId }],
      range: { from: "now-1h", to: "now" },
    },
  };
  return `${grafanaURL}/explore?schemaVersion=1&orgId=1&panes=${encodeURIComponent(JSON.stringify(panes))}`;
}

function money(cents) {
  return (cents / 100).toFixed(2);
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

async function loadProducts() {
  const body = document.querySelector("#products tbody");
  try {
    const resp = await fetch("/api/products");
    const data = await resp.json();
    if (!resp.ok) throw new Error(`${resp.status} ${data.error}: ${data.message}`);
    body.replaceChildren(...data.products.map((p) =>
      el("tr", {},
        el("td", { textContent: p.name }),
        el("td", { textContent: money(p.price_cents) }),
        el("td", { textContent: p.available, className: "stock" }),
        el("td", {}, el("button", { textContent: "Buy", className: "buy", onclick: () => buy(p.sku) })))));
  } catch (err) {
    body.replaceChildren(el("tr", {}, el("td", { colSpan: 4, className: "error", textContent: `Could not load products: ${err.message}` })));
  }
}

async function buy(sku) {
  const scenario = document.getElementById("scenario").value;
  const quantity = Number(document.getElementById("quantity").value);
  const trace = newTraceparent();
  const started = performance.now();
  let status = 0;
  let data = {};
  try {
    const resp = await fetch("/api/checkout", {
      method: "POST",
      headers: { "Content-Type": "application/json", traceparent: trace.header },
      body: JSON.stringify({ sku, quantity, scenario, idempotency_key: `web-${hex(12)}` }),
    });
    status = resp.status;
    data = await resp.json();
  } catch (err) {
    data = { error: "network", message: err.message };
  }
  const latency = Math.round(performance.now() - started);
  // The gateway answers the trace id it saw; it is the one the page sent unless a proxy restarted the trace.
  const traceId = data.trace_id || trace.traceId;
  show({ sku, scenario, status, data, latency, traceId });
  loadProducts();
}

function show({ sku, scenario, status, data, latency, traceId }) {
  const ok = status === 201;
  const outcome = ok
    ? `order ${data.order_id}: ${data.quantity} x ${data.sku}, ${money(data.total_cents)}`
    : `${status || "no answer"} ${data.error}: ${data.message}`;
  const result = document.getElementById("result");
  result.className = ok ? "ok" : "failed";
  result.replaceChildren(
    el("div", { className: "outcome", textContent: outcome }),
    el("div", {}, "scenario ", el("code", { textContent: scenario }), ", latency ", el("span", { className: "latency", textContent: `${latency} ms` })),
    el("div", {}, "trace id ", el("code", { className: "trace-id", textContent: traceId })),
    el("a", { className: "trace-link", href: traceLink(traceId), target: "_blank", rel: "noopener", textContent: "View trace in Grafana" }));
  const item = el("li", { className: ok ? "ok" : "failed" },
    `${sku} (${scenario}): ${ok ? "201" : status} in ${latency} ms `,
    el("a", { href: traceLink(traceId), target: "_blank", rel: "noopener", textContent: traceId.slice(0, 8) }));
  const history = document.getElementById("history");
  history.prepend(item);
  while (history.children.length > 10) history.lastChild.remove();
}

loadProducts();
