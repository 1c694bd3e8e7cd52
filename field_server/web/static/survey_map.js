// The survey map: sites, trench outlines, GPS tracks and finds on a plain background (or the
// configured base tiles), with a scale. Every text from the data goes in by textContent: no
// field value is ever parsed as HTML.
(function () {
  "use strict";
  var container = document.getElementById("survey-map");
  var source = document.getElementById("survey-map-data");
  if (!container || !source || typeof L === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var labels = container.dataset;

  function materialColours() {
    var colours = {};
    document.querySelectorAll(".swatch[data-material]").forEach(function (swatch) {
      colours[swatch.dataset.material] = window.getComputedStyle(swatch).backgroundColor;
    });
    return colours;
  }

  function textOf(selector, code) {
    var node = document.querySelector("[" + selector + '="' + CSS.escape(code || "") + '"]');
    return node ? node.textContent : code || "";
  }

  function popup(rows, link) {
    var box = document.createElement("div");
    box.className = "map-popup";
    var list = document.createElement("dl");
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === "") {
        return;
      }
      var term = document.createElement("dt");
      term.textContent = row[0];
      var value = document.createElement("dd");
      value.textContent = String(row[1]);
      list.appendChild(term);
      list.appendChild(value);
    });
    box.appendChild(list);
    if (link) {
      var anchor = document.createElement("a");
      anchor.href = link;
      anchor.textContent = labels.labelOpen;
      box.appendChild(anchor);
    }
    return box;
  }

  var map = L.map(container, { preferCanvas: false });
  if (labels.tileUrl) {
    L.tileLayer(labels.tileUrl, { maxZoom: 20 }).addTo(map);
  }
  L.control.scale({ metric: true, imperial: false }).addTo(map);
  var colours = materialColours();
  var bounds = L.latLngBounds([]);

  var sites = L.geoJSON(data.sites, {
    style: { color: "#444", weight: 2, fill: false, dashArray: "6 4" },
    onEachFeature: function (feature, layer) {
      layer.bindPopup(popup([[labels.labelSite, feature.properties.code + " · " + feature.properties.name]]));
    },
  }).addTo(map);
  var trenches = L.geoJSON(data.trenches, {
    style: { color: "#8a4b00", weight: 1.5, fillOpacity: 0.08 },
    onEachFeature: function (feature, layer) {
      layer.bindPopup(popup([
        [labels.labelSite, feature.properties.site],
        [labels.labelTrench, feature.properties.trench],
      ]));
    },
  }).addTo(map);
  var tracks = L.geoJSON(data.tracks, {
    style: { color: "#0b5394", weight: 2, opacity: 0.7 },
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, { radius: 3, color: "#0b5394", weight: 1 });
    },
    onEachFeature: function (feature, layer) {
      layer.bindPopup(popup([[labels.labelTrack, feature.properties.name || feature.properties.kind]]));
    },
  }).addTo(map);
  var finds = L.geoJSON(data.finds, {
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, {
        radius: 6,
        color: "#222",
        weight: 1,
        fillColor: colours[feature.properties.material] || "#ffffff",
        fillOpacity: 0.9,
        className: "find-marker",
      });
    },
    onEachFeature: function (feature, layer) {
      var p = feature.properties;
      layer.bindPopup(popup([
        [labels.labelFindNumber, p.find_number],
        [labels.labelMaterial, textOf("data-material-label", p.material)],
        [labels.labelObjectName, p.object_name],
        [labels.labelStatus, textOf("data-status-label", p.status)],
      ], "/finds/" + encodeURIComponent(p.uuid)));
    },
  }).addTo(map);

  // the survey's own finds, trenches and tracks frame the view; an expedition's other sites
  // may lie tens of kilometres away, so they frame it only when the survey has nothing else
  [finds, trenches, tracks].forEach(function (layer) {
    if (layer.getLayers().length) {
      bounds.extend(layer.getBounds());
    }
  });
  if (!bounds.isValid() && sites.getLayers().length) {
    bounds.extend(sites.getBounds());
  }
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [20, 20], maxZoom: 19 });
  } else {
    map.setView([48.2, 67.8], 8);
  }
})();
