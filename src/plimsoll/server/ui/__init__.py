"""The web UI: server-rendered pages over the same services the JSON API uses.

No build step and no CDN: Jinja2 templates and a few static files from this package, so the UI works
air-gapped. Charts are drawn in the browser by `static/charts.js` (dependency-free SVG) from the
JSON API (`/api/v1/runs/{id}/metrics/{key}/history`).

    install(app, capabilities)   mount /static, each capability's pages, and the navigation
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from plimsoll.core.capability import Capability, load
from plimsoll.server.ui.nav import build_nav
from plimsoll.server.ui.pages import STATIC_DIR
from plimsoll.server.ui.routes import home

__all__ = ["install"]


def install(app: FastAPI, capabilities: Sequence[Capability]) -> None:
    """Serve the UI from `app`: static files under /static, `/`, and every capability's pages."""
    app.state.nav = build_nav(capabilities)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/", home, methods=["GET"], include_in_schema=False)
    for capability in capabilities:
        if capability.pages is not None:
            app.include_router(load(capability.pages))
