"""The console's web app (Starlette): the page, its static files, a JSON API and a live stream.

Every request carries the console's token (``?token=`` or the ``X-Console-Token`` header); one
without it, or with a wrong one, gets 401 and no data. ``/api/events`` is a server-sent event
stream: a ``snapshot`` event, then an ``update`` each second with only what that browser has not
seen. Nothing runs for a browser that is not connected.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bundledev.console.core_access import ActionRefused, CoreAccess
from bundledev.console.data import ConsoleData

STATIC = Path(__file__).parent / "static"
TOKEN_HEADER = "X-Console-Token"
UPDATE_SECONDS = 1.0
LINK_STATES = ("online", "offline", "flaky")


def create_app(
    data: ConsoleData, core: CoreAccess, token: str, stopping: asyncio.Event | None = None
) -> Starlette:
    """The console app over ``data`` and ``core``, refusing requests without ``token``."""
    stop = stopping

    def authorised(request: Request) -> bool:
        given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or ""
        return secrets.compare_digest(given.encode(), token.encode())

    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            if not authorised(request):
                return PlainTextResponse("a console token is needed: open the URL `make run` printed", 401)
            return await handler(request)

        return run

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    def state() -> dict[str, Any]:
        return {
            "components": core.components(),
            "link": core.link(),
            "thresholds": core.thresholds(),
            **data.summary(),
        }

    async def snapshot(request: Request) -> Response:
        seq, events = data.changes_since(0)
        return JSONResponse({"seq": seq, "events": events, **await run_in_threadpool(state)})

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            seq, history = data.changes_since(0)
            first = {"seq": seq, "events": history, **await run_in_threadpool(state)}
            yield _sse("snapshot", first)
            while not await request.is_disconnected() and not (stop is not None and stop.is_set()):
                await asyncio.sleep(UPDATE_SECONDS)
                seq, fresh = data.changes_since(seq)
                yield _sse("update", {"seq": seq, "events": fresh, **await run_in_threadpool(state)})

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def lifecycle(request: Request) -> Response:
        action, component = request.path_params["action"], request.path_params["component"]
        return await _act(lambda: core.lifecycle(action, component))

    async def link(request: Request) -> Response:
        body = await _json(request)
        wanted = body.get("state") if isinstance(body, dict) else None
        if wanted not in LINK_STATES:
            return JSONResponse(
                {"error": f"expected state one of {', '.join(LINK_STATES)}, got {wanted!r}"}, 400
            )
        return await _act(lambda: core.set_link(str(wanted)))

    async def config_get(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(core.configuration, request.path_params["component"]))

    async def config_set(request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("keyPath"), str) or "value" not in body:
            return JSONResponse({"error": "expected {'keyPath': 'a/b', 'value': <JSON>}"}, 400)
        key_path = [part for part in body["keyPath"].split("/") if part]
        component = request.path_params["component"]
        return await _act(lambda: core.set_configuration(component, key_path, body["value"]))

    async def shadows(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(core.shadows))

    async def cloud(request: Request) -> Response:
        objects = await run_in_threadpool(core.cloud_objects)
        alerts = await run_in_threadpool(core.cloud_alerts)
        return JSONResponse({"objects": objects, "alerts": alerts})

    async def cloud_object(request: Request) -> Response:
        bucket, key = request.query_params.get("bucket", ""), request.query_params.get("key", "")
        try:
            body = await run_in_threadpool(core.cloud_object, bucket, key)
        except KeyError:
            return PlainTextResponse(f"no object {key!r} in bucket {bucket!r}", 404)
        name = key.rsplit("/", 1)[-1] or "object"
        return Response(body, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def image(request: Request) -> Response:
        found = await run_in_threadpool(core.inspection_image, request.path_params["name"])
        if found is None:
            return PlainTextResponse("that image is no longer kept (spool or cloud)", 404)
        return Response(found, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    routes = [
        Route("/", guarded(index)),
        Route("/api/snapshot", guarded(snapshot)),
        Route("/api/events", guarded(events)),
        Route("/api/components/{component}/{action}", guarded(lifecycle), methods=["POST"]),
        Route("/api/link", guarded(link), methods=["POST"]),
        Route("/api/config/{component}", guarded(config_get)),
        Route("/api/config/{component}", guarded(config_set), methods=["POST"]),
        Route("/api/shadows", guarded(shadows)),
        Route("/api/cloud", guarded(cloud)),
        Route("/api/cloud/object", guarded(cloud_object)),
        Route("/api/images/{name}", guarded(image)),
        Mount("/static", app=_GuardedStatic(StaticFiles(directory=STATIC), authorised)),
    ]
    return Starlette(routes=routes)


class _GuardedStatic:
    """Static files behind the token too: the page's scripts hold no data, but one rule is simpler."""

    def __init__(self, files: StaticFiles, authorised: Callable[[Request], bool]) -> None:
        self._files = files
        self._authorised = authorised

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self._authorised(Request(scope)):
            await PlainTextResponse("a console token is needed", 401)(scope, receive, send)
            return
        await self._files(scope, receive, send)


async def _act(action: Callable[[], dict[str, Any]]) -> Response:
    try:
        return JSONResponse(await run_in_threadpool(action))
    except ActionRefused as err:
        return JSONResponse({"error": str(err)}, 409)


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except (ValueError, json.JSONDecodeError):
        return None


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"
