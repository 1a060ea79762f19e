// Starts Swagger UI on /docs. It is a file of its own, not an inline <script>, so the page works under a
// Content-Security-Policy that runs scripts from this origin only (service/api/swagger_ui.py).
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    deepLinking: true,
    displayRequestDuration: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Swagger UI would otherwise send the document to a validator on another site.
    validatorUrl: null,
  });
})();
