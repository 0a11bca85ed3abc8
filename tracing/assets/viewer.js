// stbass trace viewer: draws the embedded trace on one <canvas> (only the rows and
// spans in view are drawn, so 10,000 spans stay responsive) and keeps a hidden
// DOM index of lanes ([data-lane]) and message arrows ([data-arrow]) for tools
// and tests. No network access: everything it needs is in this file.
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (ev) {
    errors.push(String(ev.message || ev));
    document.body.setAttribute("data-errors", String(errors.length));
  });
  var t0 = performance.now();
  var DATA = JSON.parse(document.getElementById("trace-data").textContent);
  var rows = DATA.rows, spans = DATA.spans, arrows = DATA.arrows;

  // ---------------------------------------------------------------- model
  var ROW_H = 22, AXIS_H = 26, LABEL_W = 270, INDENT = 12;
  var childRows = rows.map(function () { return []; });
  rows.forEach(function (r, i) { if (r.parent !== null) childRows[r.parent].push(i); });
  var rowItems = rows.map(function () { return []; });
  spans.forEach(function (s, i) { rowItems[s.row].push(i); });
  rowItems.forEach(function (list) {
    list.sort(function (a, b) { return spans[a].level - spans[b].level || spans[a].start - spans[b].start; });
  });
  var collapsed = new Uint8Array(rows.length);
  var visible = [];        // row indexes currently shown, in order
  var visibleAt = new Int32Array(rows.length);  // row -> position in `visible`, -1 if hidden
  var shownAs = new Int32Array(rows.length);    // row -> nearest shown ancestor (itself if shown)

  function computeVisible() {
    visible = [];
    for (var i = 0; i < rows.length; i++) {
      var p = rows[i].parent;
      if (p === null) { shownAs[i] = i; }
      else if (shownAs[p] !== p || collapsed[p]) { shownAs[i] = shownAs[p]; }
      else { shownAs[i] = i; }
      if (shownAs[i] === i) { visibleAt[i] = visible.length; visible.push(i); } else { visibleAt[i] = -1; }
    }
  }

  var total = Math.max(1, DATA.meta.wall_ns);
  var view = { start: -total * 0.01, end: total * 1.01, scrollY: 0 };
  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var width = 0, height = 0, dpr = window.devicePixelRatio || 1;
  var hover = -1, pinned = -1;
  var hatch = null;

  function resize() {
    var box = canvas.parentNode.getBoundingClientRect();
    width = Math.max(320, Math.floor(box.width));
    height = Math.max(200, Math.floor(box.height));
    canvas.width = Math.floor(width * dpr);
    canvas.height = Math.floor(height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    clampScroll();
  }

  function plotW() { return Math.max(50, width - LABEL_W - 10); }
  function xOf(t) { return LABEL_W + (t - view.start) / (view.end - view.start) * plotW(); }
  function tOf(x) { return view.start + (x - LABEL_W) / plotW() * (view.end - view.start); }
  function yOfRow(r) { return AXIS_H + visibleAt[r] * ROW_H - view.scrollY; }
  function clampScroll() {
    var maxY = Math.max(0, visible.length * ROW_H - (height - AXIS_H) + ROW_H);
    view.scrollY = Math.min(Math.max(0, view.scrollY), maxY);
  }

  // ----------------------------------------------------------------- drawing
  var COLORS = {
    process: "#4f7ec9", composition: "#98a2b3", send: "#1b9e77", recv: "#7570b3",
    alt: "#e6862e", other: "#9aa4b2", error: "#d92d20", cancelled: "#8a8f98",
    timer: "#d4a000", arrow: "rgba(59,74,107,0.75)", text: "#1d2330", muted: "#667085"
  };

  function hatchPattern() {
    if (hatch) return hatch;
    var c = document.createElement("canvas");
    c.width = 6; c.height = 6;
    var g = c.getContext("2d");
    g.fillStyle = "#d0d3d9"; g.fillRect(0, 0, 6, 6);
    g.strokeStyle = COLORS.cancelled; g.lineWidth = 2;
    g.beginPath(); g.moveTo(0, 6); g.lineTo(6, 0); g.stroke();
    hatch = ctx.createPattern(c, "repeat");
    return hatch;
  }

  function fmtDur(ns) {
    var a = Math.abs(ns);
    if (a >= 1e9) return (ns / 1e9).toFixed(a >= 1e10 ? 1 : 3) + " s";
    if (a >= 1e6) return (ns / 1e6).toFixed(a >= 1e7 ? 1 : 2) + " ms";
    if (a >= 1e3) return (ns / 1e3).toFixed(a >= 1e4 ? 1 : 2) + " µs";
    return Math.round(ns) + " ns";
  }

  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  function barColor(s) {
    if (s.status === 2) return COLORS.error;
    if (s.cancelled) return hatchPattern();
    return COLORS[s.cat] || COLORS.other;
  }

  function drawDiamond(x, y, r, color) {
    ctx.fillStyle = color;
    ctx.beginPath(); ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y);
    ctx.closePath(); ctx.fill();
  }

  function drawTriangle(x, y, r, color) {
    ctx.fillStyle = color;
    ctx.beginPath(); ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + r); ctx.lineTo(x - r, y + r);
    ctx.closePath(); ctx.fill();
  }

  function draw() {
    ctx.clearRect(0, 0, width, height);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    var first = Math.max(0, Math.floor(view.scrollY / ROW_H));
    var last = Math.min(visible.length - 1, Math.ceil((view.scrollY + height - AXIS_H) / ROW_H));
    var pw = plotW(), tStart = view.start, tEnd = view.end;

    // rows: background, label, spans
    for (var v = first; v <= last; v++) {
      var r = visible[v], row = rows[r], y = AXIS_H + v * ROW_H - view.scrollY;
      if (v % 2 === 0) { ctx.fillStyle = "#f7f8fa"; ctx.fillRect(0, y, width, ROW_H); }
      ctx.save();
      ctx.beginPath(); ctx.rect(LABEL_W, y, pw + 10, ROW_H); ctx.clip();
      var items = rowItems[r], labelEnd = -1;
      for (var k = 0; k < items.length; k++) {
        var s = spans[items[k]];
        if (s.end < tStart || s.start > tEnd) continue;
        var x0 = xOf(s.start), x1 = xOf(s.end), w = Math.max(1, x1 - x0);
        var h, yy;
        if (s.level === 0) {
          h = s.cat === "composition" ? 6 : 16; yy = y + (ROW_H - h) / 2;
        } else {
          h = Math.max(4, 10 - 3 * (s.level - 1)); yy = y + (ROW_H - h) / 2;
        }
        ctx.globalAlpha = s.level === 0 && s.cat === "process" ? (s.status === 2 ? 0.85 : 0.55) : 1;
        ctx.fillStyle = barColor(s);
        ctx.fillRect(x0, yy, w, h);
        ctx.globalAlpha = 1;
        if (s.cancelled) {
          ctx.setLineDash([3, 2]); ctx.strokeStyle = "#444"; ctx.strokeRect(x0 + 0.5, yy + 0.5, w - 1, h - 1);
          ctx.setLineDash([]);
        }
        if (items[k] === hover || items[k] === pinned) {
          ctx.strokeStyle = "#111"; ctx.lineWidth = 2; ctx.strokeRect(x0, yy, w, h); ctx.lineWidth = 1;
        }
        if (s.cat === "alt") {
          drawDiamond(x1, y + ROW_H / 2, 6, COLORS.alt);
          if (s.chosen && x1 + 8 > labelEnd && x1 + 120 < LABEL_W + pw) {
            var text = "→ " + s.chosen;
            ctx.fillStyle = COLORS.text; ctx.fillText(text, x1 + 8, y + ROW_H / 2);
            labelEnd = x1 + 12 + ctx.measureText(text).width;
          }
        }
        for (var e = 0; e < s.events.length; e++) {
          var ev = s.events[e];
          if (ev[0] === "timer.expired") drawTriangle(xOf(ev[1]), y + ROW_H / 2, 6, COLORS.timer);
          else if (ev[0] === "exception") {
            var ex = xOf(ev[1]);
            ctx.strokeStyle = COLORS.error; ctx.lineWidth = 2;
            ctx.beginPath(); ctx.moveTo(ex - 4, y + 5); ctx.lineTo(ex + 4, y + ROW_H - 5);
            ctx.moveTo(ex + 4, y + 5); ctx.lineTo(ex - 4, y + ROW_H - 5); ctx.stroke(); ctx.lineWidth = 1;
          }
        }
        if (s.level === 0 && s.cat === "process" && w > 60) {
          ctx.fillStyle = "#0b1b36"; ctx.textAlign = "right";
          ctx.fillText(fmtDur(s.end - s.start), Math.min(x1, LABEL_W + pw) - 4, y + ROW_H / 2);
          ctx.textAlign = "left";
        }
      }
      ctx.restore();
      // label column
      ctx.fillStyle = "#ffffff"; ctx.fillRect(0, y, LABEL_W, ROW_H);
      if (v % 2 === 0) { ctx.fillStyle = "#f7f8fa"; ctx.fillRect(0, y, LABEL_W, ROW_H); }
      var lx = 6 + row.depth * INDENT;
      if (childRows[r].length) {
        ctx.fillStyle = COLORS.muted;
        ctx.fillText(collapsed[r] ? "▸" : "▾", lx, y + ROW_H / 2);
      }
      var owner = row.span !== null ? spans[row.span] : null;
      ctx.fillStyle = owner && owner.status === 2 ? COLORS.error
        : owner && owner.cancelled ? COLORS.cancelled
        : row.kind === "process" ? COLORS.text : COLORS.muted;
      ctx.font = row.kind === "process" ? "12px system-ui, sans-serif" : "600 12px system-ui, sans-serif";
      var label = row.label + (collapsed[r] ? "  (+" + countHidden(r) + ")" : "");
      ctx.fillText(clip(label, LABEL_W - lx - 22), lx + 12, y + ROW_H / 2);
      ctx.font = "12px system-ui, sans-serif";
    }
    ctx.strokeStyle = "#d0d5dd"; ctx.beginPath(); ctx.moveTo(LABEL_W - 0.5, AXIS_H); ctx.lineTo(LABEL_W - 0.5, height);
    ctx.stroke();

    // message arrows (send end -> recv end)
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, pw + 10, height - AXIS_H); ctx.clip();
    ctx.strokeStyle = COLORS.arrow; ctx.fillStyle = COLORS.arrow;
    for (var a = 0; a < arrows.length; a++) {
      var snd = spans[arrows[a][0]], rcv = spans[arrows[a][1]];
      var ra = shownAs[snd.row], rb = shownAs[rcv.row];
      if (ra === rb) continue;
      var ya = yOfRow(ra) + ROW_H / 2, yb = yOfRow(rb) + ROW_H / 2;
      if ((ya < AXIS_H && yb < AXIS_H) || (ya > height && yb > height)) continue;
      var xa = xOf(snd.end), xb = xOf(rcv.end);
      if ((xa < LABEL_W && xb < LABEL_W) || (xa > width && xb > width)) continue;
      ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(xb, yb); ctx.stroke();
      var ang = Math.atan2(yb - ya, xb - xa);
      ctx.beginPath(); ctx.moveTo(xb, yb);
      ctx.lineTo(xb - 7 * Math.cos(ang - 0.45), yb - 7 * Math.sin(ang - 0.45));
      ctx.lineTo(xb - 7 * Math.cos(ang + 0.45), yb - 7 * Math.sin(ang + 0.45));
      ctx.closePath(); ctx.fill();
    }
    ctx.restore();

    // time axis
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, width, AXIS_H);
    ctx.strokeStyle = "#d0d5dd"; ctx.beginPath(); ctx.moveTo(0, AXIS_H - 0.5); ctx.lineTo(width, AXIS_H - 0.5);
    ctx.stroke();
    var step = niceStep((tEnd - tStart) / Math.max(1, pw / 110));
    ctx.fillStyle = COLORS.muted;
    for (var t = Math.ceil(tStart / step) * step; t <= tEnd; t += step) {
      var tx = xOf(t);
      ctx.strokeStyle = "#d0d5dd"; ctx.beginPath(); ctx.moveTo(tx, AXIS_H - 6); ctx.lineTo(tx, AXIS_H); ctx.stroke();
      ctx.strokeStyle = "rgba(208,213,221,0.35)"; ctx.beginPath(); ctx.moveTo(tx, AXIS_H); ctx.lineTo(tx, height);
      ctx.stroke();
      ctx.fillText(fmtDur(t), tx + 3, AXIS_H / 2);
    }
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, LABEL_W, AXIS_H);
    ctx.fillStyle = COLORS.muted;
    ctx.fillText(visible.length + " of " + rows.length + " lanes", 8, AXIS_H / 2);
  }

  function clip(text, px) {
    if (ctx.measureText(text).width <= px) return text;
    var lo = 0, hi = text.length;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, mid) + "…").width <= px) lo = mid; else hi = mid - 1;
    }
    return text.slice(0, lo) + "…";
  }

  function countHidden(r) {
    var n = 0, stack = childRows[r].slice();
    while (stack.length) { var c = stack.pop(); n++; Array.prototype.push.apply(stack, childRows[c]); }
    return n;
  }

  var pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }

  // --------------------------------------------------------------- hit testing
  function hit(mx, my) {
    if (my < AXIS_H || mx < LABEL_W) return -1;
    var v = Math.floor((my - AXIS_H + view.scrollY) / ROW_H);
    if (v < 0 || v >= visible.length) return -1;
    var items = rowItems[visible[v]], best = -1, bestLevel = -1, tol = 3;
    for (var k = 0; k < items.length; k++) {
      var s = spans[items[k]];
      var x0 = xOf(s.start) - tol, x1 = Math.max(xOf(s.end), xOf(s.start) + 1) + tol + (s.cat === "alt" ? 6 : 0);
      if (mx >= x0 && mx <= x1 && s.level >= bestLevel) { best = items[k]; bestLevel = s.level; }
    }
    return best;
  }

  // ------------------------------------------------------------ detail panel
  var panel = document.getElementById("details");
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function table(obj) {
    var t = el("table");
    Object.keys(obj).forEach(function (k) {
      var tr = el("tr"); tr.appendChild(el("td", "k", k));
      var v = obj[k]; tr.appendChild(el("td", "v", typeof v === "string" ? v : JSON.stringify(v)));
      t.appendChild(tr);
    });
    return t;
  }
  function showDetails(i) {
    panel.textContent = "";
    if (i < 0) {
      panel.appendChild(el("p", "empty", "Hover over or click a bar to see its details. Click a lane's ▸ to fold it."));
      return;
    }
    var s = spans[i];
    panel.setAttribute("data-span", s.id);
    panel.appendChild(el("h2", null, s.name));
    var badges = el("div");
    if (s.status === 2) badges.appendChild(el("span", "badge error", "failed"));
    if (s.cancelled) badges.appendChild(el("span", "badge cancelled", "cancelled" + (s.attrs["stbass.cancelled.by"] ? " by " + s.attrs["stbass.cancelled.by"] : "")));
    if (s.status === 1) badges.appendChild(el("span", "badge ok", "ok"));
    panel.appendChild(badges);
    if (s.attrs["stbass.failure.summary"]) panel.appendChild(el("div", "failure", s.attrs["stbass.failure.summary"]));
    else if (s.status === 2 && s.status_text) panel.appendChild(el("div", "failure", s.status_text));
    panel.appendChild(table({
      kind: s.kind, duration: fmtDur(s.end - s.start), start: "+" + fmtDur(s.start),
      span_id: s.id, parent: s.parent || "(root)", trace_id: s.trace
    }));
    if (Object.keys(s.attrs).length) { panel.appendChild(el("h3", null, "Attributes")); panel.appendChild(table(s.attrs)); }
    s.events.forEach(function (ev) {
      panel.appendChild(el("h3", null, "Event " + ev[0] + " at +" + fmtDur(ev[1])));
      var attrs = Object.assign({}, ev[2]);
      var stack = attrs["exception.stacktrace"];
      delete attrs["exception.stacktrace"];
      if (Object.keys(attrs).length) panel.appendChild(table(attrs));
      if (stack) panel.appendChild(el("pre", "traceback", stack));
    });
    s.links.forEach(function (j) {
      panel.appendChild(el("h3", null, "Linked span"));
      var a = el("a", null, spans[j].name + " (" + spans[j].id + ")");
      a.addEventListener("click", function () { focusSpan(j); });
      panel.appendChild(a);
    });
  }
  function focusSpan(i) {
    var s = spans[i], r = s.row, p = rows[r].parent;
    while (p !== null) { collapsed[p] = 0; p = rows[p].parent; }
    computeVisible();
    pinned = i;
    view.scrollY = visibleAt[r] * ROW_H - (height - AXIS_H) / 2;
    var span = view.end - view.start;
    if (s.start < view.start || s.end > view.end) {
      var mid = (s.start + s.end) / 2;
      view.start = mid - span / 2; view.end = mid + span / 2;
    }
    clampScroll(); showDetails(i); syncIndex(); redraw();
  }

  // ----------------------------------------------------------- interaction
  function zoom(factor, atX) {
    var t = tOf(atX === undefined ? LABEL_W + plotW() / 2 : atX);
    var span = (view.end - view.start) * factor;
    span = Math.min(Math.max(span, 1000), total * 20);
    var frac = (t - view.start) / (view.end - view.start);
    view.start = t - frac * span; view.end = view.start + span;
    redraw();
  }
  function pan(dxPx, dyPx) {
    var dt = dxPx / plotW() * (view.end - view.start);
    view.start += dt; view.end += dt; view.scrollY += dyPx; clampScroll(); redraw();
  }
  function reset() { view.start = -total * 0.01; view.end = total * 1.01; view.scrollY = 0; redraw(); }
  function setAll(v) {
    for (var i = 0; i < rows.length; i++) collapsed[i] = childRows[i].length ? v : 0;
    computeVisible(); clampScroll(); syncIndex(); redraw();
  }

  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var rect = canvas.getBoundingClientRect();
    if (ev.ctrlKey || ev.metaKey) zoom(Math.exp(ev.deltaY * 0.002), ev.clientX - rect.left);
    else if (ev.shiftKey) pan(ev.deltaY, 0);
    else pan(ev.deltaX, ev.deltaY);
  }, { passive: false });

  var drag = null;
  canvas.addEventListener("mousedown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, moved: false };
    canvas.classList.add("dragging");
  });
  window.addEventListener("mouseup", function (ev) {
    canvas.classList.remove("dragging");
    if (!drag) return;
    var wasDrag = drag.moved; drag = null;
    if (wasDrag) return;
    var rect = canvas.getBoundingClientRect(), mx = ev.clientX - rect.left, my = ev.clientY - rect.top;
    if (mx < 0 || my < 0 || mx > width || my > height) return;
    if (mx < LABEL_W && my >= AXIS_H) {
      var v = Math.floor((my - AXIS_H + view.scrollY) / ROW_H);
      if (v >= 0 && v < visible.length && childRows[visible[v]].length) {
        var r = visible[v]; collapsed[r] = collapsed[r] ? 0 : 1;
        computeVisible(); clampScroll(); syncIndex(); redraw();
      }
      return;
    }
    var i = hit(mx, my);
    pinned = i === pinned ? -1 : i;
    showDetails(pinned >= 0 ? pinned : hover);
    redraw();
  });
  window.addEventListener("mousemove", function (ev) {
    var rect = canvas.getBoundingClientRect();
    if (drag) {
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      if (drag.moved) { pan(-dx, -dy); drag.x = ev.clientX; drag.y = ev.clientY; }
      return;
    }
    var i = hit(ev.clientX - rect.left, ev.clientY - rect.top);
    if (i !== hover) { hover = i; if (pinned < 0) showDetails(i); redraw(); }
  });
  window.addEventListener("keydown", function (ev) {
    var k = ev.key;
    if (k === "+" || k === "=") zoom(0.7);
    else if (k === "-" || k === "_") zoom(1 / 0.7);
    else if (k === "0") reset();
    else if (k === "ArrowLeft" || k === "a") pan(-plotW() * 0.2, 0);
    else if (k === "ArrowRight" || k === "d") pan(plotW() * 0.2, 0);
    else if (k === "ArrowUp" || k === "w") pan(0, -ROW_H * 3);
    else if (k === "ArrowDown" || k === "s") pan(0, ROW_H * 3);
    else if (k === "Escape") { pinned = -1; showDetails(hover); redraw(); }
    else return;
    ev.preventDefault();
  });
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(0.6); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(1 / 0.6); });
  document.getElementById("zoom-reset").addEventListener("click", reset);
  document.getElementById("expand-all").addEventListener("click", function () { setAll(0); });
  document.getElementById("collapse-all").addEventListener("click", function () { setAll(1); });
  window.addEventListener("resize", function () { resize(); redraw(); });

  // ------------------------------------------------- DOM index (for tools/tests)
  var laneIndex = document.getElementById("lane-index");
  var laneEls = [];
  function buildIndex() {
    var frag = document.createDocumentFragment();
    rows.forEach(function (r, i) {
      var d = document.createElement("div");
      d.setAttribute("data-lane", r.id);
      d.setAttribute("data-kind", r.kind);
      d.setAttribute("data-depth", String(r.depth));
      if (r.parent !== null) d.setAttribute("data-parent-lane", rows[r.parent].id);
      var owner = r.span !== null ? spans[r.span] : null;
      d.setAttribute("data-status", owner && owner.status === 2 ? "error" : "ok");
      if (owner && owner.cancelled) d.setAttribute("data-cancelled", "true");
      d.textContent = r.label;
      laneEls.push(d); frag.appendChild(d);
    });
    laneIndex.appendChild(frag);
    var arrowIndex = document.getElementById("arrow-index");
    frag = document.createDocumentFragment();
    arrows.forEach(function (a) {
      var d = document.createElement("div");
      d.setAttribute("data-arrow", "");
      d.setAttribute("data-from", spans[a[0]].id);
      d.setAttribute("data-to", spans[a[1]].id);
      d.setAttribute("data-from-lane", rows[spans[a[0]].row].id);
      d.setAttribute("data-to-lane", rows[spans[a[1]].row].id);
      d.textContent = spans[a[0]].name + " → " + spans[a[1]].name;
      frag.appendChild(d);
    });
    arrowIndex.appendChild(frag);
    var markIndex = document.getElementById("marker-index");
    frag = document.createDocumentFragment();
    spans.forEach(function (s) {
      if (s.cat === "alt") {
        var d = document.createElement("div");
        d.setAttribute("data-marker", "alt"); d.setAttribute("data-span", s.id);
        d.textContent = s.name + " → " + (s.chosen || "?");
        frag.appendChild(d);
      }
      s.events.forEach(function (ev) {
        if (ev[0] === "timer.expired" || ev[0] === "exception") {
          var d2 = document.createElement("div");
          d2.setAttribute("data-marker", ev[0] === "exception" ? "exception" : "timer"); d2.setAttribute("data-span", s.id);
          d2.textContent = s.name + ": " + ev[0];
          frag.appendChild(d2);
        }
      });
    });
    markIndex.appendChild(frag);
  }
  function syncIndex() {
    for (var i = 0; i < laneEls.length; i++) {
      laneEls[i].setAttribute("data-visible", visibleAt[i] >= 0 ? "true" : "false");
      if (childRows[i].length) laneEls[i].setAttribute("data-collapsed", collapsed[i] ? "true" : "false");
    }
  }

  // -------------------------------------------------------------------- start
  computeVisible();
  buildIndex();
  syncIndex();
  resize();
  showDetails(-1);
  draw();
  document.body.setAttribute("data-render-ms", (performance.now() - t0).toFixed(1));
  document.body.setAttribute("data-ready", "true");
})();
