// stbass trace viewer: draws the embedded trace on one <canvas>, painting only the
// rows and spans in view (spans are kept in typed arrays and found by binary search,
// so 100,000 spans stay smooth), with an overview strip of the whole run, search
// and deep links (#q=..., #span=<id>), next/previous failure, send/recv pairing and
// a replay of the run event by event, a DAG's dependency edges and deadlock markers.
// It keeps a hidden DOM index of lanes ([data-lane]), message arrows ([data-arrow]),
// markers ([data-marker]) and DAG edges ([data-edge]) for tools and tests. No network access, except polling its own server in `serve`'s live mode.
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (ev) {
    errors.push(String(ev.message || ev));
    document.body.setAttribute("data-errors", String(errors.length));
  });
  var T0 = performance.now();
  var body = document.body;
  var CATS = ["composition", "process", "send", "recv", "alt", "other"];
  var KINDS = ["INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
  var ROW_KINDS = ["composition", "process", "group", "orphans"];
  var C_COMP = 0, C_PROC = 1, C_SEND = 2, C_RECV = 3, C_ALT = 4;
  var F_CANCELLED = 4, F_PLUMBING = 8;
  var ROW_H = 22, AXIS_H = 26, LABEL_W = 270, INDENT = 12;
  var COLORS = {
    process: "#4f7ec9", composition: "#98a2b3", send: "#1b9e77", recv: "#7570b3",
    alt: "#e6862e", other: "#9aa4b2", error: "#d92d20", cancelled: "#8a8f98",
    timer: "#d4a000", arrow: "rgba(59,74,107,0.7)", text: "#1d2330", muted: "#667085",
    match: "#f5b400", select: "#e0338a", cursor: "#e6862e",
    edge: "rgba(13,148,136,0.8)", deadlock: "#b42318", deadlockLane: "rgba(217,45,32,0.13)"
  };

  // ------------------------------------------------------------------ model
  var meta, V, N, ids, nameI, cat, kindI, rowOf, level, start, end, status, flags, parentI, attrs;
  var traceOf, eventsOf, linksOf, extraOf, failures, arrows, partner, arrowOf;
  var dags, edgesIn, edgesOut, deadlocks, deadlockOf, hlRows = null, hlDeadlock = -1;
  var R, rowId, rowParent, rowDepth, rowKind, rowLabel, rowLabelIdx, rowSpan, childRows, rowGroups;
  var total = 1, idIndex = null;

  function decode(D) {
    meta = D.meta; V = D.values;
    var S = D.spans;
    N = meta.spans;
    ids = S.ids;
    nameI = S.name; attrs = S.attrs; parentI = S.parent;
    cat = new Uint8Array(N); kindI = new Uint8Array(N); rowOf = new Int32Array(N); level = new Uint8Array(N);
    start = new Float64Array(N); end = new Float64Array(N); status = new Uint8Array(N); flags = new Uint8Array(N);
    var t = 0;
    for (var i = 0; i < N; i++) {
      cat[i] = S.ck[i] >> 3; kindI[i] = S.ck[i] & 7; rowOf[i] = S.row[i]; level[i] = Math.min(255, S.level[i]);
      t += S.start[i]; start[i] = t; end[i] = t + S.dur[i];
      status[i] = S.st[i] & 3; flags[i] = S.st[i];
    }
    traceOf = S.trace || null;
    eventsOf = {}; linksOf = {}; extraOf = {};
    D.events.forEach(function (e) { (eventsOf[e[0]] = eventsOf[e[0]] || []).push(e); });
    D.links.forEach(function (l) { (linksOf[l[0]] = linksOf[l[0]] || []).push(l[1]); });
    D.extra.forEach(function (x) { (extraOf[x[0]] = extraOf[x[0]] || {})[x[1]] = V[x[2]]; });
    failures = D.failures;
    arrows = D.arrows;
    partner = new Int32Array(N).fill(-1); arrowOf = new Int32Array(N).fill(-1);
    arrows.forEach(function (a, k) { partner[a[0]] = a[1]; partner[a[1]] = a[0]; arrowOf[a[0]] = k; arrowOf[a[1]] = k; });
    // DAG dependency edges [dag span, dependency's span, dependent's span], grouped by DAG span
    // (drawn only for the DAGs in view); deadlocks [span, time, cycle, [in the cycle], [blocked]]
    dags = []; edgesIn = {}; edgesOut = {};
    var dagAt = {};
    (D.edges || []).forEach(function (e) {
      if (dagAt[e[0]] === undefined) { dagAt[e[0]] = dags.length; dags.push({ span: e[0], edges: [] }); }
      dags[dagAt[e[0]]].edges.push(e);
      (edgesIn[e[2]] = edgesIn[e[2]] || []).push(e[1]);
      (edgesOut[e[1]] = edgesOut[e[1]] || []).push(e[2]);
    });
    deadlocks = D.deadlocks || []; deadlockOf = {};
    deadlocks.forEach(function (d, k) { if (deadlockOf[d[0]] === undefined) deadlockOf[d[0]] = k; });
    hlRows = null; hlDeadlock = -1;
    var RR = D.rows;
    R = RR.id.length; rowId = RR.id; rowParent = RR.parent; rowDepth = RR.depth; rowKind = RR.kind;
    rowLabelIdx = RR.label;
    rowLabel = RR.label.map(function (k) { return String(V[k]); }); rowSpan = RR.span;
    childRows = []; for (var r = 0; r < R; r++) childRows.push([]);
    for (r = 0; r < R; r++) if (rowParent[r] >= 0) childRows[rowParent[r]].push(r);
    // per row, per nesting level: span indexes sorted by start (they already are) and the longest duration,
    // so the spans in a time window are found by binary search
    var byRow = []; for (r = 0; r < R; r++) byRow.push({});
    for (i = 0; i < N; i++) { var g = byRow[rowOf[i]]; (g[level[i]] = g[level[i]] || []).push(i); }
    rowGroups = byRow.map(function (g) {
      return Object.keys(g).map(Number).sort(function (a, b) { return a - b; }).map(function (lv) {
        var items = Int32Array.from(g[lv]), maxDur = 0;
        for (var k = 0; k < items.length; k++) maxDur = Math.max(maxDur, end[items[k]] - start[items[k]]);
        return { level: lv, items: items, maxDur: maxDur };
      });
    });
    total = Math.max(1, meta.wall_ns);
    idIndex = null;
    replaySteps = null;
  }

  function spanId(i) { return ids.substr(i * 16, 16); }
  function indexOfId(id) {
    if (!idIndex) { idIndex = new Map(); for (var i = 0; i < N; i++) idIndex.set(spanId(i), i); }
    var k = idIndex.get(String(id).toLowerCase());
    return k === undefined ? -1 : k;
  }
  function nameOf(i) { return String(V[nameI[i]]); }
  function attrsOf(i) {
    var o = {}, p = attrs[i];
    for (var k = 0; k < p.length; k += 2) o[V[p[k]]] = V[p[k + 1]];
    return o;
  }
  function isFailure(i) { return status[i] === 2 && (cat[i] === C_PROC || cat[i] === 5); }
  function hidden(i) { return (flags[i] & F_PLUMBING) && !showPlumbing; }

  // ------------------------------------------------------------ view state
  var collapsed, visible = [], visibleAt, shownAs;
  var view = { start: 0, end: 1, scrollY: 0 };
  var canvas = document.getElementById("canvas"), ctx = canvas.getContext("2d");
  var ov = document.getElementById("overview"), octx = ov.getContext("2d");
  var width = 0, height = 0, ovW = 0, dpr = window.devicePixelRatio || 1;
  var hover = -1, pinned = -1, showPlumbing = false;
  var query = "", match = null, matchRows = null, matchCount = 0, matchList = [], matchPos = -1;
  var failPos = -1, hatch = null;
  var replaySteps = null, replayPos = -1, replayTimer = null, cursorT = null;

  // a lane is shown when its parent is shown and unfolded and (while searching) it has a match;
  // shownAs[r] is the lane r is drawn in (its nearest shown ancestor when folded), -1 when filtered out
  function computeVisible() {
    visible = [];
    for (var i = 0; i < R; i++) {
      var p = rowParent[i];
      var show = (p < 0 || (shownAs[p] === p && !collapsed[p])) && (!matchRows || matchRows[i] === 1);
      if (show) { shownAs[i] = i; visibleAt[i] = visible.length; visible.push(i); }
      else { shownAs[i] = p >= 0 && (!matchRows || matchRows[i]) ? shownAs[p] : -1; visibleAt[i] = -1; }
    }
  }

  function resize() {
    var box = canvas.parentNode.getBoundingClientRect();
    width = Math.max(320, Math.floor(box.width));
    height = Math.max(200, Math.floor(box.height));
    canvas.width = Math.floor(width * dpr); canvas.height = Math.floor(height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ovW = Math.max(320, Math.floor(ov.getBoundingClientRect().width || width));
    ov.width = Math.floor(ovW * dpr); ov.height = Math.floor(36 * dpr);
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    histogram = null;
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

  // --------------------------------------------------------------- drawing
  function hatchPattern() {
    if (hatch) return hatch;
    var c = document.createElement("canvas"); c.width = 6; c.height = 6;
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
    var p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function barColor(i) {
    if (status[i] === 2) return COLORS.error;
    if (flags[i] & F_CANCELLED) return hatchPattern();
    return COLORS[CATS[cat[i]]] || COLORS.other;
  }
  function diamond(x, y, r, color) {
    ctx.fillStyle = color;
    ctx.beginPath(); ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y);
    ctx.closePath(); ctx.fill();
  }
  // a deadlock: a red disc with a white bar (a "no entry" sign), ringed when selected
  function noEntry(x, y, r, on) {
    if (on) { ctx.fillStyle = COLORS.select; ctx.beginPath(); ctx.arc(x, y, r + 3, 0, 2 * Math.PI); ctx.fill(); }
    ctx.fillStyle = COLORS.deadlock; ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fill();
    ctx.fillStyle = "#ffffff"; ctx.fillRect(x - r + 2.5, y - 1.5, 2 * r - 5, 3);
  }
  function triangle(x, y, r, color) {
    ctx.fillStyle = color;
    ctx.beginPath(); ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + r); ctx.lineTo(x - r, y + r);
    ctx.closePath(); ctx.fill();
  }
  // first index in `items` whose start is >= t
  function lowerBound(items, t) {
    var lo = 0, hi = items.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (start[items[mid]] < t) lo = mid + 1; else hi = mid; }
    return lo;
  }
  // calls fn(i) for each span of row r overlapping [t0, t1]
  function eachInView(r, t0, t1, fn) {
    var groups = rowGroups[r];
    for (var g = 0; g < groups.length; g++) {
      var G = groups[g], items = G.items;
      for (var k = lowerBound(items, t0 - G.maxDur); k < items.length; k++) {
        var i = items[k];
        if (start[i] > t1) break;
        if (end[i] < t0) continue;
        if (fn(i, G.level) === false) return;
      }
    }
  }

  function draw() {
    ctx.clearRect(0, 0, width, height);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    var first = Math.max(0, Math.floor(view.scrollY / ROW_H));
    var last = Math.min(visible.length - 1, Math.ceil((view.scrollY + height - AXIS_H) / ROW_H));
    var pw = plotW(), nsPerPx = (view.end - view.start) / pw;
    var tStart = view.start - 8 * nsPerPx, tEnd = view.end;
    var sel = pinned >= 0 ? pinned : -1, selPartner = sel >= 0 ? partner[sel] : -1;
    var drawn = 0;

    for (var v = first; v <= last; v++) {
      var r = visible[v], y = AXIS_H + v * ROW_H - view.scrollY;
      if (v % 2 === 0) { ctx.fillStyle = "#f7f8fa"; ctx.fillRect(0, y, width, ROW_H); }
      if (hlRows && hlRows[r]) { ctx.fillStyle = COLORS.deadlockLane; ctx.fillRect(LABEL_W, y, width, ROW_H); }
      ctx.save();
      ctx.beginPath(); ctx.rect(LABEL_W, y, pw + 10, ROW_H); ctx.clip();
      var labels = [];
      var lastPx = -1e9, lastLevel = -1, lastColor = null;
      eachInView(r, tStart, tEnd, function (i, lv) {
        if (hidden(i)) return;
        var x0 = xOf(start[i]), x1 = xOf(end[i]), w = Math.max(1, x1 - x0);
        var color = barColor(i);
        // many spans in one pixel column: paint the column once
        if (x1 - x0 < 1 && lv === lastLevel && color === lastColor && Math.floor(x0) <= lastPx &&
            i !== sel && i !== selPartner && i !== hover && !(match && match[i])) return;
        lastPx = Math.floor(x0 + w); lastLevel = lv; lastColor = color;
        drawn++;
        var h, c = cat[i];
        if (lv === 0) h = c === C_COMP ? 6 : 16; else h = Math.max(4, 10 - 3 * (lv - 1));
        var yy = y + (ROW_H - h) / 2;
        var dim = (match && !match[i]) || (cursorT !== null && start[i] > cursorT);
        ctx.globalAlpha = (lv === 0 && c === C_PROC ? (status[i] === 2 ? 0.85 : 0.55) : 1) * (dim ? 0.25 : 1);
        ctx.fillStyle = color;
        ctx.fillRect(x0, yy, w, h);
        ctx.globalAlpha = 1;
        if (flags[i] & F_CANCELLED) {
          ctx.setLineDash([3, 2]); ctx.strokeStyle = "#444"; ctx.strokeRect(x0 + 0.5, yy + 0.5, w - 1, h - 1);
          ctx.setLineDash([]);
        }
        if (match && match[i] && lv > 0) {
          ctx.strokeStyle = COLORS.match; ctx.lineWidth = 2; ctx.strokeRect(x0 - 1, yy - 1, w + 2, h + 2); ctx.lineWidth = 1;
        }
        if (i === sel || i === selPartner || i === hover) {
          ctx.strokeStyle = i === hover && i !== sel ? "#111" : COLORS.select; ctx.lineWidth = 2;
          ctx.strokeRect(x0 - 1, yy - 1, w + 2, h + 2); ctx.lineWidth = 1;
        }
        if (c === C_ALT) {
          diamond(x1, y + ROW_H / 2, 6, COLORS.alt);
          var ch = extraOf[i] && extraOf[i][1];
          if (ch) labels.push([x1 + 9, "→ " + ch, 1]);
        }
        var evs = eventsOf[i];
        if (evs) for (var e = 0; e < evs.length; e++) {
          var en = V[evs[e][1]], ex = xOf(evs[e][2]);
          if (en === "timer.expired") triangle(ex, y + ROW_H / 2, 6, COLORS.timer);
          else if (en === "exception") {
            ctx.strokeStyle = COLORS.error; ctx.lineWidth = 2;
            ctx.beginPath(); ctx.moveTo(ex - 4, y + 5); ctx.lineTo(ex + 4, y + ROW_H - 5);
            ctx.moveTo(ex + 4, y + 5); ctx.lineTo(ex - 4, y + ROW_H - 5); ctx.stroke(); ctx.lineWidth = 1;
          }
          else if (en === "deadlock") noEntry(ex, y + ROW_H / 2, 7, i === sel);
        }
        if (lv === 0 && c === C_PROC) labels.push([Math.min(x1, LABEL_W + pw) - 4, fmtDur(end[i] - start[i]), 0, x0]);
      });
      // labels: duration texts inside their bar (right-aligned), ALT choices right of the diamond;
      // a label is drawn only where it overlaps no other label (elided to the space left)
      labels.sort(function (a, b) { return a[0] - b[0]; });
      var taken = [];
      for (var l = 0; l < labels.length; l++) {
        var L = labels[l], tw = ctx.measureText(L[1]).width, lx0, lx1, text = L[1];
        if (L[2] === 0) { lx1 = L[0]; lx0 = lx1 - tw; if (lx0 < Math.max(L[3], LABEL_W) + 4) continue; }
        else { lx0 = L[0]; lx1 = lx0 + tw; }
        var clash = false;
        for (var q = 0; q < taken.length; q++) if (lx0 < taken[q][1] + 4 && lx1 > taken[q][0] - 4) { clash = true; break; }
        if (clash) continue;
        if (L[2] === 1) {
          var room = Infinity;  // up to the next ALT label on this lane
          if (l + 1 < labels.length) room = labels[l + 1][0] - lx0 - 14;
          room = Math.min(room, LABEL_W + pw - lx0);
          if (room < 24) continue;
          if (tw > room) { text = clip(text, room); tw = ctx.measureText(text).width; lx1 = lx0 + tw; }
        }
        ctx.fillStyle = "rgba(255,255,255,0.8)"; ctx.fillRect(lx0 - 2, y + 4, lx1 - lx0 + 4, ROW_H - 8);
        ctx.fillStyle = L[2] === 0 ? "#0b1b36" : COLORS.text;
        ctx.fillText(text, lx0, y + ROW_H / 2);
        taken.push([lx0, lx1]);
      }
      ctx.restore();
      drawLabel(r, v, y);
    }
    ctx.strokeStyle = "#d0d5dd"; ctx.beginPath(); ctx.moveTo(LABEL_W - 0.5, AXIS_H); ctx.lineTo(LABEL_W - 0.5, height);
    ctx.stroke();
    drawArrows(sel, pw);
    var edgesDrawn = dags.length ? drawEdges(sel, pw) : 0;
    drawAxis(pw);
    if (cursorT !== null) {
      var cx = xOf(cursorT);
      if (cx >= LABEL_W) {
        ctx.strokeStyle = COLORS.cursor; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.moveTo(cx, AXIS_H); ctx.lineTo(cx, height); ctx.stroke(); ctx.lineWidth = 1;
      }
    }
    drawOverview();
    body.setAttribute("data-drawn", String(drawn));
    if (dags.length) body.setAttribute("data-edges-drawn", String(edgesDrawn));
  }

  function drawLabel(r, v, y) {
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, y, LABEL_W, ROW_H);
    if (v % 2 === 0) { ctx.fillStyle = "#f7f8fa"; ctx.fillRect(0, y, LABEL_W, ROW_H); }
    var lx = 6 + rowDepth[r] * INDENT;
    if (lx > LABEL_W - 80) lx = LABEL_W - 80;
    if (childRows[r].length) {
      ctx.fillStyle = COLORS.muted; ctx.fillText(collapsed[r] ? "▸" : "▾", lx, y + ROW_H / 2);
    }
    var owner = rowSpan[r];
    ctx.fillStyle = owner >= 0 && status[owner] === 2 ? COLORS.error
      : owner >= 0 && (flags[owner] & F_CANCELLED) ? COLORS.cancelled
      : rowKind[r] === 1 ? COLORS.text : COLORS.muted;
    ctx.font = rowKind[r] === 1 ? "12px system-ui, sans-serif" : "600 12px system-ui, sans-serif";
    var label = rowLabel[r] + (collapsed[r] ? "  (+" + countHidden(r) + ")" : "");
    ctx.fillText(clip(label, LABEL_W - lx - 22), lx + 12, y + ROW_H / 2);
    ctx.font = "12px system-ui, sans-serif";
  }

  function drawArrows(sel, pw) {
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, pw + 10, height - AXIS_H); ctx.clip();
    var selArrow = sel >= 0 ? arrowOf[sel] : -1;
    for (var a = 0; a < arrows.length; a++) {
      var s = arrows[a][0], rc = arrows[a][1];
      if (hidden(s) || hidden(rc)) continue;
      if (cursorT !== null && end[rc] > cursorT && a !== selArrow) continue;
      var ra = shownAs[rowOf[s]], rb = shownAs[rowOf[rc]];
      if (ra < 0 || rb < 0 || ra === rb || visibleAt[ra] < 0 || visibleAt[rb] < 0) continue;
      var xa = xOf(end[s]), xb = xOf(end[rc]);
      if ((xa < LABEL_W && xb < LABEL_W) || (xa > width && xb > width)) continue;
      var ya = yOfRow(ra) + ROW_H / 2, yb = yOfRow(rb) + ROW_H / 2;
      if ((ya < AXIS_H && yb < AXIS_H) || (ya > height && yb > height)) continue;
      var on = a === selArrow;
      ctx.strokeStyle = ctx.fillStyle = on ? COLORS.select : COLORS.arrow;
      ctx.lineWidth = on ? 2.5 : 1;
      if (match && !(match[s] || match[rc]) && !on) ctx.globalAlpha = 0.2;
      ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(xb, yb); ctx.stroke();
      var ang = Math.atan2(yb - ya, xb - xa), hl = on ? 9 : 7;
      ctx.beginPath(); ctx.moveTo(xb, yb);
      ctx.lineTo(xb - hl * Math.cos(ang - 0.45), yb - hl * Math.sin(ang - 0.45));
      ctx.lineTo(xb - hl * Math.cos(ang + 0.45), yb - hl * Math.sin(ang + 0.45));
      ctx.closePath(); ctx.fill();
      ctx.globalAlpha = 1;
    }
    ctx.lineWidth = 1;
    ctx.restore();
  }

  // DAG dependency edges: a dashed teal arrow from the end of a dependency's span to the start of
  // the task that waited for it, for each DAG whose lane is shown and whose time is in view
  function drawEdges(sel, pw) {
    var n = 0;
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, pw + 10, height - AXIS_H); ctx.clip();
    ctx.setLineDash([5, 3]);
    for (var g = 0; g < dags.length; g++) {
      var dag = dags[g].span, dr = shownAs[rowOf[dag]];
      if (dr < 0 || visibleAt[dr] < 0 || end[dag] < view.start || start[dag] > view.end) continue;
      var E = dags[g].edges;
      for (var k = 0; k < E.length; k++) {
        var a = E[k][1], b = E[k][2];
        var ra = shownAs[rowOf[a]], rb = shownAs[rowOf[b]];
        if (ra < 0 || rb < 0 || ra === rb || visibleAt[ra] < 0 || visibleAt[rb] < 0) continue;
        if (cursorT !== null && start[b] > cursorT) continue;
        var xa = xOf(end[a]), xb = xOf(start[b]);
        if ((xa < LABEL_W && xb < LABEL_W) || (xa > width && xb > width)) continue;
        var ya = yOfRow(ra) + ROW_H / 2, yb = yOfRow(rb) + ROW_H / 2;
        if ((ya < AXIS_H && yb < AXIS_H) || (ya > height && yb > height)) continue;
        var on = sel >= 0 && (a === sel || b === sel || dag === sel);
        ctx.strokeStyle = ctx.fillStyle = on ? COLORS.select : COLORS.edge;
        ctx.lineWidth = on ? 2 : 1.25;
        if (match && !(match[a] || match[b]) && !on) ctx.globalAlpha = 0.2;
        // a short elbow: out of the dependency to the right, into the dependent from the left
        var mx = xb >= xa + 16 ? (xa + xb) / 2 : xa + 8;
        ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(mx, ya); ctx.lineTo(mx, yb); ctx.lineTo(xb, yb); ctx.stroke();
        var dir = xb >= mx ? 1 : -1, hl = on ? 8 : 6;
        ctx.setLineDash([]);
        ctx.beginPath(); ctx.moveTo(xb, yb); ctx.lineTo(xb - dir * hl, yb - hl * 0.55); ctx.lineTo(xb - dir * hl, yb + hl * 0.55);
        ctx.closePath(); ctx.fill();
        ctx.setLineDash([5, 3]);
        ctx.globalAlpha = 1;
        n++;
      }
    }
    ctx.setLineDash([]); ctx.lineWidth = 1;
    ctx.restore();
    return n;
  }

  function drawAxis(pw) {
    var tStart = view.start, tEnd = view.end;
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
      var tick = fmtDur(t);
      if (tx + 3 + ctx.measureText(tick).width <= width) ctx.fillText(tick, tx + 3, AXIS_H / 2);
    }
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, LABEL_W, AXIS_H);
    ctx.fillStyle = COLORS.muted;
    ctx.fillText(visible.length + " of " + R + " lanes", 8, AXIS_H / 2);
  }

  // overview strip: how many spans start in each pixel column of the whole run, failures in red,
  // the visible window marked
  var histogram = null;
  function ovX(t) { return 4 + (t - oStart()) / (oEnd() - oStart()) * (ovW - 8); }
  function ovT(x) { return oStart() + (x - 4) / (ovW - 8) * (oEnd() - oStart()); }
  function oStart() { return -total * 0.01; }
  function oEnd() { return total * 1.01; }
  function drawOverview() {
    var H = 36;
    octx.clearRect(0, 0, ovW, H);
    octx.fillStyle = "#f8f9fb"; octx.fillRect(0, 0, ovW, H);
    if (!histogram) {
      histogram = new Float32Array(ovW);
      for (var i = 0; i < N; i++) {
        if (cat[i] === C_COMP) continue;
        var b = Math.floor(ovX(start[i])); if (b >= 0 && b < ovW) histogram[b]++;
      }
      var mx = 0; for (var k = 0; k < ovW; k++) mx = Math.max(mx, histogram[k]);
      for (k = 0; k < ovW; k++) histogram[k] = histogram[k] ? Math.max(1, Math.sqrt(histogram[k] / mx) * (H - 8)) : 0;
    }
    octx.fillStyle = "#98a2b3";
    for (var x = 0; x < ovW; x++) if (histogram[x]) octx.fillRect(x, H - 2 - histogram[x], 1, histogram[x]);
    octx.fillStyle = COLORS.error;
    for (var f = 0; f < failures.length; f++) {
      var fi = failures[f], dl = deadlockOf[fi];  // a deadlock: when it was found
      octx.fillRect(Math.floor(ovX(dl === undefined ? end[fi] : deadlocks[dl][1])) - 1, 2, 2, H - 4);
    }
    if (cursorT !== null) { octx.fillStyle = COLORS.cursor; octx.fillRect(Math.floor(ovX(cursorT)), 0, 2, H); }
    var a = Math.max(0, ovX(view.start)), z = Math.min(ovW, ovX(view.end));
    octx.fillStyle = "rgba(29,35,48,0.12)";
    octx.fillRect(0, 0, a, H); octx.fillRect(z, 0, ovW - z, H);
    octx.strokeStyle = "#2f5fb3"; octx.lineWidth = 2;
    octx.strokeRect(a + 1, 1, Math.max(3, z - a - 2), H - 2); octx.lineWidth = 1;
    ov.setAttribute("data-window", (view.start / total).toFixed(4) + "," + (view.end / total).toFixed(4));
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

  // ----------------------------------------------------------- hit testing
  function hit(mx, my) {
    if (my < AXIS_H || mx < LABEL_W) return -1;
    var v = Math.floor((my - AXIS_H + view.scrollY) / ROW_H);
    if (v < 0 || v >= visible.length) return -1;
    var tol = 4 * (view.end - view.start) / plotW(), t = tOf(mx), best = -1, bestLevel = -1;
    eachInView(visible[v], t - tol - 6 * tol / 4, t + tol, function (i, lv) {
      if (hidden(i)) return;
      if (lv >= bestLevel) { best = i; bestLevel = lv; }
    });
    return best;
  }

  // ---------------------------------------------------------- detail panel
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
  function spanLink(j, prefix) {
    var a = el("a", null, (prefix || "") + nameOf(j) + " — " + rowLabel[rowOf[j]]);
    a.setAttribute("data-goto", spanId(j));
    a.addEventListener("click", function () { focusSpan(j); });
    return a;
  }
  // a link to a process span, named by its lane: "a", "worker[3]"
  function taskLink(j) {
    var a = el("a", null, rowLabel[rowOf[j]]);
    a.setAttribute("data-goto", spanId(j));
    a.addEventListener("click", function () { focusSpan(j); });
    return a;
  }
  function showDetails(i) {
    panel.textContent = "";
    if (i < 0) {
      panel.removeAttribute("data-span");
      panel.appendChild(el("p", "empty", "Hover over or click a bar to see its details; click a lane's ▾ to fold it. Keys: / search, n/p next/previous failure, . and , step through the run, space replays it."));
      return;
    }
    var a = attrsOf(i), x = extraOf[i] || {};
    panel.setAttribute("data-span", spanId(i));
    panel.appendChild(el("h2", null, nameOf(i)));
    var badges = el("div");
    if (status[i] === 2) badges.appendChild(el("span", "badge error", "failed"));
    if (flags[i] & F_CANCELLED) badges.appendChild(el("span", "badge cancelled", "cancelled" + (a["stbass.cancelled.by"] ? " by " + a["stbass.cancelled.by"] : "")));
    if (flags[i] & F_PLUMBING) badges.appendChild(el("span", "badge cancelled", "SEQ plumbing"));
    if (status[i] === 1) badges.appendChild(el("span", "badge ok", "ok"));
    panel.appendChild(badges);
    var dl = deadlockOf[i];
    if (dl !== undefined) {
      var D = deadlocks[dl];
      badges.appendChild(el("span", "badge error", "deadlock"));
      var box = el("div", "deadlock");
      box.setAttribute("data-deadlock", spanId(i));
      box.appendChild(el("b", null, "Deadlock at +" + fmtDur(D[1]) + ": "));
      box.appendChild(el("span", "cycle", String(V[D[2]])));
      panel.appendChild(box);
      if (D[3].length) {
        var inCycle = el("p", "cycle-processes");
        inCycle.appendChild(el("span", "k", "in the cycle: "));
        D[3].forEach(function (j, k) { if (k) inCycle.appendChild(document.createTextNode(", ")); inCycle.appendChild(taskLink(j)); });
        panel.appendChild(inCycle);
      }
    }
    if (a["stbass.failure.summary"]) panel.appendChild(el("div", "failure", a["stbass.failure.summary"]));
    else if (status[i] === 2 && x[0]) panel.appendChild(el("div", "failure", x[0]));
    if (partner[i] >= 0) {
      var p = el("p", "pair");
      p.appendChild(spanLink(partner[i], cat[i] === C_SEND ? "received by " : "sent by "));
      panel.appendChild(p);
    }
    [["after", edgesIn[i]], ["before", edgesOut[i]]].forEach(function (w) {
      if (!w[1]) return;
      var p2 = el("p", "deps");
      p2.setAttribute("data-" + w[0], w[1].map(spanId).join(","));
      p2.appendChild(el("span", "k", w[0] + ": "));
      w[1].forEach(function (j, k) { if (k) p2.appendChild(document.createTextNode(", ")); p2.appendChild(taskLink(j)); });
      panel.appendChild(p2);
    });
    var link = el("a", "deeplink", "link to this span");
    link.setAttribute("href", "#span=" + spanId(i));
    panel.appendChild(link);
    var par = parentI[i];
    panel.appendChild(table({
      kind: KINDS[kindI[i]], duration: fmtDur(end[i] - start[i]), start: "+" + fmtDur(start[i]),
      span_id: spanId(i), parent: par >= 0 ? spanId(par) : (x[2] ? x[2] + " (not in this trace)" : "(root)"),
      trace_id: meta.trace_ids[traceOf ? traceOf[i] : 0]
    }));
    if (Object.keys(a).length) { panel.appendChild(el("h3", null, "Attributes")); panel.appendChild(table(a)); }
    (eventsOf[i] || []).forEach(function (ev) {
      panel.appendChild(el("h3", null, "Event " + V[ev[1]] + " at +" + fmtDur(ev[2])));
      var ea = {};
      for (var k = 3; k < ev.length; k += 2) ea[V[ev[k]]] = V[ev[k + 1]];
      var stack = ea["exception.stacktrace"];
      delete ea["exception.stacktrace"];
      if (Object.keys(ea).length) panel.appendChild(table(ea));
      if (stack) panel.appendChild(el("pre", "traceback", stack));
    });
    (linksOf[i] || []).forEach(function (j) {
      if (j === partner[i]) return;
      panel.appendChild(el("h3", null, "Linked span"));
      panel.appendChild(spanLink(j));
    });
  }

  // the lanes of the processes in a deadlock's cycle, highlighted while its composition is selected
  function highlightDeadlock(i) {
    var dl = i >= 0 ? deadlockOf[i] : undefined;
    hlRows = null; hlDeadlock = -1;
    if (dl === undefined) { body.setAttribute("data-deadlock", ""); body.setAttribute("data-deadlock-lanes", ""); return; }
    hlDeadlock = dl; hlRows = new Uint8Array(R);
    var lanes = [];
    deadlocks[dl][3].forEach(function (j) { hlRows[rowOf[j]] = 1; lanes.push(rowId[rowOf[j]]); });
    body.setAttribute("data-deadlock", spanId(i));
    body.setAttribute("data-deadlock-lanes", lanes.join(","));
  }
  function select(i) {
    pinned = i;
    highlightDeadlock(i);
    body.setAttribute("data-pinned", i >= 0 ? spanId(i) : "");
    body.setAttribute("data-partner", i >= 0 && partner[i] >= 0 ? spanId(partner[i]) : "");
    showDetails(i >= 0 ? i : hover);
    setHash();
    redraw();
  }

  // bring span i into view (unfolding its lane), pin it
  function focusSpan(i, keepX) {
    if (i < 0 || i >= N) return;
    var r = rowOf[i], p = rowParent[r];
    while (p >= 0) { collapsed[p] = 0; p = rowParent[p]; }
    if (matchRows && !matchRows[r]) { setQuery(""); }
    computeVisible();
    if (visibleAt[r] >= 0) {
      var y = visibleAt[r] * ROW_H;
      if (y < view.scrollY || y > view.scrollY + height - AXIS_H - ROW_H) view.scrollY = y - (height - AXIS_H) / 2;
    }
    var span = view.end - view.start, d = end[i] - start[i];
    if (!keepX) {
      if (d > span * 0.9) { view.start = start[i] - d * 0.1; view.end = end[i] + d * 0.1; }
      else if (d / span * plotW() < 30) {  // too small to see: zoom until it is a fifth of the width
        var w = Math.max(d * 5, 5000), c = (start[i] + end[i]) / 2;
        view.start = c - w / 2; view.end = c + w / 2;
      }
      else if (start[i] < view.start || end[i] > view.end) {
        var mid = (start[i] + end[i]) / 2; view.start = mid - span / 2; view.end = mid + span / 2;
      }
    }
    clampScroll(); syncIndex(); select(i);
  }

  // ---------------------------------------------------------------- search
  var searchBox = document.getElementById("search");
  function setQuery(q) {
    query = q;
    if (searchBox.value !== q) searchBox.value = q;
    runSearch();
  }
  function runSearch() {
    var q = query.trim().toLowerCase();
    matchList = []; matchPos = -1;
    if (!q) { match = null; matchRows = null; matchCount = 0; }
    else {
      var eq = q.indexOf("="), kq = eq > 0 ? q.slice(0, eq).trim() : null, vq = eq > 0 ? q.slice(eq + 1).trim() : q;
      var vm = new Uint8Array(V.length), km = kq !== null ? new Uint8Array(V.length) : null;
      for (var k = 0; k < V.length; k++) {
        var s = typeof V[k] === "string" ? V[k] : JSON.stringify(V[k]);
        s = s.toLowerCase();
        if (s.indexOf(vq) >= 0) vm[k] = 1;
        if (km && s.indexOf(kq) >= 0) km[k] = 1;
      }
      match = new Uint8Array(N); matchRows = new Uint8Array(R); matchCount = 0;
      for (var i = 0; i < N; i++) {
        var hitIt = !km && vm[nameI[i]], pa = attrs[i];
        for (var j = 0; !hitIt && j < pa.length; j += 2) hitIt = km ? km[pa[j]] && vm[pa[j + 1]] : vm[pa[j + 1]];
        if (hitIt && !hidden(i)) { match[i] = 1; matchCount++; matchList.push(i); }
      }
      for (var r = 0; r < R; r++) if (!km && vm[rowLabelIdx[r]]) markRow(r);
      for (i = 0; i < N; i++) if (match[i]) markRow(rowOf[i]);
      // a lane whose owner matches shows its whole subtree
      for (r = 0; r < R; r++) if (rowSpan[r] >= 0 && match[rowSpan[r]]) markSubtree(r);
    }
    var mc = document.getElementById("match-count");
    mc.setAttribute("data-value", String(matchCount));
    mc.textContent = q ? matchCount + " match" + (matchCount === 1 ? "" : "es") : "";
    body.setAttribute("data-matches", String(matchCount));
    computeVisible(); clampScroll(); syncIndex(); setHash(); redraw();
  }
  function markRow(r) { while (r >= 0 && !matchRows[r]) { matchRows[r] = 1; r = rowParent[r]; } }
  function markSubtree(r) {
    var stack = [r];
    while (stack.length) { var c = stack.pop(); markRow(c); matchRows[c] = 1; Array.prototype.push.apply(stack, childRows[c]); }
  }
  function nextMatch(dir) {
    if (!matchList.length) return;
    matchPos = (matchPos + dir + matchList.length) % matchList.length;
    focusSpan(matchList[matchPos]);
  }

  // -------------------------------------------------------------- failures
  function nextFailure(dir) {
    if (!failures.length) return;
    failPos = failPos < 0 ? (dir > 0 ? 0 : failures.length - 1) : (failPos + dir + failures.length) % failures.length;
    body.setAttribute("data-failure-pos", String(failPos));
    focusSpan(failures[failPos]);
  }

  // ---------------------------------------------------------------- replay
  // the run event by event: each send and receive (when it completed), each ALT decision, each failure
  function buildSteps() {
    var steps = [];
    for (var i = 0; i < N; i++) {
      var c = cat[i];
      if (hidden(i)) continue;
      if (c === C_SEND) steps.push([end[i], i, "send"]);
      else if (c === C_RECV) steps.push([end[i], i, "receive"]);
      else if (c === C_ALT) steps.push([end[i], i, "ALT decision"]);
      else if (isFailure(i)) steps.push([end[i], i, "failure"]);
    }
    deadlocks.forEach(function (d) { steps.push([d[1], d[0], "deadlock"]); });
    steps.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    return steps;
  }
  function replayTo(pos) {
    if (!replaySteps) replaySteps = buildSteps();
    var n = replaySteps.length;
    if (!n) return;
    replayPos = Math.max(0, Math.min(n - 1, pos));
    var st = replaySteps[replayPos], i = st[1];
    cursorT = st[0];
    var span = view.end - view.start;
    if (cursorT < view.start + span * 0.05 || cursorT > view.end - span * 0.05) {
      view.start = cursorT - span * 0.3; view.end = view.start + span;
    }
    focusSpan(i, true);
    var what = st[2] + ": " + nameOf(i) + " in " + rowLabel[rowOf[i]];
    if (partner[i] >= 0) what += (cat[i] === C_SEND ? " → " : " ← ") + rowLabel[rowOf[partner[i]]];
    if (cat[i] === C_ALT && extraOf[i] && extraOf[i][1]) what += " → " + extraOf[i][1];
    if (st[2] === "deadlock") what += ": " + String(V[deadlocks[deadlockOf[i]][2]]);
    var status_ = document.getElementById("replay-status");
    status_.textContent = (replayPos + 1) + "/" + n + " · +" + fmtDur(cursorT) + " · " + what;
    body.setAttribute("data-replay-pos", String(replayPos));
    body.setAttribute("data-replay-total", String(n));
    body.setAttribute("data-replay-kind", st[2]);
  }
  function replayStop() {
    if (replayTimer !== null) { clearInterval(replayTimer); replayTimer = null; }
    document.getElementById("replay-play").textContent = "▶ Replay";
  }
  function replayToggle() {
    if (replayTimer !== null) { replayStop(); return; }
    if (!replaySteps) replaySteps = buildSteps();
    if (replayPos >= replaySteps.length - 1) replayPos = -1;
    document.getElementById("replay-play").textContent = "❚❚ Pause";
    replayTimer = setInterval(function () {
      if (replayPos >= replaySteps.length - 1) { replayStop(); return; }
      replayTo(replayPos + 1);
    }, 400);
  }

  // ------------------------------------------------------------ deep links
  var settingHash = false;
  function setHash() {
    var parts = [];
    if (query) parts.push("q=" + encodeURIComponent(query));
    if (pinned >= 0) parts.push("span=" + spanId(pinned));
    var h = parts.length ? "#" + parts.join("&") : "";
    if (h !== location.hash && !(h === "" && location.hash === "#")) {
      settingHash = true;
      history.replaceState(null, "", h || location.pathname + location.search);
      settingHash = false;
    }
  }
  function readHash() {
    var h = location.hash.replace(/^#/, ""), q = null, sp = null;
    h.split("&").forEach(function (kv) {
      var eq = kv.indexOf("=");
      if (eq < 0) return;
      var k = kv.slice(0, eq), v = decodeURIComponent(kv.slice(eq + 1).replace(/\+/g, " "));
      if (k === "q") q = v; else if (k === "span") sp = v;
    });
    if ((q || "") !== query) setQuery(q || "");  // the hash is the state: no q, no search
    if (sp !== null) { var i = indexOfId(sp); if (i >= 0) focusSpan(i); }
  }
  window.addEventListener("hashchange", function () { if (!settingHash) readHash(); });

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
  // the whole run, or while searching, the stretch of time the matches cover
  function fit() {
    var a = 0, z = total;
    if (matchList.length) {
      a = Infinity; z = -Infinity;
      for (var k = 0; k < matchList.length; k++) { a = Math.min(a, start[matchList[k]]); z = Math.max(z, end[matchList[k]]); }
    }
    var pad = Math.max(z - a, 1000) * 0.01;
    view.start = a - pad; view.end = z + pad; view.scrollY = 0; redraw();
  }
  function setAll(v) {
    for (var i = 0; i < R; i++) collapsed[i] = childRows[i].length ? v : 0;
    computeVisible(); clampScroll(); syncIndex(); redraw();
  }

  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var rect = canvas.getBoundingClientRect();
    if (ev.ctrlKey || ev.metaKey) zoom(Math.exp(ev.deltaY * 0.002), ev.clientX - rect.left);
    else if (ev.shiftKey) pan(ev.deltaY, 0);
    else pan(ev.deltaX, ev.deltaY);
  }, { passive: false });

  var drag = null, ovDrag = null;
  canvas.addEventListener("mousedown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, moved: false };
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("dblclick", function (ev) {  // zoom to the bar
    var rect = canvas.getBoundingClientRect(), i = hit(ev.clientX - rect.left, ev.clientY - rect.top);
    if (i < 0) return;
    var d = Math.max(end[i] - start[i], 1000);
    view.start = start[i] - d * 0.1; view.end = end[i] + d * 0.1;
    select(i);
  });
  // overview strip: a click centres the view there, a drag selects the time range to show
  function ovTime(ev) { return ovT(ev.clientX - ov.getBoundingClientRect().left); }
  ov.addEventListener("mousedown", function (ev) {
    ovDrag = { x: ev.clientX, t: ovTime(ev), brushed: false }; ev.preventDefault();
  });
  function ovMove(ev) {
    var t = ovTime(ev);
    if (Math.abs(ev.clientX - ovDrag.x) > 3) ovDrag.brushed = true;
    if (!ovDrag.brushed) return;
    view.start = Math.min(ovDrag.t, t); view.end = Math.max(ovDrag.t, t, view.start + 1000); redraw();
  }
  window.addEventListener("mouseup", function (ev) {
    if (ovDrag) {
      if (!ovDrag.brushed) {
        var t = ovTime(ev), span = view.end - view.start;
        view.start = t - span / 2; view.end = t + span / 2; redraw();
      }
      ovDrag = null;
    }
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
    select(i === pinned ? -1 : i);
  });
  window.addEventListener("mousemove", function (ev) {
    if (ovDrag) { ovMove(ev); return; }
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
    if (ev.target === searchBox) {
      if (ev.key === "Enter") { nextMatch(ev.shiftKey ? -1 : 1); ev.preventDefault(); }
      else if (ev.key === "Escape") { setQuery(""); searchBox.blur(); }
      return;
    }
    var k = ev.key;
    if (k === "+" || k === "=") zoom(0.7);
    else if (k === "-" || k === "_") zoom(1 / 0.7);
    else if (k === "0") fit();
    else if (k === "ArrowLeft" || k === "a") pan(-plotW() * 0.2, 0);
    else if (k === "ArrowRight" || k === "d") pan(plotW() * 0.2, 0);
    else if (k === "ArrowUp" || k === "w") pan(0, -ROW_H * 3);
    else if (k === "ArrowDown" || k === "s") pan(0, ROW_H * 3);
    else if (k === "n") nextFailure(1);
    else if (k === "p" || k === "N") nextFailure(-1);
    else if (k === ".") replayTo(replayPos + 1);
    else if (k === ",") replayTo(replayPos - 1);
    else if (k === " ") replayToggle();
    else if (k === "/") searchBox.focus();
    else if (k === "Escape") { replayStop(); cursorT = null; select(-1); }
    else return;
    ev.preventDefault();
  });
  function on(id, fn) { document.getElementById(id).addEventListener("click", fn); }
  on("zoom-in", function () { zoom(0.6); });
  on("zoom-out", function () { zoom(1 / 0.6); });
  on("zoom-reset", fit);
  on("expand-all", function () { setAll(0); });
  on("collapse-all", function () { setAll(1); });
  on("next-failure", function () { nextFailure(1); });
  on("prev-failure", function () { nextFailure(-1); });
  on("sum-failures", function () { nextFailure(1); });
  on("replay-step", function () { replayStop(); replayTo(replayPos + 1); });
  on("replay-back", function () { replayStop(); replayTo(replayPos - 1); });
  on("replay-play", replayToggle);
  document.getElementById("show-plumbing").addEventListener("change", function (ev) {
    showPlumbing = ev.target.checked; replaySteps = null; runSearch();
  });
  var searchTimer = null;
  searchBox.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { query = searchBox.value; runSearch(); }, 120);
  });
  window.addEventListener("resize", function () { resize(); redraw(); });
  if (window.ResizeObserver) {  // the header grows (replay status, live status): the timeline shrinks
    new ResizeObserver(function () {
      var box = canvas.parentNode.getBoundingClientRect();
      if (Math.floor(box.width) !== width || Math.floor(box.height) !== height) { resize(); redraw(); }
    }).observe(canvas.parentNode);
  }

  // --------------------------------------------- DOM index (for tools/tests)
  var laneEls = [];
  function buildIndex() {
    var laneIndex = document.getElementById("lane-index");
    laneIndex.textContent = ""; laneEls = [];
    var frag = document.createDocumentFragment();
    for (var r = 0; r < R; r++) {
      var d = document.createElement("div");
      d.setAttribute("data-lane", rowId[r]);
      d.setAttribute("data-kind", ROW_KINDS[rowKind[r]]);
      d.setAttribute("data-depth", String(rowDepth[r]));
      if (rowParent[r] >= 0) d.setAttribute("data-parent-lane", rowId[rowParent[r]]);
      var owner = rowSpan[r];
      d.setAttribute("data-status", owner >= 0 && status[owner] === 2 ? "error" : "ok");
      if (owner >= 0 && (flags[owner] & F_CANCELLED)) d.setAttribute("data-cancelled", "true");
      d.textContent = rowLabel[r];
      laneEls.push(d); frag.appendChild(d);
    }
    laneIndex.appendChild(frag);
    var arrowIndex = document.getElementById("arrow-index");
    arrowIndex.textContent = "";
    frag = document.createDocumentFragment();
    arrows.forEach(function (a) {
      var d = document.createElement("div");
      d.setAttribute("data-arrow", "");
      d.setAttribute("data-from", spanId(a[0]));
      d.setAttribute("data-to", spanId(a[1]));
      d.setAttribute("data-from-lane", rowId[rowOf[a[0]]]);
      d.setAttribute("data-to-lane", rowId[rowOf[a[1]]]);
      if (flags[a[0]] & F_PLUMBING) d.setAttribute("data-plumbing", "true");
      frag.appendChild(d);
    });
    arrowIndex.appendChild(frag);
    var markIndex = document.getElementById("marker-index");
    markIndex.textContent = "";
    frag = document.createDocumentFragment();
    for (var i = 0; i < N; i++) {
      if (cat[i] === C_ALT) {
        var d = document.createElement("div");
        d.setAttribute("data-marker", "alt"); d.setAttribute("data-span", spanId(i));
        d.textContent = nameOf(i) + " → " + ((extraOf[i] && extraOf[i][1]) || "?");
        frag.appendChild(d);
      }
      (eventsOf[i] || []).forEach(function (ev) {
        var en = V[ev[1]];
        if (en === "timer.expired" || en === "exception") {
          var d2 = document.createElement("div");
          d2.setAttribute("data-marker", en === "exception" ? "exception" : "timer"); d2.setAttribute("data-span", spanId(ev[0]));
          frag.appendChild(d2);
        }
      });
    }
    deadlocks.forEach(function (dk) {
      var d3 = document.createElement("div");
      d3.setAttribute("data-marker", "deadlock"); d3.setAttribute("data-span", spanId(dk[0]));
      d3.setAttribute("data-lane", rowId[rowOf[dk[0]]]);
      d3.setAttribute("data-cycle-lanes", dk[3].map(function (j) { return rowId[rowOf[j]]; }).join(","));
      d3.setAttribute("data-blocked", dk[4].map(spanId).join(","));
      d3.textContent = String(V[dk[2]]);
      frag.appendChild(d3);
    });
    markIndex.appendChild(frag);
    var edgeIndex = document.getElementById("edge-index");
    if (edgeIndex) {
      edgeIndex.textContent = "";
      frag = document.createDocumentFragment();
      dags.forEach(function (g) {
        g.edges.forEach(function (e) {
          var d4 = document.createElement("div");
          d4.setAttribute("data-edge", "");
          d4.setAttribute("data-dag", spanId(e[0]));
          d4.setAttribute("data-from", spanId(e[1])); d4.setAttribute("data-to", spanId(e[2]));
          d4.textContent = rowLabel[rowOf[e[1]]] + " -> " + rowLabel[rowOf[e[2]]];
          frag.appendChild(d4);
        });
      });
      edgeIndex.appendChild(frag);
    }
  }
  function syncIndex() {
    for (var i = 0; i < laneEls.length; i++) {
      laneEls[i].setAttribute("data-visible", visibleAt[i] >= 0 ? "true" : "false");
      if (childRows[i].length) laneEls[i].setAttribute("data-collapsed", collapsed[i] ? "true" : "false");
    }
    body.setAttribute("data-lanes-visible", String(visible.length));
  }

  // ----------------------------------------------------------------- start
  function setStat(id, value, text) {
    var e = document.getElementById(id);
    e.setAttribute("data-value", String(value));
    e.firstChild.textContent = text === undefined ? String(value) : text;
  }
  function load(D, keep) {
    var pinnedId = pinned >= 0 ? spanId(pinned) : null;
    var wasFit = !keep || (view.start <= 0 && view.end >= total);
    var folded = {};
    if (keep) for (var r = 0; r < R; r++) if (collapsed[r]) folded[rowId[r]] = 1;
    decode(D);
    collapsed = new Uint8Array(R); visibleAt = new Int32Array(R); shownAs = new Int32Array(R);
    if (keep) for (r = 0; r < R; r++) if (folded[rowId[r]]) collapsed[r] = 1;
    hover = -1; pinned = pinnedId ? indexOfId(pinnedId) : -1; cursorT = null; replayPos = -1; histogram = null;
    highlightDeadlock(pinned);
    if (wasFit) { view.start = -total * 0.01; view.end = total * 1.01; }
    match = null; matchRows = null;
    if (query) runSearch(); else computeVisible();
    var m = meta;
    setStat("sum-processes", m.processes); setStat("sum-messages", m.messages);
    setStat("sum-failures", m.failures); setStat("sum-cancelled", m.cancelled);
    setStat("sum-wall", m.wall_ns, fmtDur(m.wall_ns)); setStat("sum-spans", m.spans);
    document.getElementById("sum-failures").classList.toggle("bad", m.failures > 0);
    body.setAttribute("data-spans", String(N));
    body.setAttribute("data-failures", String(failures.length));
    body.setAttribute("data-edges", String(meta.edges || 0));
    body.setAttribute("data-deadlocks", String(deadlocks.length));
  }

  load(JSON.parse(document.getElementById("trace-data").textContent), false);
  resize();
  showDetails(-1);
  draw();
  body.setAttribute("data-first-frame-ms", (performance.now() - T0).toFixed(1));
  buildIndex();
  syncIndex();
  readHash();
  body.setAttribute("data-render-ms", (performance.now() - T0).toFixed(1));
  body.setAttribute("data-ready", "true");

  // ---------------------------------------------- live mode (stbass-trace serve)
  var liveEl = document.getElementById("live-config");
  if (liveEl) {
    var live = JSON.parse(liveEl.textContent), liveStatus = document.getElementById("live-status");
    var version = live.version;
    body.setAttribute("data-live-version", String(version));
    liveStatus.textContent = "live";
    var poll = function () {
      fetch(live.url + "?since=" + version, { cache: "no-store" }).then(function (res) {
        if (res.status === 304) return null;
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      }).then(function (msg) {
        liveStatus.textContent = "live";
        liveStatus.classList.remove("bad");
        if (msg && msg.data && msg.version > version) {
          version = msg.version;
          load(msg.data, true);
          buildIndex(); syncIndex(); redraw();
          document.title = meta.title;
          document.getElementById("title-text").textContent = meta.title;
          liveStatus.textContent = "live · updated " + new Date().toLocaleTimeString();
          body.setAttribute("data-live-version", String(version));
        }
      }).catch(function () {
        liveStatus.textContent = "server unreachable, retrying";
        liveStatus.classList.add("bad");
      }).then(function () { setTimeout(poll, live.interval); });
    };
    setTimeout(poll, live.interval);
  }
})();
