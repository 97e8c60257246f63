"""How much of a stored error (a sync run's, a channel's last) a reader is shown.

A failed run stores its exception with a short traceback for Operations; readers without
that role (Support, Viewer) see only the first line, and no path of the server's files.
"""
from __future__ import annotations

import re

# A filesystem path (two or more segments) not part of a URL ("http://host/a/b" keeps its
# path: it is preceded by the host, a word character).
_PATH = re.compile(r"(?<![\w:/.\-])(?:[A-Za-z]:)?[/\\](?:[\w.\-]+[/\\])+[\w.\-]+")


def first_line(text: str | None, length: int = 120) -> str:
    """The first non-blank line of a (multi-line) error, shortened."""
    line = next((l.strip() for l in (text or "").splitlines() if l.strip()), "")
    return line if len(line) <= length else line[:length - 1] + "…"


def for_reader(text: str | None) -> str:
    """The first line of an error, without tracebacks or server paths."""
    line = first_line(text, 300)
    if line.startswith("Traceback"):
        return "the job failed (details in the server log)"
    return _PATH.sub("[path]", line)
