"""How aimpay logs: one place that sets up the root logger for every command."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Our lines and the libraries' in one format at ``level``; ``fmt`` is ``text`` (for now the
    only one)."""
    logging.basicConfig(level=getattr(logging, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
