// Starts Swagger UI on the page of GET /api/docs/. A file of its own, not an inline
// script, so the page's Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  window.ui = SwaggerUIBundle({
    // The document beside this page (/api/docs/ → /api/openapi.json), relative so the
    // page also works behind a path prefix.
    url: new URL("../openapi.json", location.href).href,
    dom_id: "#swagger-ui",
    // Only the API's panels: no top bar to type in another document's address.
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    // The validator badge would send the document to validator.swagger.io: not offline.
    validatorUrl: null,
    displayRequestDuration: true
  });
})();
