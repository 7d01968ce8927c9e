"""The data explorer for journalists: a static page at ``/`` and its files under ``/static``.

The page is plain HTML, CSS and JavaScript (no build step); everything it shows it reads
from the friendly API (``/api/...``, api.friendly) and the release calendar
(``/releases.json``), so the embargo, the caches and the numbers are those of every other
route. A permalink is the page's own query string (``/?flow=DF_WORKPERM_ISSUED&CITIZENSHIP=TR``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", tags=["pages"], include_in_schema=False)
    def explorer() -> FileResponse:
        # The page itself changes only with a deployment; what it shows comes from the API.
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})
