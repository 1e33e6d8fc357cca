"""The server under test: the app ``aimpay serve`` runs, built the same way from the same
``AIMPAY_*`` environment (real adapters: SQL, YooKassa SDK, aiogram Bot, Resend), plus one extra
route, ``POST /bench/bare``: a bare Starlette endpoint behind the same uvicorn and the same
middleware, the ceiling the real endpoints are compared with.

Run ``python -m benchmarks.server --port N`` with the repository root on ``PYTHONPATH``; migrates
the database first. Stops on SIGINT/SIGTERM like ``aimpay serve``. ``--profile FILE`` runs the
event loop under cProfile from ``POST /bench/profile/start`` to ``POST /bench/profile/stop``
and writes the statistics (``pstats`` format) to FILE at the stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging

from aiogram import Bot
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.sql.migrate import upgrade_to_head
from entrypoints.config import Settings, load_settings
from entrypoints.container import make_container
from entrypoints.runtime import build_http_app, make_dispatcher, uvicorn_server


async def bare(request: Request) -> JSONResponse:
    """The ceiling: reads the body like the webhooks do and answers a tiny JSON."""
    await request.body()
    return JSONResponse({"ok": True})


class Profiler:
    """cProfile over the server's event-loop thread, switched on and off over HTTP."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._profile = cProfile.Profile()

    async def start(self, request: Request) -> Response:
        self._profile = cProfile.Profile()
        self._profile.enable()
        return Response(status_code=204)

    async def stop(self, request: Request) -> Response:
        self._profile.disable()
        self._profile.dump_stats(self._path)
        return Response(status_code=204)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/bench/profile/start", self.start, methods=["POST"]),
            Route("/bench/profile/stop", self.stop, methods=["POST"]),
        ]


async def serve(settings: Settings, host: str, port: int, profile: str | None) -> None:
    await upgrade_to_head(settings.database_url)
    container = make_container(settings)
    bot = await container.get(Bot)
    dispatcher = await make_dispatcher(container, settings)
    routes: list[BaseRoute] = [Route("/bench/bare", bare, methods=["POST"])]
    if profile:
        routes += Profiler(profile).routes()
    app = build_http_app(container, settings, bot, dispatcher, extra_routes=routes)
    await uvicorn_server(app, host, port).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--profile", metavar="FILE", help="enable the cProfile switch routes, writing to FILE")
    args = parser.parse_args()
    settings = load_settings()
    settings.require(*Settings.REAL_MODE, command="serve")
    # As `aimpay serve` logs (entrypoints.cli).
    logging.basicConfig(
        level=getattr(logging, settings.log_level), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT is how the benchmark stops it, as Ctrl-C stops `aimpay serve`
        asyncio.run(serve(settings, args.host, args.port, args.profile))


if __name__ == "__main__":
    main()
