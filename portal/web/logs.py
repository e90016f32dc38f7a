"""Logging that never records who a child is (P3)."""

from __future__ import annotations

import logging
import re

# Werkzeug's request lines start with the client address: "203.0.113.9 - - [date] ...".
_LEADING_ADDRESS = re.compile(r"^\S+ - - ")


class DropClientAddress(logging.Filter):
    """Replace the client address at the start of an access log line with '-'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _LEADING_ADDRESS.sub("- - - ", record.msg)
        return True


def init_logging() -> None:
    """Keep client addresses out of the development server's access log."""
    werkzeug_logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropClientAddress) for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(DropClientAddress())
