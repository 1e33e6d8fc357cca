"""Plain text as simple HTML, for the HTML part of an email."""

from __future__ import annotations

import html
import re

_URL = re.compile(r"(https?://[^\s<]+)")


def as_html(plain: str) -> str:
    """A plain text as simple HTML for email: escaped, paragraphs kept, links clickable."""
    paragraphs = (html.escape(p).replace("\n", "<br>") for p in plain.split("\n\n"))
    linked = (_URL.sub(r'<a href="\1">\1</a>', p) for p in paragraphs)
    return "".join(f"<p>{p}</p>" for p in linked)
