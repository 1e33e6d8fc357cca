"""``aimpay migrate | serve | bot | check | demo``.

Whatever goes wrong that a person can fix is said in one line on standard error, never a
traceback: configuration problems (``aimpay: configuration error: AIMPAY_X: ...``, every one at
once, exit 2) and other things to fix (``aimpay: ...``, exit 1). ``migrate`` imports no part of
the bot (aiogram): the bot, the HTTP app and ``check`` are imported when their command runs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from entrypoints.config import ConfigError, Settings, SetupError, load_settings, mask_url
from entrypoints.logs import configure_for

Out = Callable[[str], None]
DATABASE_TIMEOUT = 10.0  # seconds to reach the database before saying it cannot be reached


# --- the database -------------------------------------------------------------------------------


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; ``None`` for PostgreSQL."""
    from adapters.sql.engine import SQLITE, parse_url

    parsed = parse_url(url)
    if parsed.drivername != SQLITE or not parsed.database:
        return None
    return Path(parsed.database).expanduser()


def database_name(url: str) -> str:
    """How messages name the database: a SQLite file's path as written, else the URL with its
    password masked."""
    from adapters.sql.engine import SQLITE, parse_url

    parsed = parse_url(url)
    if parsed.drivername == SQLITE and parsed.database:
        return parsed.database
    return mask_url(url)


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    text = " ".join(str(cause).split())
    return text[:300] if text else type(cause).__name__


async def database_revision(url: str, *, timeout: float = DATABASE_TIMEOUT) -> str | None:
    """The schema revision of the database at ``url`` (``None``: never migrated). Raises
    ``ConfigError`` naming ``AIMPAY_DATABASE_URL`` when it cannot be reached or opened."""
    from adapters.sql.engine import create_engine
    from adapters.sql.migrate import current_revision

    engine = create_engine(url)
    try:
        async with asyncio.timeout(timeout):
            return await current_revision(engine)
    except TimeoutError:
        raise ConfigError(
            f"AIMPAY_DATABASE_URL: cannot connect to {database_name(url)}: no answer within {timeout:g} s"
        ) from None
    except Exception as exc:  # noqa: BLE001 - every driver failure is one line
        raise ConfigError(f"AIMPAY_DATABASE_URL: cannot connect to {database_name(url)}: {_reason(exc)}") from None
    finally:
        await engine.dispose()


async def ready_database(settings: Settings) -> None:
    """Refuses to run on a database that is missing, unreachable or not at the latest schema;
    never creates one (only ``aimpay migrate`` does)."""
    from adapters.sql.migrate import head_revision

    url = settings.database_url
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise ConfigError(f"AIMPAY_DATABASE_URL: no database at {database_name(url)}: run `aimpay migrate` first")
    current = await database_revision(url)
    head = head_revision()
    if current != head:
        raise SetupError(
            f"the database at {database_name(url)} is at schema {current or 'none'}, the code needs {head}:"
            " run `aimpay migrate`"
        )


async def migrate(settings: Settings, out: Out = print) -> None:
    """Upgrades the database to the latest schema; a missing SQLite file (and its folder) is
    created, and said so."""
    from adapters.sql.engine import create_engine
    from adapters.sql.migrate import head_revision, upgrade

    url, name = settings.database_url, database_name(settings.database_url)
    path = sqlite_file(url)
    created = path is not None and not path.exists()
    before = None if created else await database_revision(url)
    head = head_revision()
    if before != head:
        engine = create_engine(url)  # creates a SQLite file's folder
        try:
            await upgrade(engine)
        except Exception as exc:  # noqa: BLE001 - one line, whatever the driver or a migration says
            raise SetupError(f"could not migrate the database at {name}: {_reason(exc)}") from None
        finally:
            await engine.dispose()
    if created:
        out(f"aimpay: created the SQLite database {name}")
    if before == head:
        out(f"aimpay: the database at {name} is already at the latest schema ({head})")
    else:
        out(f"aimpay: migrated the database at {name} from schema {before or 'none'} to {head} (the latest)")


async def migrate_status(settings: Settings, out: Out = print) -> int:
    """Prints the database's revision and the latest; 0 when they are the same, else 1."""
    from adapters.sql.migrate import head_revision

    url = settings.database_url
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise ConfigError(f"AIMPAY_DATABASE_URL: no database at {database_name(url)}: run `aimpay migrate` first")
    current, head = await database_revision(url), head_revision()
    out(f"database: {database_name(url)}")
    out(f"current:  {current or 'none'}")
    out(f"head:     {head}" + ("" if current == head else " (run `aimpay migrate`)"))
    return 0 if current == head else 1


async def migrate_downgrade(settings: Settings, revision: str, out: Out = print) -> None:
    from alembic.util import CommandError

    from adapters.sql.engine import create_engine
    from adapters.sql.migrate import downgrade

    url, name = settings.database_url, database_name(settings.database_url)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise ConfigError(f"AIMPAY_DATABASE_URL: no database at {name}: run `aimpay migrate` first")
    before = await database_revision(url)
    engine = create_engine(url)
    try:
        await downgrade(engine, revision)
    except CommandError as exc:
        raise SetupError(f"cannot downgrade the database at {name} to {revision}: {_reason(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - one line, whatever the driver or a migration says
        raise SetupError(f"could not downgrade the database at {name}: {_reason(exc)}") from None
    finally:
        await engine.dispose()
    out(f"aimpay: downgraded the database at {name} from schema {before or 'none'} to {revision}")


# --- the commands -------------------------------------------------------------------------------

NEEDS_NOTHING = "Needs: AIMPAY_DATABASE_URL (default sqlite+aiosqlite:///./var/aimpay.db); no token or credential."
NEEDS_TO_RUN = """\
Needs:
  AIMPAY_BOT_TOKEN                                the token from @BotFather
  AIMPAY_PAYMENTS=yookassa (the default):        AIMPAY_YOOKASSA_SHOP_ID, AIMPAY_YOOKASSA_SECRET_KEY,
                                                  AIMPAY_COURSE_CHAT_ID
  AIMPAY_PAYMENTS=sandbox (no money moves):      nothing more (AIMPAY_COURSE_CHAT_ID optional)
  AIMPAY_EMAIL=resend (the default):             AIMPAY_RESEND_API_KEY, AIMPAY_EMAIL_FROM
  AIMPAY_EMAIL=log (emails go to the log):       nothing more
  a database migrated by `aimpay migrate` at AIMPAY_DATABASE_URL
Optional: AIMPAY_REDIS_URL, AIMPAY_ADMIN_IDS, AIMPAY_PUBLIC_URL; see .env.example."""


def _version() -> str:
    try:
        return version("aimpay")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout that was never installed
        return "unknown"


def _settings(command: str) -> Settings:
    settings = load_settings(command=command)
    configure_for(settings)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are not for people
    return settings


def _migrate(args: argparse.Namespace) -> int:
    settings = _settings("migrate")
    if args.action == "status":
        return asyncio.run(migrate_status(settings))
    if args.action == "downgrade":
        asyncio.run(migrate_downgrade(settings, args.revision))
        return 0
    asyncio.run(migrate(settings))
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = _settings("serve")
    from entrypoints import runtime

    asyncio.run(runtime.serve(settings, args.host, args.port))
    return 0


def _bot(args: argparse.Namespace) -> int:
    settings = _settings("bot")
    from entrypoints import runtime

    asyncio.run(runtime.poll(settings))
    return 0


def _check(args: argparse.Namespace) -> int:
    settings = _settings("check")
    from entrypoints import runtime

    return asyncio.run(runtime.check(settings))


def _demo(args: argparse.Namespace) -> int:
    _settings("demo")
    from entrypoints.demo import run_demo

    return asyncio.run(run_demo(args.host, args.port, once=args.once))


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, epilog: str
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aimpay",
        description="Sell an online course through a Telegram bot. Configuration: AIMPAY_* variables "
        "or a .env file in the working directory (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"aimpay {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = _command(
        commands,
        "migrate",
        "upgrade the database to the latest schema; a missing SQLite file (and its folder) is created",
        "`aimpay migrate status` prints the current and the latest revision; `aimpay migrate downgrade REV`"
        " migrates down.\n" + NEEDS_NOTHING,
    )
    migrate.usage = "aimpay migrate [-h] [status | downgrade REV]"
    migrate.set_defaults(run=_migrate, action=None)
    actions = migrate.add_subparsers(dest="action", metavar="ACTION")
    _command(
        actions, "status", "print the database's schema revision and the latest (exit 1 when behind)", NEEDS_NOTHING
    )
    downgrade = _command(actions, "downgrade", "migrate the database down to revision REV", NEEDS_NOTHING)
    downgrade.add_argument("revision", metavar="REV", help="a revision such as 0001, or 'base' for no tables at all")

    serve = _command(
        commands,
        "serve",
        "run the HTTP app: YooKassa's webhook, Telegram's webhook (when configured), /healthz and the outbox",
        NEEDS_TO_RUN
        + "\nWebhook mode: AIMPAY_TELEGRAM_WEBHOOK_SECRET and AIMPAY_TELEGRAM_WEBHOOK_URL (registered at start-up).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="the port to listen on (default: %(default)s)")
    serve.set_defaults(run=_serve)

    bot = _command(commands, "bot", "run the Telegram bot by long polling, and the outbox", NEEDS_TO_RUN)
    bot.set_defaults(run=_bot)

    check = _command(
        commands,
        "check",
        "reach every configured service (database, Telegram, YooKassa, Resend, Redis) and print one line for each",
        "Needs nothing: services that are not configured say so. Exit 0 when every configured one is OK, else 1.",
    )
    check.set_defaults(run=_check)

    demo = _command(
        commands,
        "demo",
        "play the whole journey offline (SQLite, fake YooKassa, Resend and Telegram), then serve it",
        "Needs nothing: no token, no credential; the demo keeps its own SQLite file under var/.",
    )
    demo.add_argument("--once", action="store_true", help="exit after the journey instead of serving")
    demo.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    demo.add_argument("--port", type=int, default=8000, help="the port to listen on (default: %(default)s)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SetupError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
