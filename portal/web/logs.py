"""Logging that never records who a child is (P3), nor a staff enrolment link's token."""

from __future__ import annotations

import logging
import re

# Werkzeug's request lines start with the client address: "203.0.113.9 - - [date] ...".
_LEADING_ADDRESS = re.compile(r"^\S+ - - ")
# The enrolment page (desk.enrol) has no sub-path and takes no query: whatever follows its path
# in a request line is a link token sent the wrong way (an old link, a hand-edited one), and a
# log reader must not get to use it (security review, issue 13).
ENROL_PATH = "/staff/people/enrol"
_AFTER_ENROL_PATH = re.compile(re.escape(ENROL_PATH) + r"[^\s\"]+")


def without_link_tokens(text: str) -> str:
    """The text with anything after the enrolment page's path cut out."""
    return _AFTER_ENROL_PATH.sub(ENROL_PATH + "/-", text)


class DropClientAddress(logging.Filter):
    """Replace the client address at the start of an access log line with '-'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _LEADING_ADDRESS.sub("- - - ", record.msg)
        return True


class DropLinkTokens(logging.Filter):
    """Cut whatever follows the enrolment page's path out of a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Werkzeug passes the request line as an argument: judge the message as it will read.
        message = record.getMessage()
        cleaned = without_link_tokens(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def init_logging() -> None:
    """Keep client addresses and link tokens out of the development server's access log."""
    werkzeug_logger = logging.getLogger("werkzeug")
    for kind in (DropClientAddress, DropLinkTokens):
        if not any(isinstance(f, kind) for f in werkzeug_logger.filters):
            werkzeug_logger.addFilter(kind())
