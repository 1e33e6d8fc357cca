"""``make bench``: how many ``/start`` updates and payment notifications per second the real HTTP
app takes on this machine, each beside a bare endpoint on the same server as the ceiling; the
same for anchors (a minimal aiogram bot, with and without one ``INSERT``) served by the same
process; and a burst of new users' ``/start`` through the real webhook.

Three processes:

* the server under test (``benchmarks/server.py``): the app ``aimpay serve`` runs, with the real
  adapters, on a fresh SQLite file (and on a fresh PostgreSQL database when
  ``AIMPAY_BENCH_POSTGRES_URL`` names a server where the user may create databases), plus
  ``POST /bench/bare``, the anchors (``benchmarks/anchors.py``) and ``GET /bench/outbox``;
* the outside world (``benchmarks/standins.py``): the loopback stand-ins of the Bot API, YooKassa
  and Resend, so the re-fetch, ``sendMessage`` and the outbox really cross HTTP;
* this one: the load generator (aiohttp, a fixed number of keep-alive connections).

Every answer is checked (status and body), and so is the outcome (every new user got a reply,
inline in the webhook's answer or through ``sendMessage``; every payment was recorded as paid; the
outbox delivered every invite link and email; every anchor ``INSERT`` is in its table). A run with
any error prints the errors and exits 1 without touching ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import pstats
import secrets
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.standins import BOT_TOKEN, RESEND_KEY, SECRET_KEY, SHOP_ID  # noqa: E402
from tests.standins.telegram import message_update  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.md"
COURSE_CHAT_ID = -1001234567890
ADMIN_ID = 1000
CONCURRENCY_CHOICES = (8, 16, 32, 64)
BARE_REQUESTS = 4000
START_REQUESTS = 2000
PAYMENT_REQUESTS = 1000
ANCHOR_REQUESTS = 2000
BURST_REQUESTS = 5000
BURST_CONNECTIONS = 256
OUTBOX_TIMEOUT = 120.0

# A body shaped like YooKassa's, for the bare endpoint before the notification rows.
_SAMPLE_NOTIFICATION = {"type": "notification", "event": "payment.succeeded", "object": {"id": "0" * 36}}

# (status, answer's body, request's body) -> an error, or None when right
Check = Callable[[int, bytes, bytes], str | None]


# ---------------------------------------------------------------------------------- load


@dataclass
class Run:
    """One timed scenario. ``errors`` counts wrong answers of the warm-up too."""

    requests: int
    concurrency: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float | None = None  # CPU seconds the server process used in the timed part
    errors: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    @property
    def cpu_per_request(self) -> str:
        return "–" if self.server_cpu is None else f"{self.server_cpu / self.requests * 1000:.2f}"


async def blast(
    url: str,
    bodies: Sequence[bytes],
    headers: dict[str, str],
    concurrency: int,
    check: Check,
    *,
    warmup: Sequence[bytes] = (),
    cpu: Callable[[], float | None] = lambda: None,
) -> Run:
    """POSTs ``warmup`` (untimed), then ``bodies`` (timed) over ``concurrency`` keep-alive
    connections with ``concurrency`` requests in flight; checks every answer. ``cpu`` reads the
    server's CPU seconds, before and after the timed part."""
    headers = {"Content-Type": "application/json", **headers}
    connector = aiohttp.TCPConnector(limit=concurrency)
    run = Run(requests=len(bodies), concurrency=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker(queue: Iterable[bytes], record: bool) -> None:
            for body in queue:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        status, answer = response.status, await response.read()
                    error = check(status, answer, body)
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                if record:
                    run.latencies.append(time.perf_counter() - started)
                if error is not None:
                    run.errors += 1
                    if len(run.examples) < 5:
                        run.examples.append(error)

        async def all_of(bodies: Sequence[bytes], record: bool) -> None:
            shared = iter(bodies)  # one iterator: each body is sent once, by whichever worker is free
            await asyncio.gather(*(worker(shared, record) for _ in range(concurrency)))

        if warmup:
            await all_of(warmup, False)
        cpu_before, started = cpu(), time.perf_counter()
        await all_of(bodies, True)
        run.seconds, cpu_after = time.perf_counter() - started, cpu()
        if cpu_before is not None and cpu_after is not None:
            run.server_cpu = cpu_after - cpu_before
    return run


def expect_status(wanted: int) -> Check:
    def check(status: int, body: bytes, sent: bytes) -> str | None:
        return None if status == wanted else f"HTTP {status}: {body[:200]!r}"

    return check


def expect_outcome(outcome: str) -> Check:
    def check(status: int, body: bytes, sent: bytes) -> str | None:
        if status != 200:
            return f"HTTP {status}: {body[:200]!r}"
        got = json.loads(body).get("outcome")
        return None if got == outcome else f"outcome {got!r}, expected {outcome!r}"

    return check


def expect_bare(status: int, body: bytes, sent: bytes) -> str | None:
    return None if status == 200 and body == b'{"ok":true}' else f"HTTP {status}: {body[:200]!r}"


class StartReplies:
    """Checks the answers to ``/start`` updates of known users. A reply comes in one of two forms:
    an empty 200 (``""`` or ``{}``; the reply went out through ``sendMessage``, which the Bot API
    stand-in saw), or a 200 whose JSON body is the reply itself, inline, as Telegram takes a
    webhook's answer: ``{"method": "sendMessage", "chat_id": <the user>, "text": ...}``.
    ``inline`` collects the users answered inline, for the outcome check."""

    EMPTY = (b"", b"{}")

    def __init__(self, *, empty: bool = True, inline: bool = True) -> None:
        self._empty = empty
        self._inline = inline
        self._user_of: dict[bytes, int] = {}
        self.inline: set[int] = set()

    def bodies(self, users: Iterable[int]) -> list[bytes]:
        """The ``/start`` updates of ``users``, remembered so each answer is checked against its user."""
        bodies = []
        for user in users:
            body = start_update(user)
            self._user_of[body] = user
            bodies.append(body)
        return bodies

    def __call__(self, status: int, body: bytes, sent: bytes) -> str | None:
        if status != 200:
            return f"HTTP {status}: {body[:200]!r}"
        if body.strip() in self.EMPTY:
            return None if self._empty else f"an empty answer, expected an inline sendMessage: {body[:200]!r}"
        if not self._inline:
            return f"expected an empty answer: {body[:200]!r}"
        user = self._user_of[sent]
        try:
            reply = json.loads(body)
        except ValueError:
            return f"not JSON: {body[:200]!r}"
        if (
            isinstance(reply, dict)
            and reply.get("method") == "sendMessage"
            and str(reply.get("chat_id")) == str(user)  # a number, or a string as in aiogram's form replies
            and reply.get("text")
        ):
            self.inline.add(user)
            return None
        return f"not a sendMessage to {user}: {body[:200]!r}"

    def describe(self, total: int) -> str:
        if not self.inline:
            return "`sendMessage`"
        if len(self.inline) == total:
            return "the reply inline in the webhook's answer"
        return f"the reply inline ({len(self.inline)}) or by `sendMessage` ({total - len(self.inline)})"


# ---------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system, every thread) of a process; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpus: set[int]) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, cpus)


@dataclass
class Layout:
    """Which CPUs each process may use: the server alone on one, everything else on the others."""

    server: set[int]
    others: set[int]

    @classmethod
    def for_machine(cls, pinned: bool) -> Layout:
        available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        if not pinned or len(available) < 2:
            return cls(set(), set())
        server = min(available)
        return cls({server}, available - {server})

    def describe(self) -> str:
        if not self.server:
            return "not pinned (every process may use every CPU)"
        return f"server pinned to CPU {sorted(self.server)}; stand-ins and load generator on CPUs {sorted(self.others)}"


async def stop(process: asyncio.subprocess.Process, *, closing_stdin: bool = False) -> None:
    if process.returncode is not None:
        return
    if closing_stdin and process.stdin is not None:
        process.stdin.close()
    else:
        process.send_signal(signal.SIGINT)  # what Ctrl-C does to `aimpay serve`
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def standins(layout: Layout) -> AsyncIterator[dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.standins",
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        pin(process.pid, layout.others)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            raise RuntimeError("the stand-ins process exited before it was ready")
        yield json.loads(line)
    finally:
        await stop(process, closing_stdin=True)


def server_environment(database_url: str, urls: dict[str, str], secret: str) -> dict[str, str]:
    """``aimpay serve``'s configuration with the outside world pointed at the stand-ins. Any
    ``AIMPAY_*`` of the caller's environment is dropped; the rest is left at its defaults
    (throttling 5 per 3 s per user: each benchmark user sends at most 3 updates)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMPAY_")}
    env.update(
        PYTHONPATH=str(ROOT),
        AIMPAY_DATABASE_URL=database_url,
        AIMPAY_BOT_TOKEN=BOT_TOKEN,
        AIMPAY_TELEGRAM_API_URL=urls["telegram"],
        AIMPAY_TELEGRAM_WEBHOOK_SECRET=secret,
        AIMPAY_ADMIN_IDS=str(ADMIN_ID),
        AIMPAY_COURSE_CHAT_ID=str(COURSE_CHAT_ID),
        AIMPAY_COURSE_PRICE="4990.00",
        AIMPAY_YOOKASSA_SHOP_ID=SHOP_ID,
        AIMPAY_YOOKASSA_SECRET_KEY=SECRET_KEY,
        AIMPAY_YOOKASSA_API_URL=urls["yookassa"],
        AIMPAY_YOOKASSA_TRUSTED_NETWORKS="127.0.0.1/32",
        AIMPAY_RESEND_API_KEY=RESEND_KEY,
        AIMPAY_RESEND_API_URL=urls["resend"],
        AIMPAY_EMAIL_FROM="Course <course@example.com>",
    )
    return env


@dataclass(frozen=True)
class Server:
    base: str
    pid: int

    def cpu(self) -> float | None:
        return process_cpu(self.pid)


@contextlib.asynccontextmanager
async def server(
    env: dict[str, str],
    workdir: Path,
    layout: Layout,
    profile: Path | None,
    *,
    anchor_dir: Path | None = None,
    anchor_postgres: str | None = None,
) -> AsyncIterator[Server]:
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.server", "--port", str(port)]
    if profile is not None:
        command += ["--profile", str(profile)]
    if anchor_dir is not None:
        command += ["--anchor-dir", str(anchor_dir)]
    if anchor_postgres is not None:
        command += ["--anchor-postgres", anchor_postgres]
    # A scratch working directory: no stray .env is read. The server logs as `aimpay serve`
    # does, into a file (shown when it fails to start).
    log = workdir / f"server-{port}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(*command, cwd=workdir, env=env, stdout=sink, stderr=sink)
    try:
        pin(process.pid, layout.server)
        served = Server(f"http://127.0.0.1:{port}", process.pid)
        try:
            await wait_healthy(served.base, process)
        except RuntimeError:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        yield served
    finally:
        await stop(process)


async def wait_healthy(base: str, process: asyncio.subprocess.Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become healthy")


# ---------------------------------------------------------------------------------- the world


class World:
    """The stand-ins' control app: set-up and checks."""

    def __init__(self, control: str) -> None:
        self._control = control

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
            session.request(method, self._control + path, json=body) as response,
        ):
            response.raise_for_status()
            return await response.json()

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/stats")
        return result

    async def replied(self, chat_ids: Iterable[int]) -> int:
        return int((await self._call("POST", "/telegram/replied", {"chat_ids": list(chat_ids)}))["replied"])

    async def answered(self, users: Sequence[int], replies: StartReplies) -> int:
        """How many of ``users`` got a reply: inline in the webhook's answer, or one the Bot API saw."""
        inline = [u for u in users if u in replies.inline]
        return len(inline) + (await self.replied([u for u in users if u not in replies.inline]))

    async def succeed_pending(self) -> list[dict[str, Any]]:
        notifications: list[dict[str, Any]] = (await self._call("POST", "/yookassa/succeed-pending"))["notifications"]
        return notifications

    async def wait_for(self, condition: Callable[[dict[str, Any]], bool], timeout: float) -> float:
        """Seconds until ``condition(stats)`` held; ``TimeoutError`` past ``timeout``."""
        started = time.monotonic()
        while not condition(await self.stats()):
            if time.monotonic() - started > timeout:
                raise TimeoutError
            await asyncio.sleep(0.05)
        return time.monotonic() - started


class Users:
    """Fresh Telegram user ids: every ``/start`` of the benchmark is a new registration."""

    def __init__(self, first: int) -> None:
        self._next = first

    def take(self, n: int) -> list[int]:
        ids = list(range(self._next, self._next + n))
        self._next += n
        return ids


def update(user_id: int, text: str, message_id: int) -> bytes:
    body = message_update(
        user_id, text, first_name=f"User{user_id}", language_code="ru", update_id=user_id, message_id=message_id
    )
    return json.dumps(body).encode()


def start_update(user_id: int) -> bytes:
    return update(user_id, "/start", 1)


# ---------------------------------------------------------------------------------- scenarios


@dataclass
class Row:
    scenario: str
    run: Run
    bare: Run
    note: str = ""


@dataclass
class Burst:
    """``run.requests`` new users' ``/start`` at once over ``run.concurrency`` connections."""

    label: str
    run: Run
    outbox_at_end: int | None = None  # outbox messages still to deliver at the last answer
    drained: float | None = None  # seconds from the last answer until none was left


@dataclass(frozen=True)
class AnchorSpec:
    path: str  # /bench/anchor/{path}
    scenario: str
    note: str
    inline: bool  # answered inline (else: an empty 200 after sendMessage)
    table: bool  # inserts a row per /start (checked by counting them)


ANCHORS = {
    "inline": AnchorSpec(
        "inline",
        "anchor: aiogram inline",
        "minimal aiogram dispatcher (`feed_webhook_update`), `/start` answered inline in the webhook's answer; no database",
        inline=True,
        table=False,
    ),
    "send": AnchorSpec(
        "send",
        "anchor: aiogram + sendMessage",
        "the same, but the handler awaits `bot.send_message` (loopback Bot API); an empty 200",
        inline=False,
        table=False,
    ),
    "sqlite-pooled": AnchorSpec(
        "sqlite-pooled",
        "anchor: inline + 1 INSERT (SQLite, pooled)",
        "inline answer after one Core `INSERT` in its own transaction; one-table fresh file, WAL; "
        "`create_async_engine`'s default pool (AsyncAdaptedQueuePool, 5 + 10 overflow)",
        inline=True,
        table=True,
    ),
    "sqlite-single": AnchorSpec(
        "sqlite-single",
        "anchor: inline + 1 INSERT (SQLite, single connection)",
        "the same, with `pool_size=1, max_overflow=0` (requests queue for one connection)",
        inline=True,
        table=True,
    ),
    "postgres": AnchorSpec(
        "postgres",
        "anchor: inline + 1 INSERT (PostgreSQL)",
        "the same on a fresh PostgreSQL database; default pool (5 + 10 overflow), no pre-ping",
        inline=True,
        table=True,
    ),
}


@dataclass
class Bench:
    server: Server
    world: World
    secret: str
    concurrency: int
    scale: float
    profile: Path | None = None
    users: Users = field(default_factory=lambda: Users(10_000_000))
    problems: list[str] = field(default_factory=list)

    def n(self, count: int) -> int:
        return max(50, int(count * self.scale))

    @property
    def base(self) -> str:
        return self.server.base

    @property
    def telegram_headers(self) -> dict[str, str]:
        return {"X-Telegram-Bot-Api-Secret-Token": self.secret}

    def judge(self, what: str, run: Run) -> None:
        if run.errors:
            self.problems.append(f"{what}: {run.errors} errors, e.g. {run.examples}")

    async def _bare(self, sample: bytes, concurrency: int) -> Run:
        bodies = [sample] * self.n(BARE_REQUESTS)
        run = await blast(
            f"{self.base}/bench/bare",
            bodies,
            {},
            concurrency,
            expect_bare,
            warmup=bodies[: len(bodies) // 5],
            cpu=self.server.cpu,
        )
        self.judge(f"bare endpoint (concurrency {concurrency})", run)
        return run

    async def bare(self, sample: bytes) -> Run:
        return await self._bare(sample, self.concurrency)

    async def choose_concurrency(self, sample: bytes) -> dict[int, float]:
        """The connection count that gives the bare endpoint its best rate."""
        rates = {c: (await self._bare(sample, c)).rate for c in CONCURRENCY_CHOICES}
        self.concurrency = max(rates, key=lambda c: rates[c])
        return rates

    @contextlib.asynccontextmanager
    async def profiled(self) -> AsyncIterator[None]:
        if self.profile is None:
            yield
            return
        async with aiohttp.ClientSession() as session:
            await session.post(f"{self.base}/bench/profile/start")
            try:
                yield
            finally:
                await session.post(f"{self.base}/bench/profile/stop")

    async def starts(self, count: int, label: str) -> Row:
        bare = await self.bare(start_update(1))
        warm, timed = self.users.take(count // 5), self.users.take(count)
        replies = StartReplies()
        async with self.profiled():
            run = await blast(
                f"{self.base}/webhooks/telegram",
                replies.bodies(timed),
                self.telegram_headers,
                self.concurrency,
                replies,
                warmup=replies.bodies(warm),
                cpu=self.server.cpu,
            )
        self.judge("/start", run)
        await self.check_answered("/start", warm + timed, replies)
        return Row(
            f"`/start`, new user ({label})",
            run,
            bare,
            "registration (one `INSERT … ON CONFLICT DO NOTHING`; the blacklist read from a copy in memory) + "
            + replies.describe(len(warm) + len(timed)),
        )

    async def check_answered(self, what: str, users: Sequence[int], replies: StartReplies) -> None:
        answered = await self.world.answered(users, replies)
        if answered != len(users):
            self.problems.append(f"{what}: {answered} of {len(users)} new users got a reply")

    async def _get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as session, session.get(f"{self.base}{path}") as response:
            response.raise_for_status()
            return await response.json()

    async def anchor(self, spec: AnchorSpec, count: int) -> Row:
        """An anchor, measured like ``/start``: new users, the same connections, its own bare
        measurement right before it, every answer and the outcome checked."""
        bare = await self.bare(start_update(1))
        warm, timed = self.users.take(count // 5), self.users.take(count)
        replies = StartReplies(empty=not spec.inline, inline=spec.inline)
        run = await blast(
            f"{self.base}/bench/anchor/{spec.path}",
            replies.bodies(timed),
            self.telegram_headers,
            self.concurrency,
            replies,
            warmup=replies.bodies(warm),
            cpu=self.server.cpu,
        )
        self.judge(spec.scenario, run)
        await self.check_answered(spec.scenario, warm + timed, replies)
        if spec.table:
            rows = (await self._get(f"/bench/anchor/{spec.path}/rows"))["rows"]
            if rows != len(warm) + len(timed):
                self.problems.append(f"{spec.scenario}: {rows} rows inserted, expected {len(warm) + len(timed)}")
        return Row(spec.scenario, run, bare, spec.note)

    async def outbox(self) -> dict[str, int]:
        counts: dict[str, int] = await self._get("/bench/outbox")
        return counts

    async def burst(self, count: int, connections: int, label: str) -> Burst:
        """``count`` new users' ``/start`` in one go through the real webhook: ``connections``
        connections, each with one request in flight and the next as soon as it is answered; then
        the wait until the outbox has nothing left to deliver."""
        users = self.users.take(count)
        replies = StartReplies()
        run = await blast(
            f"{self.base}/webhooks/telegram",
            replies.bodies(users),
            self.telegram_headers,
            connections,
            replies,
            cpu=self.server.cpu,
        )
        ended = time.monotonic()
        self.judge(f"burst ({label})", run)
        await self.check_answered(f"burst ({label})", users, replies)
        burst = Burst(label, run)
        counts = await self.outbox()
        burst.outbox_at_end = counts["pending"]
        while counts["pending"]:
            if time.monotonic() - ended > OUTBOX_TIMEOUT:
                self.problems.append(f"burst ({label}): the outbox was not drained within {OUTBOX_TIMEOUT:.0f} s")
                return burst
            await asyncio.sleep(0.05)
            counts = await self.outbox()
        burst.drained = time.monotonic() - ended
        if counts["failed"]:
            self.problems.append(f"burst ({label}): {counts['failed']} outbox messages failed")
        return burst

    async def prepare_payments(self, count: int) -> list[bytes]:
        """``count`` new users go /start → /buy → their email through the webhook (untimed), each
        ending with a pending payment at the YooKassa stand-in; then all are paid there.
        Returns their ``payment.succeeded`` notifications."""
        users = self.users.take(count)
        before = (await self.world.stats())["payments"]
        steps: list[Callable[[int], bytes]] = [
            start_update,
            lambda u: update(u, "/buy", 2),
            lambda u: update(u, f"buyer{u}@example.com", 3),
        ]
        for step in steps:  # each user's messages in order, the users in parallel
            run = await blast(
                f"{self.base}/webhooks/telegram",
                [step(u) for u in users],
                self.telegram_headers,
                self.concurrency,
                expect_status(200),
            )
            self.judge("payment set-up", run)
        notifications = await self.world.succeed_pending()
        created = (await self.world.stats())["payments"] - before
        if len(notifications) != count or created != count:
            self.problems.append(
                f"payment set-up: {created} payments created, {len(notifications)} to confirm, expected {count}"
            )
        return [json.dumps(n).encode() for n in notifications]

    async def payments(self, count: int, label: str) -> list[Row]:
        sample = json.dumps(_SAMPLE_NOTIFICATION).encode()
        warm = await self.prepare_payments(count // 5)
        notifications = await self.prepare_payments(count)
        stats = await self.world.stats()
        url = f"{self.base}/webhooks/yookassa"

        bare = await self.bare(sample)
        run = await blast(
            url, notifications, {}, self.concurrency, expect_outcome("paid"), warmup=warm, cpu=self.server.cpu
        )
        self.judge("payment.succeeded", run)
        paid = Row(
            f"`payment.succeeded`, first ({label})",
            run,
            bare,
            "re-fetch (httpx, a kept-alive connection) + paid transaction with outbox rows",
        )

        # The outbox (invite link, Telegram messages, email) finishes before the next row.
        links = stats["invite_links"] + len(warm) + len(notifications)
        emails = stats["emails"] + len(warm) + len(notifications)
        try:
            drained = await self.world.wait_for(
                lambda s: s["invite_links"] >= links and s["emails"] >= emails, OUTBOX_TIMEOUT
            )
            paid.note += f"; the outbox delivered every invite link and email {drained:.1f} s after the last answer"
            pending = (await self.outbox())["pending"]
            if pending:
                paid.note += f", {pending} other outbox messages were still queued then"
        except TimeoutError:
            self.problems.append(
                f"the outbox did not deliver every invite link and email within {OUTBOX_TIMEOUT:.0f} s"
            )

        bare = await self.bare(sample)
        run = await blast(
            url, notifications, {}, self.concurrency, expect_outcome("unchanged"), warmup=warm, cpu=self.server.cpu
        )
        self.judge("duplicate payment.succeeded", run)
        duplicate = Row(
            f"`payment.succeeded`, duplicate ({label})", run, bare, "re-fetch + a transaction that changes nothing"
        )
        return [paid, duplicate]


# ---------------------------------------------------------------------------------- databases


def _plain(url: str, database: str | None = None) -> str:
    """``postgresql+asyncpg://...`` as asyncpg wants it (``postgresql://``), maybe another database."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, f"/{database}" if database else parts.path, parts.query, ""))


@contextlib.asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[str]:
    """A new, empty database on the server ``url`` names, dropped afterwards."""
    import asyncpg

    name = f"aimpay_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(_plain(url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            parts = urlsplit(url)
            yield urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", parts.query, ""))
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def postgres_version(url: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(_plain(url))
    try:
        return f"PostgreSQL {await connection.fetchval('SHOW server_version')} at {urlsplit(url).hostname}"
    finally:
        await connection.close()


# ---------------------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    http = "httptools" if find_spec("httptools") else "h11"
    return {
        "CPU": model,
        "cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        "server": f"uvicorn {version('uvicorn')} ({loop} loop, {http} parser, as `aimpay serve` picks them), one process",
    }


def cpu_ratio(row: Row) -> str:
    """Bare CPU per request over the scenario's: the ratio the server alone would allow."""
    if row.run.server_cpu is None or row.bare.server_cpu is None or not row.run.server_cpu:
        return "–"
    return f"{(row.bare.server_cpu / row.bare.requests) / (row.run.server_cpu / row.run.requests):.2f}"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| scenario | requests | concurrency | req/s | p50 ms | p99 ms | p99.9 ms | server CPU ms/req | bare req/s | ratio to bare | CPU ratio | one request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        r = row.run
        lines.append(
            f"| {row.scenario} | {r.requests} | {r.concurrency} | {r.rate:,.0f} | {r.percentile(50):.1f} | "
            f"{r.percentile(99):.1f} | {r.percentile(99.9):.1f} | {r.cpu_per_request} | {row.bare.rate:,.0f} | "
            f"{r.rate / row.bare.rate:.2f} | {cpu_ratio(row)} | {row.note} |"
        )
    bare_cpu = [row.bare.cpu_per_request for row in rows]
    lines.append("")
    lines.append(f"Server CPU per bare request: {', '.join(bare_cpu)} ms (one per row, in order).")
    return "\n".join(lines)


def burst_table(bursts: Sequence[Burst]) -> str:
    lines = [
        "| burst | requests | connections | all answered after s | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU ms/req | outbox at the last answer | outbox drained after s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for burst in bursts:
        r = burst.run
        at_end = "–" if burst.outbox_at_end is None else str(burst.outbox_at_end)
        drained = "not drained" if burst.drained is None else f"{burst.drained:.1f}"
        lines.append(
            f"| `/start`, new users ({burst.label}) | {r.requests} | {r.concurrency} | {r.seconds:.1f} | {r.rate:,.0f} | "
            f"{r.percentile(50):.1f} | {r.percentile(99):.1f} | {r.percentile(99.9):.1f} | {r.errors} | "
            f"{r.cpu_per_request} | {at_end} | {drained} |"
        )
    return "\n".join(lines)


def report(rows: Sequence[Row], bursts: Sequence[Burst], header: dict[str, str], seconds: float) -> str:
    lines = [
        "# aimpay benchmark",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` (`benchmarks/run.py`), in {seconds:.0f} s.",
        "",
        *(f"- **{key}**: {value}" for key, value in header.items()),
        "",
        table(rows),
        "",
        "The bare rate of each row is `POST /bench/bare` (a Starlette endpoint that reads the body and",
        'answers `{"ok":true}`, behind the same uvicorn and middleware) measured just before the row,',
        "with the same connections and a body of the same kind. Every `/start` comes from a new user.",
        "Payments are set up untimed (`/start`, `/buy`, the email, through the webhook; then paid at the",
        "YooKassa stand-in). Every answer and outcome is checked; a run with errors fails. A `/start` is",
        "answered either with an empty 200 after a `sendMessage` (which the Bot API stand-in must have",
        'seen) or inline, with a 200 whose JSON body is `{"method": "sendMessage", "chat_id": <the user>, ...}`;',
        "both count as the user's reply. Server CPU is user + system time of the server process (every",
        "thread) over the timed requests; the CPU ratio (bare CPU per request over the row's) is what",
        "the server alone would allow, steadier than the rate ratio when the load generator or a noisy",
        "neighbour limits the bare rate. Latency is from sending a request on a free connection to",
        "reading its answer; p99.9 is the second-slowest of 2,000 requests, the slowest of 1,000.",
        "",
        "**Anchors** (`benchmarks/anchors.py`) are served by the same server process on routes that",
        "exist only in `benchmarks/server.py`, and measured like the aimpay rows (same connections and",
        "load generator, new users, their own bare measurement right before each, every answer checked).",
        "Each is a minimal aiogram 3 `Dispatcher` (its own `Router`, one `CommandStart()` handler) behind",
        "a Starlette route that calls `dispatcher.feed_webhook_update(bot, update)`. Inline anchors answer",
        "with the handler's returned `message.answer(...)` as Telegram takes a webhook reply: the",
        "method's name under `method` beside its fields, put through `bot.session.prepare_value` as",
        "`aiogram.webhook.aiohttp_server` does for its multipart reply, as one JSON object. The `INSERT`",
        "anchors add one SQLAlchemy Core `INSERT` of the user (in its own transaction) into a one-table",
        "database: a fresh SQLite file (WAL, 30 s busy timeout, like the app's) or a fresh PostgreSQL",
        "database; the rows are counted afterwards.",
        "",
        "## Bursts",
        "",
        burst_table(bursts),
        "",
        f"A burst is {BURST_REQUESTS:,} `/start` of new users sent at once through the real webhook over",
        f"{BURST_CONNECTIONS} keep-alive connections, each with one request in flight and the next sent as",
        "soon as it is answered. On each server it comes after the anchors and before the payments, so",
        "the outbox holds only what `/start` queued. The time runs from the first request to the last answer; latencies",
        "count from a request's sending on its connection, not the time it waited in the client. Every",
        "answer and every reply is checked as above. The outbox is then polled (`GET /bench/outbox`:",
        "the rows neither delivered nor given up, counted on the app's engine) until nothing is left.",
    ]
    return "\n".join(lines) + "\n"


def profile_summary(path: Path, top: int = 20) -> str:
    """Event-loop-thread time by package (cProfile's own time per function, summed)."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    by: collections.Counter[str] = collections.Counter()
    for (file, _line, function), (_cc, _nc, own, _cum, _callers) in stats.items():
        if "site-packages/" in file:
            key = file.split("site-packages/", 1)[1].split("/", 1)[0]
        elif file.startswith(str(ROOT)):
            key = "aimpay " + file[len(str(ROOT)) + 1 :].split("/", 1)[0]
        elif file == "~":
            key = "built-in " + function
        else:
            key = "stdlib " + Path(file).name
        by[key] += own
    total = sum(by.values())
    return "\n".join(f"  {share / total * 100:5.1f}%  {key}" for key, share in by.most_common(top))


# ---------------------------------------------------------------------------------- main


async def bench_on(
    database_url: str,
    label: str,
    args: argparse.Namespace,
    layout: Layout,
    workdir: Path,
    header: dict[str, str],
    *,
    anchors: Sequence[str],
    anchor_dir: Path | None = None,
    anchor_postgres: str | None = None,
) -> tuple[list[Row], list[Burst], list[str]]:
    """The rows of one server: ``/start``, the ``anchors`` named, the burst, the payments. The burst
    comes before the payments, so the outbox holds only what it (and the ``/start`` before it)
    queued, not the payments' notices."""
    secret = secrets.token_hex(32)
    profile = workdir / f"profile-{label.lower()}.pstats" if args.profile else None
    async with (
        standins(layout) as urls,
        server(
            server_environment(database_url, urls, secret),
            workdir,
            layout,
            profile,
            anchor_dir=anchor_dir,
            anchor_postgres=anchor_postgres,
        ) as served,
    ):
        bench = Bench(served, World(urls["control"]), secret, args.concurrency, args.scale, profile)
        if not bench.concurrency:
            rates = await bench.choose_concurrency(start_update(1))
            header["connections"] = (
                f"{bench.concurrency} (the best bare rate of "
                + ", ".join(f"{c}: {r:,.0f}/s" for c, r in rates.items())
                + f", on the {label} server)"
            )
            args.concurrency = bench.concurrency
        wanted = set(args.only.split(",")) if args.only else {"start", "anchors", "burst", "payments"}
        rows = [await bench.starts(bench.n(START_REQUESTS), label)] if "start" in wanted else []
        for name in anchors if "anchors" in wanted else ():
            rows.append(await bench.anchor(ANCHORS[name], bench.n(ANCHOR_REQUESTS)))
        bursts = [await bench.burst(bench.n(BURST_REQUESTS), BURST_CONNECTIONS, label)] if "burst" in wanted else []
        if "payments" in wanted:
            rows += await bench.payments(bench.n(PAYMENT_REQUESTS), label)
    if profile is not None and profile.exists():
        print(
            f"\ncProfile of the server's event loop during /start ({label}), {profile}:\n{profile_summary(profile)}\n",
            file=sys.stderr,
        )
    return rows, bursts, bench.problems


async def main() -> int:
    parser = argparse.ArgumentParser(description="aimpay throughput benchmark (make bench)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every request count (default 1)")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="connections (default: the best of 8/16/32/64 for the bare endpoint)"
    )
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not give the server a CPU of its own")
    parser.add_argument(
        "--tmpfs", action="store_true", help="keep the SQLite file in /dev/shm instead of a temp dir on disk"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the server's event loop during /start (slows it down; keeps the files)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="where the markdown goes (default benchmarks/results.md)"
    )
    parser.add_argument(
        "--only",
        default="",
        help="a comma-separated subset of start,anchors,burst,payments (for working on one; then use --output)",
    )
    args = parser.parse_args()

    started = time.monotonic()
    layout = Layout.for_machine(args.pin)
    pin(os.getpid(), layout.others)
    header = machine()
    header["placement"] = layout.describe()
    scratch = Path("/dev/shm") if args.tmpfs and Path("/dev/shm").is_dir() else None
    workdir = Path(tempfile.mkdtemp(prefix="aimpay-bench-", dir=scratch))
    header["SQLite"] = f"{sqlite3.sqlite_version}, WAL, a fresh file on {'tmpfs' if scratch else 'disk'} ({workdir})"
    postgres = os.environ.get("AIMPAY_BENCH_POSTGRES_URL")
    rows: list[Row] = []
    bursts: list[Burst] = []
    problems: list[str] = []
    try:
        found, burst, trouble = await bench_on(
            f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            "SQLite",
            args,
            layout,
            workdir,
            header,
            anchors=("inline", "send", "sqlite-pooled", "sqlite-single"),
            anchor_dir=workdir,
        )
        rows, bursts, problems = rows + found, bursts + burst, problems + trouble
        if postgres:
            header["PostgreSQL"] = (
                await postgres_version(postgres) + ", a fresh database (and another for the PostgreSQL anchor)"
            )
            async with postgres_database(postgres) as url, postgres_database(postgres) as anchor_url:
                found, burst, trouble = await bench_on(
                    url, "PostgreSQL", args, layout, workdir, header, anchors=("postgres",), anchor_postgres=anchor_url
                )
                rows, bursts, problems = rows + found, bursts + burst, problems + trouble
        else:
            header["PostgreSQL"] = (
                "not measured (set AIMPAY_BENCH_POSTGRES_URL to a server where the user may create databases)"
            )
    finally:
        if not args.profile:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(rows, bursts, header, time.monotonic() - started)
    print(text)
    if problems:
        print("ERRORS (results not written):\n" + "\n".join(f"- {p}" for p in problems), file=sys.stderr)
        return 1
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
