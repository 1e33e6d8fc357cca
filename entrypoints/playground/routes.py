"""The playground's HTTP side: the page, its JSON API, the files the bot sent, the static files.

- ``GET /``: the page (static HTML; ``static/playground.js`` does the rest);
- ``GET /playground/api/state?user=ID``: everything the page shows, as JSON (polled about once
  a second);
- ``POST /playground/api/send`` ``{"user", "text", "language"?}``: the user types a message;
- ``POST /playground/api/press`` ``{"user", "message_id", "data", "language"?}``: presses a
  callback button;
- ``POST /playground/api/join`` ``{"user", "link"}``: follows an invite link into the course chat;
- ``GET /playground/files/{file_id}``: a document or photo the bot sent;
- ``/playground/static/…``: the stylesheet, the script and the icon."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from entrypoints.playground.world import Playground, PlaygroundError

STATIC = Path(__file__).resolve().parent / "static"
NO_STORE = {"Cache-Control": "no-store"}
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}  # shown in the page; the rest downloads
MAX_TEXT = 4096  # Telegram's limit for a message


def _refuse(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status, headers=NO_STORE)


def _user_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise PlaygroundError("user must be a demo user's Telegram id")
    return int(value)


def _language(value: Any) -> str | None:
    return value if value in ("en", "ru") else None


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise PlaygroundError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise PlaygroundError("the body must be a JSON object")
    return body


def playground_routes(playground: Playground) -> list[BaseRoute]:
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=NO_STORE)

    async def state(request: Request) -> Response:
        try:
            return JSONResponse(
                await playground.state(_user_id(request.query_params.get("user", ""))), headers=NO_STORE
            )
        except PlaygroundError as exc:
            return _refuse(str(exc), 404)

    async def send(request: Request) -> Response:
        try:
            body = await _body(request)
            text = body.get("text")
            if not isinstance(text, str) or len(text) > MAX_TEXT:
                raise PlaygroundError(f"text must be a string of at most {MAX_TEXT} characters")
            replies = await playground.send(_user_id(body.get("user")), text, language=_language(body.get("language")))
        except PlaygroundError as exc:
            return _refuse(str(exc))
        return JSONResponse({"ok": True, "replies": [r.as_json() for r in replies]}, headers=NO_STORE)

    async def press(request: Request) -> Response:
        try:
            body = await _body(request)
            message_id, data = body.get("message_id"), body.get("data")
            if not isinstance(message_id, int) or not isinstance(data, str):
                raise PlaygroundError("message_id (a number) and data (a string) are required")
            replies = await playground.press(
                _user_id(body.get("user")), message_id, data, language=_language(body.get("language"))
            )
        except PlaygroundError as exc:
            return _refuse(str(exc))
        return JSONResponse({"ok": True, "replies": [r.as_json() for r in replies]}, headers=NO_STORE)

    async def join(request: Request) -> Response:
        try:
            body = await _body(request)
            link = body.get("link")
            if not isinstance(link, str):
                raise PlaygroundError("link (a string) is required")
            result = await playground.join(_user_id(body.get("user")), link)
        except PlaygroundError as exc:
            return _refuse(str(exc))
        return JSONResponse(
            {"ok": result.joined, "joined": result.joined, "stayed": result.stayed, "error": result.reason or None},
            headers=NO_STORE,
        )

    async def download(request: Request) -> Response:
        stored = playground.session.files.get(request.path_params["file_id"])
        if stored is None:
            return _refuse("no such file", 404)
        disposition = "inline" if stored.content_type in INLINE_TYPES else "attachment"
        return Response(
            stored.data,
            media_type=stored.content_type,
            headers={
                "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stored.filename)}",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox",
                **NO_STORE,
            },
        )

    return [
        Route("/", index, methods=["GET"]),
        Route("/playground/api/state", state, methods=["GET"]),
        Route("/playground/api/send", send, methods=["POST"]),
        Route("/playground/api/press", press, methods=["POST"]),
        Route("/playground/api/join", join, methods=["POST"]),
        Route("/playground/files/{file_id}", download, methods=["GET"]),
        Mount("/playground/static", app=StaticFiles(directory=STATIC), name="playground-static"),
    ]
