"""The server under test: the app ``aimpay serve`` runs, built the same way from the same
``AIMPAY_*`` environment (real adapters: SQL, YooKassa SDK, aiogram Bot, Resend), plus routes that
exist only here, never in the production app:

* ``POST /bench/bare``: a bare Starlette endpoint behind the same uvicorn and the same
  middleware, the ceiling the real endpoints are compared with;
* ``POST /bench/anchor/...``: the anchors of ``benchmarks/anchors.py`` (minimal aiogram
  dispatchers, with and without one ``INSERT``), in this same process;
* ``GET /bench/outbox``: how many outbox messages are still to deliver (read-only, on the app's
  own engine).

Run ``python -m benchmarks.server --port N`` with the repository root on ``PYTHONPATH``; migrates
the database first. Stops on SIGINT/SIGTERM like ``aimpay serve``. ``--anchor-dir DIR`` adds the
SQLite anchors (fresh files in DIR), ``--anchor-postgres URL`` the PostgreSQL one (an empty
database). ``--profile FILE`` runs the event loop under cProfile from ``POST /bench/profile/start``
to ``POST /bench/profile/stop`` and writes the statistics (``pstats`` format) to FILE at the stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
from pathlib import Path

import sqlalchemy as sa
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.sql.engine import SQLITE_BEGIN
from adapters.sql.migrate import upgrade_to_head
from adapters.sql.tables import outbox
from benchmarks.anchors import Anchors
from entrypoints.config import Settings, load_settings
from entrypoints.container import make_container
from entrypoints.runtime import build_http_app, make_dispatcher, uvicorn_server


async def bare(request: Request) -> JSONResponse:
    """The ceiling: reads the body like the webhooks do and answers a tiny JSON."""
    await request.body()
    return JSONResponse({"ok": True})


class Outbox:
    """``GET /bench/outbox``: the outbox rows still to deliver (``pending``: neither delivered nor
    given up) and those given up (``failed``), counted in one read-only transaction."""

    _COUNT = sa.select(
        sa.func.count().filter(outbox.c.delivered_at.is_(None), outbox.c.failed_at.is_(None)),
        sa.func.count().filter(outbox.c.failed_at.is_not(None)),
    )

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def counts(self, request: Request) -> JSONResponse:
        async with self._engine.connect() as connection:
            await connection.execution_options(**{SQLITE_BEGIN: "DEFERRED"})  # never the write lock
            pending, failed = (await connection.execute(self._COUNT)).one()
        return JSONResponse({"pending": pending, "failed": failed})


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


async def serve(settings: Settings, host: str, port: int, args: argparse.Namespace) -> None:
    await upgrade_to_head(settings.database_url)
    container = make_container(settings)
    bot = await container.get(Bot)
    dispatcher = await make_dispatcher(container, settings)
    assert settings.bot_token is not None
    anchors = Anchors(
        settings.bot_token.get_secret_value(), settings.telegram_api_url, args.anchor_dir, args.anchor_postgres
    )
    await anchors.setup()
    routes: list[BaseRoute] = [
        Route("/bench/bare", bare, methods=["POST"]),
        Route("/bench/outbox", Outbox(await container.get(AsyncEngine)).counts, methods=["GET"]),
        *anchors.routes(),
    ]
    if args.profile:
        routes += Profiler(args.profile).routes()
    app = build_http_app(container, settings, bot, dispatcher, extra_routes=routes)
    try:
        await uvicorn_server(app, host, port).serve()
    finally:
        await anchors.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--profile", metavar="FILE", help="enable the cProfile switch routes, writing to FILE")
    parser.add_argument("--anchor-dir", type=Path, help="serve the SQLite anchors, on fresh files in this directory")
    parser.add_argument("--anchor-postgres", metavar="URL", help="serve the PostgreSQL anchor on this (empty) database")
    args = parser.parse_args()
    settings = load_settings()
    settings.require(*Settings.REAL_MODE, command="serve")
    # As `aimpay serve` logs (entrypoints.cli).
    logging.basicConfig(
        level=getattr(logging, settings.log_level), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):  # SIGINT is how the benchmark stops it, as Ctrl-C stops `aimpay serve`
        asyncio.run(serve(settings, args.host, args.port, args))


if __name__ == "__main__":
    main()
