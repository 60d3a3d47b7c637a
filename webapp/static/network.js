/* Draws the network described by the JSON block on the page with vis-network (served by this app).
 * Large pictures keep their edge labels for hover, so that the first view stays readable. */
(function () {
  "use strict";
  var container = document.getElementById("network");
  var source = document.getElementById("network-data");
  if (!container || !source || typeof vis === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var labels = {};
  if (data.edgeLabelsOnHover) {
    data.edges.forEach(function (edge, index) {
      edge.id = edge.id || "edge-" + index;
      labels[edge.id] = edge.label;
      delete edge.label;
    });
  }
  var nodes = new vis.DataSet(data.nodes);
  var edges = new vis.DataSet(data.edges);
  var network = new vis.Network(container, { nodes: nodes, edges: edges }, data.options);
  network.once("stabilizationIterationsDone", function () {
    network.setOptions({ physics: false });
    network.fit();
    container.setAttribute("data-stabilized", "true");
  });
  if (data.edgeLabelsOnHover) {
    network.on("hoverEdge", function (params) { edges.update({ id: params.edge, label: labels[params.edge] }); });
    network.on("blurEdge", function (params) { edges.update({ id: params.edge, label: " " }); });
    network.on("hoverNode", function (params) {
      edges.update(network.getConnectedEdges(params.node).map(function (id) { return { id: id, label: labels[id] }; }));
    });
    network.on("blurNode", function (params) {
      edges.update(network.getConnectedEdges(params.node).map(function (id) { return { id: id, label: " " }; }));
    });
  }
  network.on("doubleClick", function (params) {
    if (params.nodes.length === 1) {
      var node = nodes.get(params.nodes[0]);
      // Node URLs are local paths made by the app; anything else is not followed.
      if (node && typeof node.url === "string" && node.url.charAt(0) === "/" && node.url.charAt(1) !== "/") {
        window.location.href = node.url;
      }
    }
  });
  window.migkgNetwork = network;
})();
