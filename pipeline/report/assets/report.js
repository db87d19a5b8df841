// The question explorer of a longtail report. Its data is gzip-compressed JSON in base64
// inside the page; the browser's own DecompressionStream inflates it (no library, no
// request). Every text is inserted with textContent, never parsed as HTML.
"use strict";
(function () {
  const SHOWN = 30;
  const status = document.getElementById("explorer-status");
  const input = document.getElementById("search");
  const results = document.getElementById("results");

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function entityName(uri) {
    const tail = uri.slice(uri.lastIndexOf("/") + 1);
    try { return decodeURIComponent(tail).replace(/_/g, " "); } catch (e) { return tail; }
  }

  async function load() {
    const raw = document.getElementById("explorer-data").textContent.trim();
    const bytes = Uint8Array.from(atob(raw), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function snippetNode(text, marks) {
    const node = el("div", "doc");
    let at = 0;
    for (const [start, end, role] of marks) {
      if (start < at) continue;
      node.appendChild(document.createTextNode(text.slice(at, start)));
      node.appendChild(el("mark", role === 0 ? "q" : "a", text.slice(start, end)));
      at = end;
    }
    node.appendChild(document.createTextNode(text.slice(at)));
    return node;
  }

  function card(d, i) {
    const node = el("div", "card");
    const n = d.n[i];
    const statusText = d.statuses[d.s[i]];
    const count = el("span", n === null ? "count none" : "count",
      n === null ? statusText : `${n.toLocaleString("en")} relevant document${n === 1 ? "" : "s"}`);
    node.appendChild(count);
    node.appendChild(el("div", "question", d.q[i]));
    const dl = el("dl");
    const add = (term, value) => { dl.appendChild(el("dt", "", term)); dl.appendChild(
      typeof value === "string" ? el("dd", "", value) : value); };
    add("answers", d.a[i].join(" | "));
    add("status", statusText);
    const where = d.sources.length > 1 ? `${d.sources[d.src[i]]} ` : "";
    add("question id", `${d.id[i]} (${where}row ${d.row[i]})`);
    if (d.qe[i] >= 0 && d.ae[i] >= 0) {
      add("winning pair", `${entityName(d.entities[d.qe[i]])} (${d.qd[i]} docs) + ` +
        `${entityName(d.entities[d.ae[i]])} (${d.ad[i]} docs)`);
    }
    const linked = d.le[i];
    const names = (role) => linked.filter((e) => e[2] === role)
      .map((e) => `${e[1]} → ${entityName(d.entities[e[0]])}`).join("; ") || "none";
    add("question entities", names(0));
    add("answer entities", names(1));
    node.appendChild(dl);
    const docs = d.docs[String(i)];
    if (docs) {
      for (const [docId, t, marks] of docs) {
        const doc = snippetNode(d.texts[t] || "(text not readable here)", marks);
        doc.prepend(el("div", "id", `document ${docId}`));
        node.appendChild(doc);
      }
    } else if (n) {
      node.appendChild(el("p", "note",
        `documents not embedded for this question: longtail docs OUT ${d.id[i]}`));
    }
    return node;
  }

  function search(d, lower, term) {
    results.textContent = "";
    const needle = term.trim().toLowerCase();
    if (!needle) {
      status.textContent = `${d.q.length.toLocaleString("en")} questions; type to search`;
      return;
    }
    const found = [];
    for (let i = 0; i < lower.length; i++) {
      if (lower[i].includes(needle)) found.push(i);
    }
    status.textContent = `${found.length.toLocaleString("en")} ` +
      (found.length === 1 ? "question matches" : "questions match") +
      (found.length > SHOWN ? `; first ${SHOWN} shown` : "");
    for (const i of found.slice(0, SHOWN)) results.appendChild(card(d, i));
  }

  load().then((d) => {
    const lower = d.q.map((q, i) => `${q}\n${d.a[i].join("\n")}\n${d.id[i]}`.toLowerCase());
    input.disabled = false;
    input.addEventListener("input", () => search(d, lower, input.value));
    let note = `${d.q.length.toLocaleString("en")} questions; documents embedded for ` +
      `${d.doc_questions.toLocaleString("en")}; type to search`;
    if (d.corpus_note) note += ` (${d.corpus_note})`;
    status.textContent = note;
    status.dataset.ready = "true";
    if (input.value) search(d, lower, input.value);
  }).catch((err) => { status.textContent = `the explorer could not load its data: ${err}`; });
})();
