"""``-p tests.plugins.require_services``: fail the run when a test that needs PostgreSQL, Redis or
the browser (Chromium and Playwright) was skipped. CI loads it, so a service that silently went
missing cannot turn the run green."""

from __future__ import annotations

import pytest

_SERVICE_MARKS = ("postgres", "redis", "browser")
_skipped: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and any(item.get_closest_marker(mark) for mark in _SERVICE_MARKS):
        _skipped.append(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _skipped:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped)} PostgreSQL/Redis/browser tests were skipped but this run requires them:", red=True
        )
        for nodeid in _skipped[:20]:
            terminalreporter.write_line(f"  {nodeid}", red=True)
