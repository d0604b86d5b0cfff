// Starts Swagger UI from a file (no inline script, so the page works under a strict CSP).
window.addEventListener("load", function () {
  var el = document.getElementById("swagger-ui-container");
  window.ui = SwaggerUIBundle({ url: el.dataset.specUrl, dom_id: "#swagger-ui-container" });
});
