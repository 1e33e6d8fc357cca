from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No ``AIMPAY_*`` variable from the caller's shell, and a working directory without a
    ``.env``: the settings a test sees are the ones it sets."""
    for name in list(os.environ):
        if name.startswith("AIMPAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
