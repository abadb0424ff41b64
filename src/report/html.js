"use strict";
// Draws the llmops HTML report from the JSON block `llmops-data`. Every string from the run
// goes on screen through textContent, never as markup.
(function () {
  var started = performance.now();
  var D = JSON.parse(document.getElementById("llmops-data").textContent);
  var PAGE = 100;
  var state = { status: "", metric: "", q: "", sort: -1, dir: 1, page: 0 };
  var open = {};
  var shown = [];
  var search = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) parent.appendChild(arguments[i]);
    return parent;
  }
  function put(parent, child) {
    parent.appendChild(child);
    return child;
  }
  function fmt(v, format) {
    if (v === null || v === undefined) return "-";
    if (format === "score") return Number(v).toFixed(3);
    if (format === "delta") return (v > 0 ? "+" : "") + Number(v).toFixed(3);
    if (format === "ms") return v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms";
    return String(v);
  }
  function dl(pairs) {
    var d = el("dl");
    pairs.forEach(function (p) { add(d, el("dt", null, p[0]), el("dd", null, p[1])); });
    return d;
  }

  var app = document.getElementById("app");
  var head = el("h1", null, D.title + " ");
  add(head, el("span", "badge " + D.tone, D.status));
  add(app, head, el("div", "sub", D.subtitle));

  if (D.cards.length) {
    add(app, el("h2", null, D.kind === "diff" ? "Prompts" : "Suites"));
    var cards = put(app, el("div", "cards"));
    D.cards.forEach(function (c) {
      var card = el("section", "card");
      var h = add(el("h3"), el("span", null, c.title), el("span", "badge " + c.tone, c.status));
      add(card, h, dl(c.fields));
      if (c.notes.length) {
        var ul = el("ul", "notes");
        c.notes.forEach(function (n) { add(ul, el("li", null, n)); });
        add(card, ul);
      }
      add(cards, card);
    });
  }

  add(app, el("h2", null, D.kind === "diff" ? "Changes" : "Cases"));
  var controls = put(app, el("div", "controls"));
  var statusSel = el("select");
  statusSel.id = "filter-status";
  statusSel.setAttribute("aria-label", "status");
  var counts = {};
  D.rows.forEach(function (r) { counts[r.status] = (counts[r.status] || 0) + 1; });
  add(statusSel, new Option("all statuses (" + D.rows.length + ")", ""));
  Object.keys(counts).sort().forEach(function (s) {
    add(statusSel, new Option(s + " (" + counts[s] + ")", s));
  });
  var metricSel = el("select");
  metricSel.id = "filter-metric";
  metricSel.setAttribute("aria-label", "metric");
  add(metricSel, new Option("all metrics", ""));
  D.metrics.forEach(function (m) { add(metricSel, new Option("metric: " + m, m)); });
  var query = el("input");
  query.id = "filter-text";
  query.type = "search";
  query.placeholder = "search id, variables, output, reasons";
  query.setAttribute("aria-label", "search");
  var count = el("span", "count");
  count.id = "count";
  add(controls, statusSel);
  if (D.metrics.length) add(controls, metricSel);
  add(controls, query, count);

  var table = put(app, el("table", "cases"));
  var thead = put(table, el("thead"));
  var tbody = put(table, el("tbody"));
  var pager = put(app, el("div", "pager"));
  var prev = el("button", null, "previous");
  var next = el("button", null, "next");
  var where = el("span", "count");
  add(pager, prev, where, next);

  function columns() {
    var cols = D.columns.slice();
    if (state.metric) cols.push({ label: state.metric, format: "score", metric: true });
    return cols;
  }
  function cell(r, i, cols) {
    return cols[i].metric ? (r.metrics[state.metric] === undefined ? null : r.metrics[state.metric]) : r.cells[i];
  }
  function haystack(i) {
    if (!search) {
      search = D.rows.map(function (r) {
        var parts = [r.id, r.status, r.description || "", r.output || "", JSON.stringify(r.vars)];
        r.cells.forEach(function (c) { parts.push(String(c)); });
        r.reasons.forEach(function (x) { parts.push(x); });
        r.assertions.forEach(function (a) { parts.push(a.kind, a.reason); });
        r.compare.forEach(function (c) { parts.push(c.a || "", c.b || ""); });
        return parts.join("\n").toLowerCase();
      });
    }
    return search[i];
  }

  function refilter() {
    var q = state.q.toLowerCase();
    shown = [];
    for (var i = 0; i < D.rows.length; i++) {
      var r = D.rows[i];
      if (state.status && r.status !== state.status) continue;
      if (state.metric && r.metrics[state.metric] === undefined) continue;
      if (q && haystack(i).indexOf(q) < 0) continue;
      shown.push(i);
    }
    if (state.sort >= 0) {
      var cols = columns();
      var k = state.sort, dir = state.dir;
      shown.sort(function (a, b) {
        var x = cell(D.rows[a], k, cols), y = cell(D.rows[b], k, cols);
        if (x === y) return a - b;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * dir;
      });
    }
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    draw();
  }

  function drawHead() {
    thead.textContent = "";
    var tr = put(thead, el("tr"));
    columns().forEach(function (c, i) {
      var th = el("th", null, c.label);
      th.tabIndex = 0;
      if (state.sort === i) th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      function sort() {
        if (state.sort === i) state.dir = -state.dir;
        else { state.sort = i; state.dir = 1; }
        state.page = 0;
        drawHead();
        refilter();
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
      add(tr, th);
    });
  }

  function diffBlock(c, side) {
    var pre = el("pre");
    if (!c.diff.length) {
      pre.textContent = (side < 0 ? c.a : c.b) || "(none)";
      return pre;
    }
    c.diff.forEach(function (d) {
      if (d[0] === 0) add(pre, document.createTextNode(d[1]));
      else if (d[0] === side) add(pre, el(side < 0 ? "del" : "ins", null, d[1]));
    });
    return pre;
  }

  function detail(r, span) {
    var td = el("td");
    td.colSpan = span;
    if (r.description) add(td, el("p", null, r.description));
    if (r.facts.length) add(td, dl(r.facts));
    if (r.vars !== null && !(typeof r.vars === "object" && Object.keys(r.vars).length === 0)) {
      add(td, el("h4", null, "variables"), el("pre", "vars", JSON.stringify(r.vars, null, 2)));
    }
    if (r.output !== null && r.output !== undefined) add(td, el("h4", null, "output"), el("pre", "output", r.output));
    if (r.assertions.length) {
      add(td, el("h4", null, "assertions"));
      var t = put(td, el("table", "asserts"));
      add(t, add(el("tr"), el("th", null, ""), el("th", null, "assertion"), el("th", null, "score"), el("th", null, "reason")));
      r.assertions.forEach(function (a) {
        var word = a.error ? "error" : a.pass ? "pass" : "fail";
        var kind = a.kind + (a.metric ? " (" + a.metric + ")" : "") + (a.critical ? " critical" : "");
        add(t, add(el("tr"), el("td", "st-" + word, word), el("td", null, kind), el("td", "num", a.score.toFixed(3)), el("td", "reason", a.reason)));
      });
    }
    if (r.reasons.length) {
      add(td, el("h4", null, "why"));
      var ul = put(td, el("ul", "reasons"));
      r.reasons.forEach(function (x) { add(ul, el("li", null, x)); });
    }
    r.compare.forEach(function (c) {
      add(td, el("h4", null, c.title + (c.diff.length ? "" : " (too long for a word diff)")));
      var g = put(td, el("div", "side"));
      add(g, add(el("div"), el("div", "count", c.a_label), diffBlock(c, -1)));
      add(g, add(el("div"), el("div", "count", c.b_label), diffBlock(c, 1)));
    });
    return add(el("tr", "detail"), td);
  }

  function draw() {
    tbody.textContent = "";
    var cols = columns();
    var from = state.page * PAGE;
    var rows = shown.slice(from, from + PAGE);
    rows.forEach(function (i) {
      var r = D.rows[i];
      var tr = el("tr", "case");
      tr.tabIndex = 0;
      tr.dataset.row = i;
      cols.forEach(function (c, k) {
        var v = cell(r, k, cols);
        var td = el("td", c.format === "text" || c.format === "status" ? null : "num", fmt(v, c.format));
        if (c.format === "status") td.className = "st-" + v;
        add(tr, td);
      });
      function toggle() { open[i] = !open[i]; draw(); }
      tr.addEventListener("click", toggle);
      tr.addEventListener("keydown", function (e) { if (e.key === "Enter") toggle(); });
      add(tbody, tr);
      if (open[i]) add(tbody, detail(r, cols.length));
    });
    if (!rows.length) {
      var td = el("td", "empty", "no case matches");
      td.colSpan = cols.length;
      add(tbody, add(el("tr"), td));
    }
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    count.textContent = shown.length + " of " + D.rows.length;
    where.textContent = "page " + (state.page + 1) + " of " + pages;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    pager.hidden = pages === 1;
  }

  statusSel.addEventListener("change", function () { state.status = statusSel.value; state.page = 0; refilter(); });
  metricSel.addEventListener("change", function () { state.metric = metricSel.value; state.page = 0; drawHead(); refilter(); });
  query.addEventListener("input", function () { state.q = query.value; state.page = 0; refilter(); });
  prev.addEventListener("click", function () { state.page--; draw(); });
  next.addEventListener("click", function () { state.page++; draw(); });

  drawHead();
  refilter();
  document.body.dataset.ready = String(Math.round(performance.now()));
  document.body.dataset.drawMs = String(Math.round(performance.now() - started));
})();
