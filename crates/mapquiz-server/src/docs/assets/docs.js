// Renders the OpenAPI document and the WebSocket protocol document of this server. Served from the binary:
// no third-party code, no network access beyond this server.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

function code(text) { return el("code", {}, text); }
function pre(value) { return el("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2)); }

function resolve(doc, schema) {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 10; i++) {
    const name = s.$ref.split("/").pop();
    s = (doc.components && doc.components.schemas && doc.components.schemas[name]) || {};
  }
  return s || {};
}

function describeSchema(doc, schema, depth) {
  const s = resolve(doc, schema);
  if (depth > 4) return "…";
  if (s.type === "object" || s.properties) {
    const out = {};
    for (const [k, v] of Object.entries(s.properties || {})) out[k] = describeSchema(doc, v, depth + 1);
    return out;
  }
  if (s.type === "array" || (Array.isArray(s.type) && s.type.includes("array"))) return [describeSchema(doc, s.items || {}, depth + 1)];
  if (s.oneOf || s.anyOf) return (s.oneOf || s.anyOf).map((x) => describeSchema(doc, x, depth + 1));
  const type = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || "any");
  return s.format ? `${type} (${s.format})` : type;
}

function renderOperation(doc, path, method, op) {
  const body = el("div", {});
  if (op.description) body.append(el("p", {}, op.description));
  const params = op.parameters || [];
  if (params.length) {
    const rows = params.map((p) => el("tr", {}, el("td", {}, code(p.name)), el("td", {}, p.in), el("td", {}, p.required ? "yes" : "no"), el("td", {}, p.description || "")));
    body.append(el("h4", {}, "Parameters"), el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "required"), el("th", {}, "description")), ...rows));
  }
  const req = op.requestBody && op.requestBody.content && Object.values(op.requestBody.content)[0];
  if (req && req.schema) body.append(el("h4", {}, "Request body"), pre(describeSchema(doc, req.schema, 0)));
  const rows = Object.entries(op.responses || {}).map(([status, r]) => {
    const content = r.content && Object.values(r.content)[0];
    const shape = content && content.schema ? pre(describeSchema(doc, content.schema, 0)) : "";
    return el("tr", {}, el("td", {}, code(status)), el("td", {}, r.description || "", shape));
  });
  if (rows.length) body.append(el("h4", {}, "Responses"), el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "answer")), ...rows));
  const summary = el("summary", {}, el("span", { class: `method ${method}` }, method), el("span", { class: "path" }, path), el("span", { class: "muted" }, op.summary || ""));
  return el("details", { class: "op" }, summary, body);
}

function renderHttp(doc) {
  const section = document.getElementById("http");
  section.replaceChildren(el("h2", {}, "HTTP routes"));
  if (doc.info && doc.info.description) section.append(el("p", {}, doc.info.description));
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(renderOperation(doc, path, method, op));
    }
  }
  const descriptions = new Map((doc.tags || []).map((t) => [t.name, t.description]));
  const toc = el("ul", {});
  for (const [tag, ops] of byTag) {
    const id = `tag-${tag}`;
    toc.append(el("li", {}, el("a", { href: `#${id}` }, tag)));
    section.append(el("h3", { id }, tag), descriptions.get(tag) ? el("p", { class: "muted" }, descriptions.get(tag)) : null, ...ops);
  }
  toc.append(el("li", {}, el("a", { href: "#websocket" }, "WebSocket")));
  document.getElementById("toc").replaceChildren(toc);
}

function renderWebSocket(ws) {
  const section = document.getElementById("websocket");
  section.replaceChildren(el("h2", {}, "WebSocket protocol (", code(ws.endpoint), ")"));
  for (const p of ws.overview) section.append(el("p", {}, p));
  section.append(el("h3", {}, "Limits"));
  section.append(el("table", {}, el("tr", {}, el("th", {}, "limit"), el("th", {}, "value"), el("th", {}, "on violation")),
    ...ws.limits.map((l) => el("tr", {}, el("td", {}, l.name), el("td", {}, l.value), el("td", {}, l.onViolation)))));
  section.append(el("h3", {}, "Client → server messages"));
  section.append(el("table", {}, el("tr", {}, el("th", {}, "type"), el("th", {}, "payload"), el("th", {}, "reply")),
    ...ws.clientMessages.map((m) => el("tr", {}, el("td", {}, code(m.type)), el("td", {}, m.payload ? pre(m.payload) : "–"), el("td", {}, m.reply)))));
  section.append(el("h3", {}, "Server → client frames"));
  for (const f of ws.serverFrames) section.append(el("h4", {}, code(f.type), " ", el("span", { class: "muted" }, f.when)), pre(f.example));
  section.append(el("h3", {}, "Error messages"));
  section.append(el("table", {}, el("tr", {}, el("th", {}, "message"), el("th", {}, "when")),
    ...ws.errors.map((e) => el("tr", {}, el("td", {}, code(e.message)), el("td", {}, e.when)))));
  section.append(el("h3", {}, "Close codes"));
  section.append(el("table", {}, el("tr", {}, el("th", {}, "code"), el("th", {}, "why")),
    ...ws.closeCodes.map((c) => el("tr", {}, el("td", {}, String(c.code)), el("td", {}, c.why)))));
}

function failed(id, what) {
  document.getElementById(id).append(el("p", {}, `Could not load ${what}.`));
}

fetch("/api/openapi.json").then((r) => r.json()).then(renderHttp).catch(() => failed("http", "the OpenAPI document"));
fetch("/docs/websocket.json").then((r) => r.json()).then(renderWebSocket).catch(() => failed("websocket", "the WebSocket document"));
