// Attributes and variant options drawn for every product type: show only the chosen type's.
"use strict";
(function () {
  function refresh() {
    document.querySelectorAll(".schema-widget").forEach(function (widget) {
      var select = document.getElementById("id_" + widget.dataset.typeField);
      if (!select) { return; }
      widget.querySelectorAll(".schema-group[data-several]").forEach(function (group) {
        group.style.display = group.dataset.productType === select.value ? "" : "none";
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    var select = document.getElementById("id_type");
    if (select) { select.addEventListener("change", refresh); }
    document.addEventListener("formset:added", refresh);
  });
})();
