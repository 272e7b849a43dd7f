// The forecast chart of /regulator/forecast: an SVG drawn here from the JSON the server embedded
// in <script id="forecast-data"> (no library, nothing from the internet). The measure selector
// redraws without a reload; hovering or focusing a year shows its figures.
"use strict";

(function () {
  const el = document.getElementById("forecast-data");
  const box = document.getElementById("chart-forecast");
  if (!el || !box) return;
  const data = JSON.parse(el.textContent);
  const NS = "http://www.w3.org/2000/svg";
  const fmt = new Intl.NumberFormat(data.locale === "zh_CN" ? "zh-CN" : "en", { maximumFractionDigits: 2 });
  const readout = document.getElementById("forecast-readout");
  const select = document.getElementById("metric");
  const W = 860, H = 420, L = 72, R = 20, T = 20, B = 48;

  function node(name, attrs, parent) {
    const n = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    if (parent) parent.appendChild(n);
    return n;
  }

  function niceTop(v) {
    if (!(v > 0)) return 1;
    const e = Math.pow(10, Math.floor(Math.log10(v)));
    for (const s of [1, 2, 2.5, 5, 10]) if (s * e >= v) return s * e;
    return 10 * e;
  }

  function label(metric) {
    const m = data.metrics.find((x) => x.key === metric);
    return m ? m.label : metric;
  }

  function draw(metric) {
    const s = data.series[metric];
    if (!s) return;
    const years = data.years;
    const top = niceTop(Math.max(0, ...s.high, ...s.central));
    const x = (i) => L + ((W - L - R) * i) / Math.max(1, years.length - 1);
    const y = (v) => H - B - ((H - T - B) * v) / top;
    box.textContent = "";
    const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "presentation", "data-metric": metric }, box);
    for (let k = 0; k <= 5; k++) {
      const v = (top * k) / 5;
      node("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e7eb" }, svg);
      node("text", { x: L - 8, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#333" }, svg).textContent = fmt.format(v);
    }
    node("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#111" }, svg);
    const step = Math.max(1, Math.floor(years.length / 10));
    years.forEach((yr, i) => {
      if (i % step === 0 || i === years.length - 1) {
        node("text", { x: x(i), y: H - B + 18, "text-anchor": "middle", "font-size": 11, fill: "#333" }, svg).textContent = yr;
      }
    });
    const band = s.high.map((v, i) => `${x(i)},${y(v)}`).concat(s.low.map((v, i) => [i, v]).reverse().map(([i, v]) => `${x(i)},${y(v)}`));
    node("polygon", { points: band.join(" "), fill: "#1f6fb2", "fill-opacity": 0.18, class: "band" }, svg);
    node("polyline", { points: s.central.map((v, i) => `${x(i)},${y(v)}`).join(" "), fill: "none", stroke: "#1f6fb2", "stroke-width": 2.5, class: "central" }, svg);
    const show = (i) => {
      readout.textContent = `${years[i]}: ${label(metric)} ${fmt.format(s.central[i])} (${data.labels.band} ${fmt.format(s.low[i])}–${fmt.format(s.high[i])})`;
    };
    s.central.forEach((v, i) => {
      const dot = node("circle", { cx: x(i), cy: y(v), r: 4, fill: "#1f6fb2", tabindex: 0, class: "point", "data-year": years[i] }, svg);
      node("title", {}, dot).textContent = `${years[i]}: ${fmt.format(v)}`;
      dot.addEventListener("mouseenter", () => show(i));
      dot.addEventListener("focus", () => show(i));
    });
    const legend = node("g", { "font-size": 11, fill: "#333" }, svg);
    node("rect", { x: L + 10, y: H - 16, width: 14, height: 4, fill: "#1f6fb2" }, legend);
    node("text", { x: L + 30, y: H - 10 }, legend).textContent = `${data.labels.central}: ${label(metric)}`;
    node("rect", { x: L + 330, y: H - 20, width: 14, height: 10, fill: "#1f6fb2", "fill-opacity": 0.18 }, legend);
    node("text", { x: L + 350, y: H - 10 }, legend).textContent = data.labels.band;
    show(Math.min(years.length - 1, Math.max(0, years.indexOf(2030))));
    box.dataset.rendered = "true";
    box.dataset.metric = metric;
  }

  draw(data.metric);
  if (select) {
    select.addEventListener("change", () => {
      draw(select.value);
      const url = new URL(window.location.href);
      url.searchParams.set("metric", select.value);
      window.history.replaceState(null, "", url.toString());
    });
  }
})();
