"""The web UI: server-rendered pages over the same services the JSON API uses.

No build step and no CDN: Jinja2 templates and a few static files from this package, so the UI works
air-gapped. Charts are drawn in the browser by `static/charts.js` (dependency-free SVG) from the
JSON API (`/api/v1/runs/{id}/metrics/{key}/history`).

    install(app)          mount /static and the page routes on the server's FastAPI app
    nav.NAV               the left navigation; later capabilities flip their entry to ready
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from plimsoll.server.ui.routes import STATIC_DIR, router

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Serve the UI from `app`: static files under /static and the pages under /."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
