/* pytest-simperf dashboard: draws the embedded history on canvas elements; no library, no network.
 *
 * The data is the JSON in the script element with id "simperf-data" (history.dashboard_data).
 * When every chart is drawn the body gets data-rendered = number of charts, and each canvas gets
 * data-points = points drawn: the browser test reads both to know the page really drew.
 */
(function () {
  "use strict";

  var CLASS_COLOURS = { MINOR: "#d4a106", MAJOR: "#e8590c", CRITICAL: "#c92a2a" };
  var YEAR_COLOURS = ["#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#e64980", "#5c940d", "#364fc7"];
  var SLA_COLOUR = "#c92a2a";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "cls") node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function fmtSeconds(v) {
    if (v === null || v === undefined) return "–";
    if (v === 0) return "0";
    if (v < 0.001) return (v * 1e6).toPrecision(3) + " µs";
    if (v < 1) return (v * 1000).toPrecision(3) + " ms";
    if (v < 100) return v.toPrecision(3) + " s";
    return v.toFixed(0) + " s";
  }
  function fmtMb(v) {
    if (v === null || v === undefined) return "–";
    // three significant figures below 100 MB, so a 0.2 MB axis step keeps distinct labels
    return (v === 0 ? "0" : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)) + " MB";
  }
  function fmtPct(v) { return v === null || v === undefined ? "–" : (v > 0 ? "+" : "") + v.toFixed(1) + "%"; }
  function phaseKey(name, year) { return year === null || year === undefined ? name : name + "@" + year; }
  function shortTest(nodeid) { var i = nodeid.lastIndexOf("::"); return i >= 0 ? nodeid.slice(i + 2) : nodeid; }

  function niceStep(range, ticks) {
    var raw = range / Math.max(1, ticks);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var norm = raw / mag;
    var step = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    return step * mag;
  }

  /* The y range a chart shows: its data's, padded, so a 0.3 → 0.6 s step fills the chart
   * rather than sitting at the bottom of a 0–4 s axis. A limit (SLA) just above the data is
   * brought into view; one far away is noted in the caption instead (spec.note). */
  function yRange(ys, limit) {
    var lo = Math.min.apply(null, ys), hi = Math.max.apply(null, ys);
    var limitShown = false;
    if (limit && limit >= lo && limit <= hi + Math.max(hi - lo, 0.25 * hi)) {
      hi = Math.max(hi, limit);
      limitShown = true;
    }
    var span = hi - lo;
    var pad = span > 0 ? span * 0.08 : (Math.abs(hi) * 0.1 || 1);
    lo = Math.max(0, lo - pad);
    hi = hi + pad;
    var step = niceStep(hi - lo, 4);
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil(hi / step) * step;
    return { lo: lo, hi: hi, step: step, limitShown: limitShown };
  }

  /* A line chart: x is a number (run index or year), each series a list of [x, y, marker]. */
  function drawChart(canvas, spec) {
    var dpr = window.devicePixelRatio || 1;
    var cssW = canvas.clientWidth || 420, cssH = canvas.clientHeight || 190;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    var ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    var pad = { l: 62, r: 22, t: 12, b: 26 };
    var w = cssW - pad.l - pad.r, h = cssH - pad.t - pad.b;
    var xs = [], ys = [];
    spec.series.forEach(function (s) {
      s.points.forEach(function (p) { if (p[1] !== null && p[1] !== undefined) { xs.push(p[0]); ys.push(p[1]); } });
    });
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, cssW, cssH);
    if (!ys.length) {
      ctx.fillStyle = "#868e96";
      ctx.fillText("no figures recorded", pad.l + 10, pad.t + h / 2);
      canvas.setAttribute("data-points", "0");
      return 0;
    }
    var xMin = Math.min.apply(null, xs), xMax = Math.max.apply(null, xs);
    if (xMin === xMax) { xMin -= 1; xMax += 1; }
    var range = yRange(ys, spec.limit);
    var yMin = range.lo, yMax = range.hi, yStep = range.step;
    canvas.setAttribute("data-y-min", String(Number(yMin.toPrecision(12))));
    canvas.setAttribute("data-y-max", String(Number(yMax.toPrecision(12))));
    canvas.setAttribute("data-limit", !spec.limit ? "none" : range.limitShown ? "drawn" : "noted");
    if (spec.limit && !range.limitShown && spec.caption) {
      spec.caption.appendChild(el("span", { cls: "note", text: " · " + spec.limitName + " " + spec.fmt(spec.limit) +
        (spec.limit > yMax ? " is above" : " is below") + " this range (peak " + spec.fmt(Math.max.apply(null, ys)) + ", " +
        Math.round(Math.max.apply(null, ys) / spec.limit * 100) + "% of it)" }));
    }
    function X(v) { return pad.l + (v - xMin) / (xMax - xMin) * w; }
    function Y(v) { return pad.t + h - (v - yMin) / (yMax - yMin) * h; }

    // grid and y labels
    ctx.strokeStyle = "#e9ecef";
    ctx.fillStyle = "#495057";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (var gy = yMin; gy <= yMax + yStep * 1e-6; gy += yStep) {
      ctx.beginPath(); ctx.moveTo(pad.l, Y(gy)); ctx.lineTo(pad.l + w, Y(gy)); ctx.stroke();
      ctx.fillText(spec.fmt(gy), pad.l - 6, Y(gy));
    }
    // x labels: one per run (thinned to fit), full details on hover
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    var xStep = Math.max(1, Math.round(niceStep(xMax - xMin, Math.max(2, Math.floor(w / 70)))));
    for (var gx = Math.ceil(xMin / xStep) * xStep; gx <= xMax; gx += xStep) {
      ctx.fillText(spec.xLabel(gx), X(gx), pad.t + h + 6);
    }
    ctx.strokeStyle = "#adb5bd";
    ctx.beginPath(); ctx.moveTo(pad.l, pad.t); ctx.lineTo(pad.l, pad.t + h); ctx.lineTo(pad.l + w, pad.t + h); ctx.stroke();

    // step changes: a dotted vertical line where the level moved, one label per run
    var stepsAt = {};
    (spec.steps || []).forEach(function (st) { (stepsAt[st.x] = stepsAt[st.x] || []).push(st.change_pct); });
    Object.keys(stepsAt).forEach(function (x) {
      var changes = stepsAt[x], lo = Math.min.apply(null, changes), hi = Math.max.apply(null, changes);
      ctx.save();
      ctx.strokeStyle = "#7048e8"; ctx.setLineDash([2, 3]);
      ctx.beginPath(); ctx.moveTo(X(+x), pad.t); ctx.lineTo(X(+x), pad.t + h); ctx.stroke();
      var text = "step " + (lo === hi ? fmtPct(lo) : fmtPct(lo) + " to " + fmtPct(hi));
      var right = X(+x) + 3 + ctx.measureText(text).width > pad.l + w;  // keep it inside
      ctx.fillStyle = "#7048e8"; ctx.textAlign = right ? "right" : "left"; ctx.textBaseline = "top";
      ctx.fillText(text, X(+x) + (right ? -3 : 3), pad.t + 2);
      ctx.restore();
    });

    // the limit (SLA) line, when it is in range
    if (spec.limit && range.limitShown) {
      ctx.save();
      ctx.strokeStyle = SLA_COLOUR; ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(pad.l, Y(spec.limit)); ctx.lineTo(pad.l + w, Y(spec.limit)); ctx.stroke();
      // labelled on the left: the newest runs, where regressions show, are on the right
      ctx.fillStyle = SLA_COLOUR; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
      ctx.fillText(spec.limitName + " " + spec.fmt(spec.limit), pad.l + 4, Y(spec.limit) - 2);
      ctx.restore();
    }

    // lines, then points (squares for production runs), then markers on top
    var drawn = 0;
    spec.series.forEach(function (s) {
      ctx.strokeStyle = s.colour; ctx.fillStyle = s.colour; ctx.lineWidth = 1.8;
      ctx.beginPath();
      var started = false;
      s.points.forEach(function (p) {
        if (p[1] === null || p[1] === undefined) { started = false; return; }
        if (!started) { ctx.moveTo(X(p[0]), Y(p[1])); started = true; } else ctx.lineTo(X(p[0]), Y(p[1]));
        drawn += 1;
      });
      ctx.stroke();
      s.points.forEach(function (p) {
        if (p[1] === null || p[1] === undefined) return;
        var production = spec.isProduction && spec.isProduction(p[0]);
        if (production) {
          ctx.save(); ctx.fillStyle = "#fff"; ctx.lineWidth = 1.5;
          ctx.fillRect(X(p[0]) - 3.5, Y(p[1]) - 3.5, 7, 7); ctx.strokeRect(X(p[0]) - 3.5, Y(p[1]) - 3.5, 7, 7);
          ctx.restore();
        } else if (s.points.length < 40) {
          ctx.beginPath(); ctx.arc(X(p[0]), Y(p[1]), 2.2, 0, 2 * Math.PI); ctx.fill();
        }
      });
    });
    spec.series.forEach(function (s) {
      s.points.forEach(function (p) {
        if (p[1] === null || p[1] === undefined || !p[2]) return;
        var x = X(p[0]), y = Y(p[1]);
        if (p[2] === "plan") {  // a plan change: a diamond
          ctx.fillStyle = "#7048e8"; ctx.strokeStyle = "#fff"; ctx.lineWidth = 1;
          ctx.beginPath(); ctx.moveTo(x, y - 6); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 6); ctx.lineTo(x - 5, y); ctx.closePath();
          ctx.fill(); ctx.stroke();
          return;
        }
        ctx.fillStyle = CLASS_COLOURS[p[2]];
        ctx.strokeStyle = "#fff"; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(x, y - 7); ctx.lineTo(x - 5, y + 3); ctx.lineTo(x + 5, y + 3); ctx.closePath();
        ctx.fill(); ctx.stroke();
      });
    });
    canvas.setAttribute("data-points", String(drawn));
    attachTooltip(canvas, spec, X, Y);
    return drawn;
  }

  var tooltip = null;
  function attachTooltip(canvas, spec, X, Y) {
    canvas.addEventListener("mousemove", function (ev) {
      var rect = canvas.getBoundingClientRect();
      var mx = ev.clientX - rect.left, my = ev.clientY - rect.top;
      var best = null, bestD = 144;
      spec.series.forEach(function (s) {
        s.points.forEach(function (p) {
          if (p[1] === null || p[1] === undefined) return;
          var d = Math.pow(X(p[0]) - mx, 2) + Math.pow(Y(p[1]) - my, 2);
          if (d < bestD) { bestD = d; best = { s: s, p: p }; }
        });
      });
      if (!tooltip) { tooltip = el("div", { cls: "tooltip" }); document.body.appendChild(tooltip); }
      if (!best) { tooltip.style.display = "none"; return; }
      tooltip.textContent = best.s.name + " · " + spec.xLabel(best.p[0], true) + " · " + spec.fmt(best.p[1]) +
        (best.p[2] ? " · " + (best.p[2] === "plan" ? "plan changed" : best.p[2]) : "");
      tooltip.style.display = "block";
      tooltip.style.left = (ev.pageX + 12) + "px";
      tooltip.style.top = (ev.pageY + 12) + "px";
    });
    canvas.addEventListener("mouseleave", function () { if (tooltip) tooltip.style.display = "none"; });
  }

  function legend(items) {
    return el("div", { cls: "legend" }, items.map(function (it) {
      return el("span", null, [el("i", { style: "background:" + it.colour }), document.createTextNode(it.name)]);
    }));
  }

  /* Regression classes come as sparse [index, class] pairs: index them once per series. */
  function classAt(pairs, index) {
    if (!pairs.byIndex) {
      pairs.byIndex = {};
      pairs.forEach(function (p) { pairs.byIndex[p[0]] = p[1]; });
    }
    return pairs.byIndex[index] || null;
  }

  function classCell(value) {
    return el("td", { cls: value ? "cls cls-" + value : "", text: value || "–" });
  }

  var METRIC_TITLES = { cpu: "CPU time", wall: "Wall time", instructions: "Instructions", rows_scanned: "Rows scanned", intermediate_rows: "Intermediate rows", memory: "Peak allocation" };
  function fmtCount(v) {
    if (v === null || v === undefined) return "–";
    if (Math.abs(v) < 1e7) return Math.round(v).toLocaleString("en-US");
    if (Math.abs(v) < 1e10) return (v / 1e6).toPrecision(3) + "M";
    return (v / 1e9).toPrecision(3) + "G";
  }
  function fmtFor(metric) {
    if (metric === "instructions" || metric === "rows_scanned" || metric === "intermediate_rows") return fmtCount;
    if (metric === "memory") return fmtMb;
    return fmtSeconds;
  }
  /* The judged figure of a latest-run row; rows stored before it was named: CPU, else wall. */
  function judged(p) {
    if (p.metric) return { metric: p.metric, value: p.value, base: p.baseline_value, inferred: false };
    if (p.cpu_s !== null && p.cpu_s !== undefined && p.time_metric === "cpu") return { metric: "cpu", value: p.cpu_s, base: null, inferred: true };
    return { metric: "wall", value: p.median_s, base: p.baseline_median_s, inferred: true };
  }

  /* A memory change as the verdict saw it: a percentage where memory gave a class, MB where
   * the change was under the allocator-noise floor (a +7020% beside OK read as a contradiction). */
  function memChange(p) {
    var alloc = p.peak_alloc_mb !== null && p.peak_alloc_mb !== undefined;
    var now = alloc ? p.peak_alloc_mb : p.peak_rss_mb, base = alloc ? p.baseline_peak_alloc_mb : p.baseline_peak_rss_mb;
    var classed = p.memory_severity && p.memory_severity !== "OK";
    if (classed || now === null || now === undefined || base === null || base === undefined) return fmtPct(p.memory_change_pct);
    var d = now - base;
    return Math.abs(d) < 0.05 ? "0.0 MB" : (d > 0 ? "+" : "−") + Math.abs(d).toFixed(1) + " MB";
  }

  function main() {
    var data = JSON.parse(document.getElementById("simperf-data").textContent);
    var runs = data.runs;
    var root = document.getElementById("app");
    var latest = data.latest;
    var regs = latest.regressions || [];
    var phases = latest.phases || [];
    var breaches = phases.filter(function (p) { return p.sla_status === "SLA_BREACH"; }).length;
    // a run is labelled by its commit where that names it alone, else by its id's suffix
    var commits = {};
    runs.forEach(function (r) { if (r.commit) commits[r.commit] = (commits[r.commit] || 0) + 1; });
    function runLabel(i) {
      var r = runs[Math.round(i)];
      if (!r) return "";
      var label = r.commit && commits[r.commit] === 1 ? String(r.commit).slice(0, 7) : r.id.slice(-6);
      return (r.kind === "production" ? "P " : "") + label;
    }
    function runLong(i) {
      var r = runs[Math.round(i)];
      if (!r) return "";
      return (r.kind === "production" ? "production run " + (r.name ? r.name + " " : "") : "run ") + r.id +
        (r.commit ? " · commit " + String(r.commit).slice(0, 10) + (r.dirty ? " (dirty)" : "") : "") +
        " · " + r.t.slice(0, 16).replace("T", " ");
    }
    function xRun(i, long) { return long ? runLong(i) : runLabel(i); }
    function isProduction(i) { var r = runs[Math.round(i)]; return !!r && r.kind === "production"; }
    var productionRuns = runs.filter(function (r) { return r.kind === "production"; }).length;

    // summary cards
    var byClass = { CRITICAL: 0, MAJOR: 0, MINOR: 0 };
    regs.forEach(function (r) { byClass[r["class"]] = (byClass[r["class"]] || 0) + 1; });
    var run = latest.run;
    var first = data.components.length ? data.components[0] : null;
    var cards = [
      ["Runs", String(runs.length), (runs.length ? runs[0].t.slice(0, 10) + " → " + runs[runs.length - 1].t.slice(0, 10) : "") +
        (productionRuns ? " · " + productionRuns + " production" : "")],
      ["Latest run", run.run_id, (run.git_commit ? String(run.git_commit).slice(0, 10) + (run.git_dirty ? " (dirty)" : "") : "no commit") ],
      ["Regressions", String(regs.length), byClass.CRITICAL + " critical · " + byClass.MAJOR + " major · " + byClass.MINOR + " minor"],
      ["SLA breaches", String(breaches), phases.length + " phases in latest run"],
      ["Needs a look", first && first.attention.score > 0 ? first.phase : "nothing",
        first && first.attention.why ? first.attention.why + (first.attention.run !== undefined ? " since " + runLabel(first.attention.run) : "") :
        data.trends.degrading + " degrading · " + data.trends.steps + (data.trends.steps === 1 ? " step" : " steps")]
    ];
    root.appendChild(el("div", { cls: "cards" }, cards.map(function (c, i) {
      var bad = (i === 2 && regs.length) || (i === 3 && breaches) || (i === 4 && first && first.attention.score > 0);
      return el("div", { cls: "card" + (bad ? " bad" : "") }, [
        el("div", { cls: "label", text: c[0] }), el("div", { cls: "value", text: c[1] }), el("div", { cls: "sub", text: c[2] })
      ]);
    })));

    // latest run table: what needs attention first, the rest on demand
    var rank = { CRITICAL: 0, MAJOR: 1, MINOR: 2, NEW: 4, IMPROVED: 5, OK: 6 };
    var sorted = phases.slice().sort(function (a, b) {
      var ra = Math.min(rank[a.severity] === undefined ? 7 : rank[a.severity], a.sla_status === "SLA_BREACH" ? 3 : 9, rank[a.memory_severity] === undefined ? 9 : rank[a.memory_severity]);
      var rb = Math.min(rank[b.severity] === undefined ? 7 : rank[b.severity], b.sla_status === "SLA_BREACH" ? 3 : 9, rank[b.memory_severity] === undefined ? 9 : rank[b.memory_severity]);
      return ra - rb || (b.change_pct || 0) - (a.change_pct || 0);
    });
    var table = el("table", { cls: "latest", id: "latest-table" });
    table.appendChild(el("thead", null, [el("tr", null, ["Test", "Phase", "Metric", "Now", "Baseline", "Δ%", "Class", "SLA", "Used", "Wall", "Memory", "Δmem", "Mem class", "YoY"].map(function (h) { return el("th", { text: h }); }))]));
    var tbody = el("tbody");
    sorted.forEach(function (p, i) {
      var j = judged(p), f = fmtFor(j.metric);
      var mem = p.peak_alloc_mb !== null && p.peak_alloc_mb !== undefined ? p.peak_alloc_mb : p.peak_rss_mb;
      var tr = el("tr", i >= 12 ? { cls: "more" } : null, [
        el("td", { text: shortTest(p.nodeid), title: p.nodeid }),
        el("td", { text: phaseKey(p.phase, p.year) + (p.plan_changed ? " (plan changed)" : "") }),
        el("td", { cls: "metric", text: j.metric.replace("_", " ") + (j.inferred ? "*" : ""), title: j.inferred ? "recorded before the verdict named its metric" : "the figure the verdict judged" }),
        el("td", { cls: "num", text: f(j.value) }),
        el("td", { cls: "num", text: f(j.base) }),
        el("td", { cls: "num", text: fmtPct(p.change_pct) }),
        classCell(p.severity),
        el("td", { cls: "sla sla-" + (p.sla_status || "none"), text: p.sla_status ? p.sla_status.replace("SLA_", "").replace("_", " ") : "–" }),
        el("td", { cls: "num", text: p.sla_seconds ? Math.round(p.median_s / p.sla_seconds * 100) + "%" : "–" }),
        el("td", { cls: "num", text: fmtSeconds(p.median_s) }),
        el("td", { cls: "num", text: fmtMb(mem) }),
        el("td", { cls: "num", text: memChange(p) }),
        classCell(p.memory_severity),
        el("td", { cls: "num", text: fmtPct(p.yoy_change_pct) })
      ]);
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    var toggle = el("button", { type: "button", text: "show all " + phases.length + " phases" });
    toggle.addEventListener("click", function () {
      table.classList.toggle("expanded");
      toggle.textContent = table.classList.contains("expanded") ? "show fewer" : "show all " + phases.length + " phases";
    });
    root.appendChild(el("section", null, [
      el("h2", { text: "Latest run " + run.run_id + " · " + String(run.started_at || "").replace("T", " ") + (run.kind === "production" ? " · production" : "") }),
      table, phases.length > 12 ? toggle : null
    ]));

    // components: in the order the data gives, most urgent first (history.dashboard_data)
    var filter = el("input", { type: "search", placeholder: "filter components (test or phase)…", id: "filter" });
    var grid = el("div", { id: "components" });
    root.appendChild(el("section", null, [el("h2", { text: "Components across runs and simulation years" }), filter, grid]));
    var charts = 0;
    data.components.forEach(function (c) {
      var card = el("div", { cls: "component", "data-name": (c.nodeid + " " + c.phase).toLowerCase(), "data-attention": String(c.attention.score) });
      var badges = el("span", { cls: "badges" });
      if (c.attention.score > 0 && c.attention.why) {
        badges.appendChild(el("span", { cls: "badge attention", text: c.attention.why + (c.attention.run !== undefined ? " since " + runLabel(c.attention.run) : ""), title: c.attention.run !== undefined ? runLong(c.attention.run) : "" }));
      }
      c.series.forEach(function (s) {
        if (s.trend === "degrading" || s.trend === "improving") {
          badges.appendChild(el("span", { cls: "badge " + s.trend, text: (s.year === null ? "" : s.year + " ") + s.trend, title: s.trend_why || "" }));
        }
      });
      card.appendChild(el("h3", null, [el("span", { cls: "test", text: shortTest(c.nodeid) + " · ", title: c.nodeid }), el("span", { text: c.phase }), badges]));
      var row = el("div", { cls: "charts" });
      var colours = {};
      c.series.forEach(function (s, i) { colours[String(s.year)] = YEAR_COLOURS[i % YEAR_COLOURS.length]; });
      function perRun(list, field, marks) {
        return list.map(function (s) {
          return {
            name: s.year === null ? c.phase : String(s.year), colour: colours[String(s.year)],
            points: s.run.map(function (r, i) { return [r, s[field] ? s[field][i] : null, marks ? marks(s, i) : null]; })
          };
        });
      }
      function sevMark(s, i) { return classAt(s.sev, i) || (s.plan.indexOf(i) >= 0 ? "plan" : null); }
      // one chart per judged metric (a component's years normally share one)
      var groups = {}, order = [];
      c.series.forEach(function (s) {
        if (!groups[s.metric]) { groups[s.metric] = []; order.push(s.metric); }
        groups[s.metric].push(s);
      });
      var specs = [];
      order.forEach(function (metric) {
        var list = groups[metric];
        var steps = [];
        list.forEach(function (s) { if (s.step) steps.push({ x: s.step.run, change_pct: s.step.change_pct }); });
        var spec = { title: METRIC_TITLES[metric] + " per run (judged)", metric: metric, series: perRun(list, "v", sevMark), fmt: fmtFor(metric), xLabel: xRun, steps: steps, isProduction: isProduction };
        if (metric === "wall" && c.sla_s) { spec.limit = c.sla_s; spec.limitName = "SLA"; }
        else if (c.sla_s && (metric === "cpu")) spec.extra = "SLA " + fmtSeconds(c.sla_s) + " applies to wall time";
        specs.push(spec);
      });
      var alloc = c.series.every(function (s) { return s.mem_metric === "alloc"; });
      var memSpec = { title: alloc ? "Peak allocation per run" : "Peak RSS per run", series: perRun(c.series, "mem", function (s, i) { return classAt(s.msev, i); }), fmt: fmtMb, xLabel: xRun, isProduction: isProduction };
      if (c.sla_mb && alloc) { memSpec.limit = c.sla_mb; memSpec.limitName = "memory SLA"; }
      else if (c.sla_mb) memSpec.extra = "memory SLA " + fmtMb(c.sla_mb) + " limits allocation, not recorded in these runs";
      specs.push(memSpec);
      // plan changes: rows scanned, drawn when they moved; instruction counts where recorded
      var scanned = c.series.filter(function (s) {
        if (!s.scanned || s.metric === "rows_scanned") return false;
        var seen = {};
        s.scanned.forEach(function (v) { if (v !== null) seen[v] = true; });
        return Object.keys(seen).length > 1;
      });
      if (scanned.length) {
        specs.push({ title: "Rows scanned per run (plan changes ◆)", series: perRun(scanned, "scanned", function (s, i) { return s.plan.indexOf(i) >= 0 ? "plan" : null; }), fmt: fmtCount, xLabel: xRun, isProduction: isProduction });
      }
      var counted = c.series.filter(function (s) { return s.instr && s.metric !== "instructions"; });
      if (counted.length) {
        specs.push({ title: "Instructions per run", series: perRun(counted, "instr"), fmt: fmtCount, xLabel: xRun, isProduction: isProduction });
      }
      var withYears = c.series.filter(function (s) { return s.year !== null && s.metric === order[0]; });
      if (withYears.length > 1) {
        var lastRun = Math.max.apply(null, withYears.map(function (s) { return s.run[s.run.length - 1]; }));
        var firstRun = Math.min.apply(null, withYears.map(function (s) { return s.run[0]; }));
        function atRun(target) {
          return withYears.map(function (s) {
            var i = s.run.indexOf(target);
            return [s.year, i >= 0 ? s.v[i] : null, i >= 0 ? classAt(s.sev, i) : null];
          });
        }
        var yearSeries = [{ name: "latest run", colour: "#1c7ed6", points: atRun(lastRun) }];
        if (firstRun !== lastRun) yearSeries.push({ name: "first run shown", colour: "#adb5bd", points: atRun(firstRun).map(function (p) { return [p[0], p[1], null]; }) });
        specs.push({ title: METRIC_TITLES[order[0]] + " by simulation year", series: yearSeries, fmt: fmtFor(order[0]), xLabel: function (v) { return String(Math.round(v)); } });
      }
      specs.forEach(function (spec) {
        var canvas = el("canvas", { cls: "chart", "data-chart": spec.title, "data-metric": spec.metric || "" });
        var items = spec.series.map(function (s) { return { name: s.name, colour: s.colour }; });
        if (productionRuns && spec.isProduction) items.push({ name: "□ production run", colour: "transparent" });
        var caption = el("figcaption", { text: spec.title + (spec.extra ? " · " + spec.extra : "") });
        spec.caption = caption;
        row.appendChild(el("figure", null, [caption, canvas, legend(items)]));
        spec.canvas = canvas;
      });
      card.appendChild(row);
      grid.appendChild(card);
      specs.forEach(function (spec) { drawChart(spec.canvas, spec); charts += 1; });
    });
    filter.addEventListener("input", function () {
      var q = filter.value.toLowerCase();
      Array.prototype.forEach.call(grid.children, function (card) {
        card.style.display = card.getAttribute("data-name").indexOf(q) >= 0 ? "" : "none";
      });
    });
    // percentiles per kind of run, component and year, when the history has them
    var pct = data.percentiles;
    if (pct && pct.length) {
      var keys = Object.keys(pct[0]);
      var ptable = el("table", { cls: "latest", id: "percentiles" });
      ptable.appendChild(el("thead", null, [el("tr", null, keys.map(function (k) { return el("th", { text: k }); }))]));
      ptable.appendChild(el("tbody", null, pct.map(function (row) {
        return el("tr", null, keys.map(function (k) {
          var v = row[k];
          var text = typeof v === "number" ? (/^p\d+/.test(k) || /_s$/.test(k) ? fmtSeconds(v) : String(Math.round(v * 1000) / 1000)) : (v === null || v === undefined ? "–" : String(v));
          return el("td", { cls: typeof v === "number" ? "num" : "", text: text });
        }));
      })));
      var details = el("details", null, [el("summary", { text: "Percentiles across runs (p50 / p95 / p99), " + pct.length + " rows" + (productionRuns ? ", production and test runs apart" : "") }), ptable]);
      root.appendChild(el("section", { id: "percentiles-section" }, [details]));
    }

    document.body.setAttribute("data-rendered", String(charts));
  }

  try {
    main();
  } catch (err) {
    document.body.setAttribute("data-error", String(err && err.stack || err));
    var box = document.createElement("pre");
    box.className = "error";
    box.textContent = "dashboard failed to draw: " + err;
    document.body.appendChild(box);
  }
})();
