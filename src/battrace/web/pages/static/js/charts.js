// Charts of the regulator overview, drawn with the vendored Apache ECharts from the JSON the
// server embedded in <script id="chart-data">. The numbers are also in each chart's table view.
"use strict";

(function () {
  const el = document.getElementById("chart-data");
  if (!el || typeof echarts === "undefined") return;
  const data = JSON.parse(el.textContent);
  const charts = [];
  const fmt = new Intl.NumberFormat(data.locale === "zh_CN" ? "zh-CN" : "en");

  function draw(id, option) {
    const node = document.getElementById(id);
    if (!node) return null;
    const chart = echarts.init(node, null, { renderer: "canvas" });
    chart.setOption(option);
    node.dataset.rendered = "true";
    charts.push(chart);
    return chart;
  }

  // Sankey of battery flows.
  draw("chart-sankey", {
    tooltip: { trigger: "item" },
    series: [{
      type: "sankey", left: 8, right: 110, top: 10, bottom: 10, nodeGap: 14,
      emphasis: { focus: "adjacency" },
      lineStyle: { color: "gradient", curveness: 0.5, opacity: 0.45 },
      label: { color: "#1b1f23" },
      data: data.sankey.nodes, links: data.sankey.links,
    }],
  });

  // Monthly trends.
  draw("chart-trends", {
    tooltip: { trigger: "axis" },
    legend: { type: "scroll", bottom: 0 },
    grid: { left: 48, right: 16, top: 16, bottom: 56 },
    xAxis: { type: "category", data: data.trends.months },
    yAxis: { type: "value", minInterval: 1 },
    series: data.trends.series.map((s) => ({ name: s.name, type: "line", smooth: false, showSymbol: false, data: s.data })),
  });

  // Choropleth of China by province (GB/T 2260 code as the region name, local names shown).
  const mapNode = document.getElementById("chart-map");
  let mapChart = null;
  function mapOption(measure) {
    const values = data.map.values[measure].filter((v) => v.value !== null);
    const max = values.reduce((m, v) => Math.max(m, v.value), 0) || 1;
    const percent = !!data.map.percent[measure];
    return {
      tooltip: {
        trigger: "item",
        formatter: (p) => {
          const name = data.map.names[p.name] || p.name;
          const v = p.value;
          if (v === undefined || v === null || Number.isNaN(v)) return name + ": " + data.map.noData;
          return name + ": " + fmt.format(v) + (percent ? " %" : "");
        },
      },
      visualMap: {
        min: 0, max: percent ? 100 : max, left: 8, bottom: 8, calculable: true,
        inRange: { color: ["#e5f5e0", "#a1d99b", "#31a354", "#006d2c"] },
        text: [percent ? "100 %" : fmt.format(max), "0"],
      },
      series: [{
        type: "map", map: "china", nameProperty: "id", roam: false,
        label: { show: false },
        emphasis: { label: { show: true } },
        itemStyle: { areaColor: "#f2f2f2", borderColor: "#999" },
        data: values,
      }],
    };
  }
  if (mapNode) {
    fetch(mapNode.dataset.geo)
      .then((r) => r.json())
      .then((geo) => {
        echarts.registerMap("china", geo);
        mapChart = draw("chart-map", mapOption(data.map.measure));
      });
    const select = document.getElementById("measure");
    if (select) {
      select.addEventListener("change", () => {
        if (mapChart) mapChart.setOption(mapOption(select.value), { replaceMerge: ["series"] });
        const url = new URL(window.location.href);
        url.searchParams.set("measure", select.value);
        window.history.replaceState(null, "", url);
      });
    }
  }
  // Resize after the window settles. A chart caught mid-layout by a resize (seen with ECharts'
  // visual map while the viewport jumps, e.g. a full-page screenshot) keeps its previous size.
  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => charts.forEach((c) => {
      try { c.resize(); } catch (e) { console.warn("chart resize skipped:", e); }
    }), 150);
  });
})();
