/* The command-centre map inside its Streamlit component frame.
 *
 * Owns: creating the Leaflet map ONCE (offline basemap, optional online tiles, legend,
 * layer control) and replacing the data of one situation layer in place when the page
 * sends a new payload for it (see emcomm/ui/layers.py for the payload shape). The map,
 * its zoom and every unchanged layer stay as they are. The only thing it ever sends back
 * is "I lack layer X" (after a reload of this frame); it never talks to the mesh.
 *
 * Test hooks (canvas layers have no DOM paths to count):
 *   window.emcCount(cls)     features on the map whose className contains the token cls
 *   window.emcReceived[name] how many payloads of that layer this frame has drawn
 *   body[data-emc-drawn]     features drawn by the latest update, set in the animation
 *                            frame after Leaflet drew them; body[data-emc-render] counts updates
 */
(function () {
  "use strict";
  var map = null, control = null, legendDiv = null, legendHtml = null;
  var groups = {}, have = {}, renderers = {};
  var loading = null, latest = null;
  var renderNo = 0;
  var PANES = {Hazards: 410, Links: 420, Routes: 430, Nodes: 440};
  window.emcReceived = {};

  function send(type, data) {
    window.parent.postMessage(Object.assign({isStreamlitMessage: true, type: type}, data || {}), "*");
  }

  function loadLeaflet(base) {
    if (loading) return loading;
    loading = new Promise(function (resolve, reject) {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = base + "/vendor/leaflet/leaflet.css";
      document.head.appendChild(css);
      var s = document.createElement("script");
      s.src = base + "/vendor/leaflet/leaflet.js";
      s.onload = resolve;
      s.onerror = function () { reject(new Error("Leaflet could not be loaded from " + s.src)); };
      document.head.appendChild(s);
    });
    return loading;
  }

  function createMap(b) {
    var div = document.getElementById("emc-map");
    div.style.height = b.height_px + "px";
    map = L.map(div, {zoomControl: true});
    window.emcMap = map;
    if (b.bounds) { map.fitBounds(b.bounds, {padding: [24, 24]}); } else { map.setView(b.center, b.zoom); }
    L.control.scale().addTo(map);
    map.createPane("emcBasemap").style.zIndex = 250;
    Object.keys(PANES).forEach(function (name) { map.createPane("emc" + name).style.zIndex = PANES[name]; });
    var basemap = L.geoJSON(null, {
      pane: "emcBasemap", interactive: false, attribution: b.attribution,
      style: function () { return {color: "#94a3b8", weight: 0.8, fillColor: "#f1f5f9", fillOpacity: 1, className: "emc-basemap"}; }
    });
    var bases = {};
    bases[b.basemap_label] = basemap;
    basemap.addTo(map);
    if (b.basemap_url) {
      fetch(b.basemap_url).then(function (r) { return r.json(); })
        .then(function (d) { basemap.addData(d); })
        .catch(function (e) { console.warn("offline basemap not loaded", e); });
    }
    if (b.online_tiles) {
      bases["Online tiles (needs internet)"] = L.tileLayer(b.online_tiles, {
        maxZoom: 19, attribution: "&copy; OpenStreetMap contributors"});
    }
    control = L.control.layers(bases, {}, {collapsed: true}).addTo(map);
    var legend = L.control({position: "bottomright"});
    legend.onAdd = function () {
      legendDiv = L.DomUtil.create("div", "emc-legend");
      legendDiv.id = "emc-legend";
      legendDiv.style.cssText = "background:rgba(255,255,255,.92);padding:4px 8px;font:11px/1.3 sans-serif;" +
        "border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);max-height:45vh;overflow:auto";
      L.DomEvent.disableClickPropagation(legendDiv);
      return legendDiv;
    };
    legend.addTo(map);
    send("streamlit:setFrameHeight", {height: b.height_px + 8});
  }

  function setLegend(html) {
    if (html === legendHtml) return;
    legendHtml = html;
    legendDiv.innerHTML = "<details open><summary style='cursor:pointer;font-weight:bold'>Legend</summary>" + html + "</details>";
  }

  function renderer(spec) {  // one renderer (one canvas or one SVG) per pane
    var pane = "emc" + spec.pane;
    if (!renderers[pane]) { renderers[pane] = spec.canvas ? L.canvas({pane: pane, padding: 0.5}) : L.svg({pane: pane}); }
    return renderers[pane];
  }

  function group(spec) {
    var g = groups[spec.name];
    if (g) return g;
    g = L.featureGroup();
    // one tooltip and one popup for the whole layer, filled from the feature under the pointer
    g.bindTooltip(function (l) { return l.options.emcTip || ""; }, {sticky: true});
    g.addTo(map);
    control.addOverlay(g, spec.label || spec.name);
    groups[spec.name] = g;
    return g;
  }

  function draw(spec, data) {
    var g = group(spec), r = renderer(spec), pane = "emc" + spec.pane;
    var styles = data.styles, rows = data.rows, anyPopup = false;
    g.clearLayers();
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var o = Object.assign({}, styles[row[2]], {renderer: r, pane: pane, emcTip: row[3], emcPop: row[4]});
      var layer;
      if (row[0] === "p") { layer = L.circleMarker(row[1], o); }
      else if (row[0] === "c") { o.radius = row[5]; layer = L.circle(row[1], o); }
      else if (row[0] === "l") { layer = L.polyline(row[1], o); }
      else { layer = L.polygon(row[1], o); }
      if (row[4]) anyPopup = true;
      g.addLayer(layer);
    }
    if (anyPopup && !g.getPopup()) {
      g.bindPopup(function (l) { return l.options.emcPop || ""; }, {maxWidth: 340});
    }
    have[spec.name] = spec.h;
    window.emcReceived[spec.name] = (window.emcReceived[spec.name] || 0) + 1;
    return rows.length;
  }

  function apply(args) {
    if (!map) { createMap(args.base); }
    setLegend(args.base.legend_html);
    var need = [], drawn = 0, listed = {};
    (args.layers || []).forEach(function (spec) { listed[spec.name] = true; });
    Object.keys(groups).forEach(function (name) {  // a layer no longer listed (e.g. a link kind gone)
      if (listed[name]) return;
      map.removeLayer(groups[name]);
      control.removeLayer(groups[name]);
      delete groups[name];
      delete have[name];
    });
    (args.layers || []).forEach(function (spec) {
      var fresh = have[spec.name] !== spec.h;
      // the page may deliver the same payload twice (a re-render of this frame): draw it once
      if (spec.d !== null && spec.d !== undefined) { if (fresh) drawn += draw(spec, JSON.parse(spec.d)); }
      else if (fresh) { need.push(spec.name); }
    });
    if (need.length) {  // this frame was reloaded: ask the page for the layers it lacks
      send("streamlit:setComponentValue", {value: {need: need, n: Date.now() + Math.random()}, dataType: "json"});
    }
    var no = ++renderNo;
    // Leaflet draws canvas layers in an animation frame requested while adding them; this
    // callback is requested later, so it runs after that drawing
    requestAnimationFrame(function () {
      document.body.setAttribute("data-emc-drawn", String(drawn));
      document.body.setAttribute("data-emc-render", String(no));
    });
  }

  window.emcCount = function (cls) {
    var n = 0;
    Object.keys(groups).forEach(function (name) {
      var g = groups[name];
      if (!map.hasLayer(g)) return;
      g.eachLayer(function (l) {
        if ((" " + (l.options.className || "") + " ").indexOf(" " + cls + " ") >= 0) n++;
      });
    });
    return n;
  };

  function onRender(args) {
    latest = args;
    loadLeaflet(args.base.assets).then(function () {
      if (latest) { var a = latest; latest = null; apply(a); }
    }, function (e) {
      document.getElementById("emc-map").textContent = "The map cannot be drawn: " + e.message;
    });
  }

  window.addEventListener("message", function (ev) {
    if (ev.data && ev.data.type === "streamlit:render") { onRender(ev.data.args || {}); }
  });
  send("streamlit:componentReady", {apiVersion: 1});
})();
