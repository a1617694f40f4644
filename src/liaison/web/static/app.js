/* Liaison web UI: a little progressive JavaScript.  Every page works without it. */
"use strict";

function csrfToken(form) {
  const field = form.querySelector('input[name="csrf_token"]');
  return field ? field.value : "";
}

/* Confirm destructive actions (revoke, remove). */
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

/* Import: upload with progress, then the server's progress events (NDJSON). */
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function showSummary(target, s) {
  target.replaceChildren();
  target.appendChild(el("h2", "Import finished"));
  const p = el("p", "", "summary");
  p.setAttribute("data-summary", "");
  p.append(el("strong", s.file), ` into ${s.collection}: `, el("span", `${s.stored} stored`, "ok"),
           `, ${s.duplicates} duplicate, `, el("span", `${s.rejected} rejected`, s.rejected ? "bad" : ""),
           ` of ${s.total}.`);
  target.appendChild(p);
  const table = el("table", undefined, "results");
  const head = table.createTHead().insertRow();
  for (const h of ["Object", "Version", "Result", "Message"]) head.appendChild(el("th", h));
  const body = table.createTBody();
  for (const r of s.results) {
    const row = body.insertRow();
    row.className = "o-" + r.outcome;
    row.setAttribute("data-item", r.id);
    const cell = row.insertCell();
    if (r.outcome !== "rejected") {
      const a = el("a", r.id);
      a.href = `/ui/collections/${encodeURIComponent(s.collection)}/objects/${encodeURIComponent(r.id)}/`;
      cell.appendChild(a);
    } else cell.textContent = r.id;
    row.insertCell().textContent = r.version || "";
    row.insertCell().textContent = r.outcome;
    row.insertCell().textContent = r.message || "";
  }
  target.appendChild(table);
}

function setupImport(form) {
  const box = form.querySelector(".progress");
  const bar = box.querySelector("progress");
  const text = box.querySelector(".progress-text");
  const result = document.getElementById("import-result");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    let seen = 0;
    box.hidden = false;
    bar.value = 0;
    text.textContent = "uploading…";
    result.replaceChildren();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/x-ndjson");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken(form));
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) { bar.value = (50 * e.loaded) / e.total; text.textContent = `uploading ${Math.round((100 * e.loaded) / e.total)}%`; }
    };
    const handle = (line) => {
      if (!line.trim()) return;
      const ev = JSON.parse(line);
      if (ev.phase === "checked") { bar.value = 50; text.textContent = `checked: ${ev.total} objects`; }
      else if (ev.phase === "stored") { bar.value = 50 + (50 * ev.done) / Math.max(1, ev.total); text.textContent = `stored ${ev.done} of ${ev.total}`; }
      else if (ev.phase === "done") { bar.value = 100; text.textContent = "done"; showSummary(result, ev.summary); }
      else if (ev.phase === "error") { text.textContent = ""; result.replaceChildren(el("p", ev.message, "error")); }
    };
    xhr.onprogress = () => {
      const lines = xhr.responseText.slice(seen).split("\n");
      const complete = lines.slice(0, -1);
      for (const line of complete) { seen += line.length + 1; handle(line); }
    };
    xhr.onload = () => {
      if (xhr.status >= 400) {
        let message = `the import was refused (${xhr.status})`;
        try { message = JSON.parse(xhr.responseText).description || message; } catch (e) { /* HTML */ }
        text.textContent = "";
        result.replaceChildren(el("p", message, "error"));
        return;
      }
      handle(xhr.responseText.slice(seen));
    };
    xhr.onerror = () => { text.textContent = "the upload failed (network)"; };
    xhr.send(new FormData(form));
  });
}

/* Graph: highlight a node's edges on hover. */
function setupGraph(svg) {
  svg.querySelectorAll(".node").forEach((node) => {
    const id = node.getAttribute("data-id");
    const on = () => {
      svg.classList.add("dimmed");
      node.classList.add("lit");
      svg.querySelectorAll(".edge").forEach((e) => {
        if (e.getAttribute("data-source") === id || e.getAttribute("data-target") === id) e.classList.add("lit");
      });
    };
    const off = () => {
      svg.classList.remove("dimmed");
      svg.querySelectorAll(".lit").forEach((e) => e.classList.remove("lit"));
    };
    node.addEventListener("mouseenter", on);
    node.addEventListener("mouseleave", off);
    node.addEventListener("focus", on);
    node.addEventListener("blur", off);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-progress]").forEach(setupImport);
  document.querySelectorAll("svg.graph").forEach(setupGraph);
});
