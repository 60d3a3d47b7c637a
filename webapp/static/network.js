/* Draws the network described by the JSON block on the page with vis-network (served by this app). */
(function () {
  "use strict";
  var container = document.getElementById("network");
  var source = document.getElementById("network-data");
  if (!container || !source || typeof vis === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var nodes = new vis.DataSet(data.nodes);
  var edges = new vis.DataSet(data.edges);
  var network = new vis.Network(container, { nodes: nodes, edges: edges }, data.options);
  network.once("stabilizationIterationsDone", function () {
    network.setOptions({ physics: false });
    network.fit();
    container.setAttribute("data-stabilized", "true");
  });
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
