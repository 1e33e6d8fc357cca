"""``aimpay migrate | serve | bot | demo``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from entrypoints.config import ConfigError, Settings, load_settings
from entrypoints.logs import configure_logging


def _logging(settings: Settings | None) -> None:
    configure_logging(settings.log_level if settings else "INFO")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aimpay", description="Sell an online course through a Telegram bot.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database schema to the latest version")
    serve = commands.add_parser("serve", help="run the HTTP app: webhooks (YooKassa, Telegram) and the outbox")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    commands.add_parser("bot", help="run the Telegram bot by long polling, and the outbox")
    demo = commands.add_parser("demo", help="play the whole journey offline, with fake YooKassa/Resend/Telegram")
    demo.add_argument("--once", action="store_true", help="exit after the journey instead of serving")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        _logging(settings)
        if args.command == "migrate":
            from entrypoints.runtime import migrate

            asyncio.run(migrate(settings))
        elif args.command == "serve":
            settings.require(*Settings.REAL_MODE, command="serve")
            from entrypoints.runtime import serve

            asyncio.run(serve(settings, args.host, args.port))
        elif args.command == "bot":
            settings.require(*Settings.REAL_MODE, command="bot")
            from entrypoints.runtime import poll

            asyncio.run(poll(settings))
        elif args.command == "demo":
            from entrypoints.demo import run_demo

            return asyncio.run(run_demo(args.host, args.port, once=args.once))
    except ConfigError as exc:
        print(f"aimpay: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
