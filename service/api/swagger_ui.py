"""`GET /docs`: Swagger UI served by this process, with no CDN and no inline script; `GET /` redirects there.

Swagger UI's own distribution comes packaged by fastapi-offline (its `static/` directory); the page that
loads it is written here, and Swagger UI is started by a served file (swagger_ui.js), so the page works
offline and under a strict Content-Security-Policy, which it sends itself. ReDoc is not served: one
interactive page is enough, and Swagger UI is the one whose "Try it out" exercises the API.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
INIT_PATH = f"{DOCS_PATH}/init.js"
_ASSETS = str(files("fastapi_offline") / "static")
_INIT_JS = Path(__file__).with_name("swagger_ui.js")
# Everything the page loads comes from this origin; "Try it out" calls the API on it too.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Swagger UI's icons are data: URLs in its stylesheet
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""


def install_docs_ui(app: FastAPI) -> None:
    """Serve Swagger UI for `app.openapi_url` (build the app with `docs_url=None, redoc_url=None`)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=_ASSETS), name="docs-assets")
    page_title = html.escape(f"{app.title} - Swagger UI")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", "").rstrip("/"))
        page = _PAGE.format(
            title=page_title, assets=root + ASSETS_PATH, init=root + INIT_PATH, openapi=root + html.escape(openapi_url)
        )
        return HTMLResponse(
            page,
            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"},
        )

    @app.get(INIT_PATH, include_in_schema=False)
    async def swagger_ui_init() -> FileResponse:
        return FileResponse(_INIT_JS, media_type="text/javascript")

    @app.get("/", include_in_schema=False)
    async def to_docs(request: Request) -> RedirectResponse:
        return RedirectResponse(request.scope.get("root_path", "").rstrip("/") + DOCS_PATH)
