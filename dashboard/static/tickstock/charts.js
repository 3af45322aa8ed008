// Charts of the dashboard, drawn with the vendored uPlot from JSON embedded next to each chart element.
(function () {
  "use strict";
  const COLORS = ["#58a6ff", "#f0883e", "#3fb950", "#d2a8ff", "#ff7b72", "#e3b341", "#79c0ff", "#56d4dd",
    "#db61a2", "#a5d6ff"];
  const SEVERITY = { critical: "#f85149", warning: "#e3b341", info: "#58a6ff" };
  const AXIS = { stroke: "#7d8b99", grid: { stroke: "#263241", width: 1 }, ticks: { stroke: "#263241" } };
  // One clock: the user's (UTC unless they chose the exchange's time), as in the tables. Daily bars are
  // sessions (dates), drawn and labelled in UTC whatever the clock, as the tables show them.
  const ZONE = document.body.dataset.clock || "UTC";
  const fmtMinute = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}");
  const fmtDay = uPlot.fmtDate("{YYYY}-{MM}-{DD}");
  const fmtTick = { minute: uPlot.fmtDate("{HH}:{mm}"), day: uPlot.fmtDate("{MM}-{DD}") };

  // Axis ticks in the same 24-hour clock as the tables (uPlot's default is 12-hour).
  function timeAxis(tz, daily) {
    return { ...AXIS, values: (u, splits) => splits.map((v) => {
      const spanDays = (u.scales.x.max - u.scales.x.min) / 86400;
      return (daily || spanDays > 2 ? fmtTick.day : fmtTick.minute)(tz(v));
    }) };
  }

  function clockOf(daily) {
    const zone = daily ? "UTC" : ZONE;
    return (ts) => uPlot.tzDate(new Date(ts * 1e3), zone);
  }

  function data(el) {
    const script = document.getElementById(el.dataset.source);
    return script ? JSON.parse(script.textContent) : null;
  }

  function histogram(el, rows) {
    const x = rows.map((_, i) => i);
    return [{
      height: el.clientHeight || 150, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false, range: [-0.5, rows.length - 0.5] } },
      axes: [{ ...AXIS, values: (u, ticks) => ticks.map((t) => (rows[t] ? rows[t].label : "")),
        splits: () => x }, { ...AXIS, size: 40 }],
      series: [{}, { label: "symbols", fill: "#58a6ff99", stroke: "#58a6ff", paths: uPlot.paths.bars({ size: [0.7, 60] }),
        points: { show: false } }],
    }, [x, rows.map((r) => r.count)]];
  }

  function trend(el, d) {
    const x = d.days.map((day) => Date.parse(day + "T00:00:00Z") / 1000);
    const tz = clockOf(true);
    const kinds = Object.keys(d.types);
    const series = [{}].concat(kinds.map((kind, i) => ({
      label: kind, stroke: COLORS[i % COLORS.length], width: 1.5, scale: "n", points: { size: 4 },
    })));
    series[0] = { value: (u, v) => (v == null ? "—" : fmtDay(tz(v))) };
    series.push({ label: "mean score", stroke: "#e6edf3", width: 2, dash: [4, 3], scale: "score", spanGaps: true,
      points: { size: 6, fill: "#e6edf3" } });
    return [{
      height: el.clientHeight || 300, tzDate: tz, scales: { x: { time: true }, score: { range: [0, 100] } },
      axes: [timeAxis(tz, true), { ...AXIS, scale: "n", label: "anomalies", size: 50 },
        { ...AXIS, scale: "score", side: 1, grid: { show: false }, label: "score", size: 50 }],
      series: series,
    }, [x].concat(kinds.map((k) => d.types[k]), [d.score])];
  }

  function price(el, d) {
    const daily = d.interval === "1d";
    const tz = clockOf(daily);
    const byTime = new Map();
    d.markers.forEach((m) => { if (m.close !== null) byTime.set(m.t, m); });
    const marks = d.t.map((t) => (byTime.has(t) ? byTime.get(t).close : null));
    return [{
      height: el.clientHeight || 320, tzDate: tz, scales: { x: { time: true } },
      axes: [timeAxis(tz, daily), { ...AXIS, size: 60 }],
      // A null close is a missing bar: the line breaks there (spanGaps off), it is not drawn across the hole.
      series: [{ label: daily ? "session" : "time (" + (document.body.dataset.clockLabel || "UTC") + ")",
        value: (u, v) => (v == null ? "—" : (daily ? fmtDay : fmtMinute)(tz(v))) },
      { label: "close", stroke: "#58a6ff", width: 1.5, fill: "#58a6ff14", points: { show: false }, spanGaps: false },
      { label: "anomaly", stroke: "#f85149", paths: () => null, points: { show: false } }],
      hooks: { draw: [(u) => drawMarkers(u, d.t, byTime)] },
    }, [d.t, d.close, marks]];
  }

  function drawMarkers(u, times, byTime) {
    const ctx = u.ctx;
    ctx.save();
    times.forEach((t, i) => {
      const m = byTime.get(t);
      if (!m || u.data[1][i] === null) return;
      const cx = u.valToPos(t, "x", true);
      const cy = u.valToPos(u.data[1][i], "y", true);
      ctx.beginPath();
      ctx.fillStyle = SEVERITY[m.severity] || "#f85149";
      ctx.arc(cx, cy, 5 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.fill();
    });
    ctx.restore();
  }

  const KINDS = { histogram: histogram, trend: trend, price: price };

  function render(root) {
    (root || document).querySelectorAll(".chart[data-chart]").forEach((el) => {
      const d = data(el);
      if (!d || !KINDS[el.dataset.chart]) return;
      if (el._plot) el._plot.destroy();
      const [opts, rows] = KINDS[el.dataset.chart](el, d);
      opts.width = el.clientWidth || 600;
      el.style.height = "auto";
      el._plot = new uPlot(opts, rows, el);
    });
  }

  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => document.querySelectorAll(".chart").forEach((el) => {
      if (el._plot) el._plot.setSize({ width: el.clientWidth, height: el._plot.height });
    }), 150);
  });

  window.TickCharts = { render: render };
  document.addEventListener("DOMContentLoaded", () => render(document));
})();
