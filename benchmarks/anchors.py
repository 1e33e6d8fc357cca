"""Anchors for ``make bench``: the least a webhook bot on this stack can do for a ``/start``,
served by the benchmark's server process (``benchmarks/server.py``) on routes of their own. They
are never part of the production app.

Each anchor is a minimal aiogram 3 ``Dispatcher`` (its own ``Router``, one ``CommandStart()``
handler) behind a Starlette route that feeds the update with ``dispatcher.feed_webhook_update``:

* ``inline``: the handler returns ``message.answer(...)`` and the route answers it in the
  webhook's HTTP response, a JSON ``{"method": "sendMessage", ...}``;
* ``send``: the handler awaits ``bot.send_message`` (to the loopback Bot API stand-in) and the
  route answers an empty 200;
* ``sqlite-pooled``, ``sqlite-single``, ``postgres``: ``inline`` plus one SQLAlchemy Core
  ``INSERT`` of the user into a one-table database, in a transaction of its own, before the answer.

``POST /bench/anchor/{name}`` takes an update; ``GET /bench/anchor/{name}/rows`` counts the rows of
a database anchor (the outcome check: one per ``/start``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.methods import TelegramMethod
from aiogram.types import InputFile, Message
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

metadata = sa.MetaData()
users = sa.Table(
    "users",
    metadata,
    sa.Column("telegram_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("first_name", sa.String(128), nullable=False),
)
INSERT_USER = users.insert()
COUNT_USERS = sa.select(sa.func.count()).select_from(users)


def greeting(message: Message) -> str:
    name = message.from_user.first_name if message.from_user else "there"
    return f"Hello, {name}! This is the course bot."


def webhook_reply(bot: Bot, method: TelegramMethod[Any] | None) -> Response:
    """A handler's returned method as Telegram takes a webhook reply: the method's name under
    ``"method"`` beside its fields. aiogram's ``aiogram.webhook.aiohttp_server`` builds the same
    reply as multipart form data (``__api_method__``, then every field of
    ``model_dump(warnings=False)`` through ``bot.session.prepare_value``); here the fields go
    through the same ``prepare_value`` into one JSON object (defaults resolved, unset fields
    dropped). A method with files cannot be a JSON reply."""
    if method is None:
        return Response(status_code=200)
    files: dict[str, InputFile] = {}
    fields = {"method": method.__api_method__, **method.model_dump(warnings=False)}
    body = bot.session.prepare_value(fields, bot=bot, files=files)
    if files:
        raise ValueError(f"{method.__api_method__} with files cannot be answered in a JSON webhook reply")
    return Response(body, media_type="application/json")


class Anchor:
    """One minimal dispatcher behind one route."""

    def __init__(self, name: str, bot: Bot, handler: Callable[..., Awaitable[Any]], engine: AsyncEngine | None) -> None:
        self.name = name
        self.bot = bot
        self.engine = engine
        router = Router(name=f"anchor-{name}")
        router.message(CommandStart())(handler)
        self.dispatcher = Dispatcher()
        self.dispatcher.include_router(router)

    async def handle(self, request: Request) -> Response:
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(self.bot, await request.json())
        return webhook_reply(self.bot, result)

    async def rows(self, request: Request) -> JSONResponse:
        if self.engine is None:
            return JSONResponse({"error": "no database"}, status_code=404)
        async with self.engine.connect() as connection:
            return JSONResponse({"rows": (await connection.execute(COUNT_USERS)).scalar_one()})


def inline_handler(engine: AsyncEngine | None) -> Callable[[Message], Awaitable[Any]]:
    """``/start`` answered inline, after one ``INSERT`` of the user when ``engine`` is given."""

    async def start(message: Message) -> Any:
        if engine is not None:
            assert message.from_user is not None
            async with engine.begin() as connection:
                await connection.execute(
                    INSERT_USER, {"telegram_id": message.from_user.id, "first_name": message.from_user.first_name}
                )
        return message.answer(greeting(message))

    return start


async def send_handler(message: Message, bot: Bot) -> None:
    """``/start`` answered by a ``sendMessage`` call to the Bot API, awaited."""
    await bot.send_message(message.chat.id, greeting(message))


def sqlite_engine(path: Path, **pool: Any) -> AsyncEngine:
    """A fresh SQLite file in WAL mode, with the 30 s busy timeout the app sets too (its writers
    queue for the lock instead of failing); otherwise the driver's defaults."""
    path.unlink(missing_ok=True)
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", **pool)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA busy_timeout = 30000")
        finally:
            cursor.close()

    return engine


class Anchors:
    """Every anchor of one server: the aiogram ones always, the SQLite ones when given a directory,
    the PostgreSQL one when given an (empty) database's URL."""

    def __init__(self, token: str, api_url: str, sqlite_dir: Path | None, postgres_url: str | None) -> None:
        # Its own Bot (the same token and loopback Bot API as the app's), default session.
        self.bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
        self.anchors = [
            Anchor("inline", self.bot, inline_handler(None), None),
            Anchor("send", self.bot, send_handler, None),
        ]
        engines: dict[str, AsyncEngine] = {}
        if sqlite_dir is not None:
            # The default pool of aiosqlite on a file: AsyncAdaptedQueuePool, 5 + 10 overflow.
            engines["sqlite-pooled"] = sqlite_engine(sqlite_dir / "anchor-pooled.db")
            # One connection that requests queue for. StaticPool would hand the same connection
            # to concurrent transactions, which then interleave.
            engines["sqlite-single"] = sqlite_engine(sqlite_dir / "anchor-single.db", pool_size=1, max_overflow=0)
        if postgres_url is not None:
            engines["postgres"] = create_async_engine(postgres_url)  # default pool: 5 + 10 overflow
        self.anchors += [Anchor(name, self.bot, inline_handler(engine), engine) for name, engine in engines.items()]

    async def setup(self) -> None:
        for anchor in self.anchors:
            if anchor.engine is not None:
                async with anchor.engine.begin() as connection:
                    await connection.run_sync(metadata.drop_all)
                    await connection.run_sync(metadata.create_all)

    async def close(self) -> None:
        for anchor in self.anchors:
            if anchor.engine is not None:
                await anchor.engine.dispose()
        await self.bot.session.close()

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        for anchor in self.anchors:
            routes.append(Route(f"/bench/anchor/{anchor.name}", anchor.handle, methods=["POST"]))
            routes.append(Route(f"/bench/anchor/{anchor.name}/rows", anchor.rows, methods=["GET"]))
        return routes
