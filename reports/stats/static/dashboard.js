/* The manager dashboard's charts (Apache ECharts, vendored under static/vendor/), drawn from the
   same JSON API the page's tables come from. One colour rule everywhere: a rate at or above the
   target is good (green), below is red, nothing to count is grey. Clicking a 市县 on the map
   reloads the page filtered to it. No inline script or style: the page's CSP forbids both. */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root || !window.echarts) { return; }
  var cfg = JSON.parse(root.getAttribute("data-config"));
  var L = cfg.labels;
  var GOOD = "#2e7d32", POOR = "#c62828", NONE = "#cfd8dc", NEUTRAL = "#5c6bc0";

  function colour(rate) {
    if (rate === null || rate === undefined) { return NONE; }
    return rate >= cfg.target ? GOOD : POOR;
  }
  function pct(rate) { return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(2) + "%"; }
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }
  function query(params) {
    var search = new URLSearchParams();
    Object.keys(params).forEach(function (key) { if (params[key]) { search.set(key, params[key]); } });
    return search.toString();
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(url + ": " + r.status); }
      return r.json();
    });
  }
  function chart(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    var instance = echarts.init(el, null, { renderer: "canvas" });
    window.addEventListener("resize", function () { instance.resize(); });
    return instance;
  }
  function hide(id) {
    var el = document.getElementById(id);
    if (el) { el.classList.add("hidden"); }
  }
  function targetLine() {
    return {
      silent: true, symbol: "none",
      lineStyle: { color: "#37474f", type: "dashed" },
      label: { formatter: L.target + " " + pct(cfg.target) },
      data: [{ xAxis: cfg.target }]
    };
  }
  var period = { from: cfg.from, to: cfg.to };

  function drawMap() {
    var c = chart("map-chart");
    if (!c) { return; }
    var url = cfg.api + "?" + query({ from: cfg.from, to: cfg.to, group_by: "region" });
    Promise.all([getJSON(cfg.map), getJSON(url)]).then(function (answers) {
      echarts.registerMap("hainan", answers[0]);
      var byCode = {};
      answers[1].groups.forEach(function (g) { byCode[g.key] = g; });
      var data = Object.keys(cfg.regions).map(function (name) {
        var code = cfg.regions[name], g = byCode[code];
        var rate = g ? g.satisfaction_rate : null;
        var chosen = code === cfg.region;
        return {
          name: name, value: rate, code: code, valid: g ? g.valid : 0,
          itemStyle: { areaColor: colour(rate), borderColor: chosen ? "#000" : "#fff", borderWidth: chosen ? 3 : 1 },
          // 三沙's islands are specks: name it so it can be found and clicked.
          label: { show: code === "460300" }
        };
      });
      c.setOption({
        tooltip: {
          trigger: "item",
          formatter: function (p) {
            var d = p.data || {};
            return esc(p.name) + "<br>" + esc(L.satisfaction) + ": " + pct(d.value) + "<br>" + esc(L.ratings) + ": " + (d.valid || 0);
          }
        },
        series: [{
          type: "map", map: "hainan", selectedMode: false, data: data,
          // The main island and the Paracels (三沙's seat); the far southern reefs fall outside.
          boundingCoords: [[108.3, 20.3], [112.9, 15.7]],
          label: { show: false },
          emphasis: { label: { show: true }, itemStyle: { areaColor: "#ffb300" } }
        }]
      });
      c.on("click", function (p) {
        var code = cfg.regions[p.name];
        if (code) { window.location.assign(cfg.page + "?" + query({ from: cfg.from, to: cfg.to, trend: cfg.trend, region: code })); }
      });
      root.setAttribute("data-map-ready", "1");
    }).catch(function () { hide("map-chart"); });
  }

  function drawRanking() {
    var c = chart("rank-chart");
    if (!c) { return; }
    var url = cfg.api + "?" + query({ from: cfg.from, to: cfg.to, region: cfg.region, group_by: "department" });
    getJSON(url).then(function (body) {
      var groups = body.groups.filter(function (g) { return g.valid > 0; });
      groups.sort(function (a, b) { return a.satisfaction_rate - b.satisfaction_rate || b.valid - a.valid; });
      var el = document.getElementById("rank-chart");
      el.style.height = Math.max(240, groups.length * 44 + 60) + "px";  // CSSOM, allowed by the CSP
      c.resize();
      c.setOption({
        grid: { left: 8, right: 56, top: 24, bottom: 24, containLabel: true },
        tooltip: {
          trigger: "item",
          formatter: function (p) {
            var g = groups[p.dataIndex];
            return esc(g.label) + "<br>" + esc(L.satisfaction) + ": " + pct(g.satisfaction_rate) + "<br>" + esc(L.ratings) + ": " + g.valid;
          }
        },
        xAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
        yAxis: {
          type: "category", inverse: true, data: groups.map(function (g) { return g.label; }),
          axisLabel: { width: 230, overflow: "break", lineHeight: 16 }
        },
        series: [{
          type: "bar", barMaxWidth: 22,
          data: groups.map(function (g) { return { value: g.satisfaction_rate, itemStyle: { color: colour(g.satisfaction_rate) } }; }),
          label: { show: true, position: "right", formatter: function (p) { return pct(p.value); } },
          markLine: targetLine()
        }]
      });
    }).catch(function () { hide("rank-chart"); });
  }

  function drawTrend() {
    var c = chart("trend-chart");
    if (!c) { return; }
    getJSON(cfg.api + "?" + query({ from: cfg.from, to: cfg.to, region: cfg.region, group_by: cfg.trend })).then(function (body) {
      var line = targetLine();
      line.data = [{ yAxis: cfg.target }];
      c.setOption({
        grid: { left: 8, right: 24, top: 24, bottom: 24, containLabel: true },
        tooltip: { trigger: "axis", formatter: function (ps) { var p = ps[0]; return esc(p.name) + ": " + pct(p.value); } },
        xAxis: { type: "category", data: body.groups.map(function (g) { return g.label; }) },
        yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
        series: [{
          type: "line", lineStyle: { color: NEUTRAL },
          data: body.groups.map(function (g) { return { value: g.satisfaction_rate, itemStyle: { color: colour(g.satisfaction_rate) } }; }),
          symbolSize: 8, markLine: line
        }]
      });
    }).catch(function () { hide("trend-chart"); });
  }

  function drawChannels() {
    var c = chart("channel-chart");
    if (!c) { return; }
    getJSON(cfg.api + "?" + query({ from: cfg.from, to: cfg.to, region: cfg.region, group_by: "channel" })).then(function (body) {
      c.setOption({
        grid: { left: 8, right: 48, top: 16, bottom: 16, containLabel: true },
        tooltip: { trigger: "item", formatter: function (p) { return esc(p.name) + ": " + p.value; } },
        xAxis: { type: "value", min: 0 },
        yAxis: { type: "category", inverse: true, data: body.groups.map(function (g) { return g.label; }) },
        series: [{ type: "bar", barMaxWidth: 22, itemStyle: { color: NEUTRAL }, label: { show: true, position: "right" },
          data: body.groups.map(function (g) { return g.valid; }) }]
      });
    }).catch(function () { hide("channel-chart"); });
  }

  function drawFunnel() {
    var c = chart("funnel-chart");
    if (!c) { return; }
    getJSON(cfg.funnelApi + "?" + query({ from: cfg.from, to: cfg.to, region: cfg.region })).then(function (body) {
      var keys = ["bad", "followed_up", "confirmed", "rectifying", "accepted", "published"];
      var first = body.stages.bad || 0;
      c.setOption({
        grid: { left: 8, right: 96, top: 16, bottom: 16, containLabel: true },
        tooltip: { trigger: "item", formatter: function (p) { return esc(p.name) + ": " + p.value; } },
        xAxis: { type: "value", min: 0 },
        yAxis: { type: "category", inverse: true, data: L.stages },
        series: [{
          type: "bar", barMaxWidth: 26, itemStyle: { color: NEUTRAL },
          label: { show: true, position: "right", formatter: function (p) {
            return p.value + (first ? " (" + Math.round(p.value * 100 / first) + "%)" : "");
          } },
          data: keys.map(function (k) { return body.stages[k]; })
        }]
      });
    }).catch(function () { hide("funnel-chart"); });
  }

  if (cfg.scoped) {
    // A handler's API view is their department's KPIs and funnel: the tables carry the rest.
    hide("trend-chart");
    hide("channel-chart");
  } else {
    drawMap();
    drawRanking();
    drawTrend();
    drawChannels();
  }
  drawFunnel();
}());
