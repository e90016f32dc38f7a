"""Logging that never records who a child is (P3), which school's page was used or how large
an answer was (issue 20), nor a staff enrolment link's token."""

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


# A school's page, its form's action and a poster's old code all name the school in the path
# (/s/CODE, /S/CODE). A log line that says which school's page was used, and when, joined
# with the school's network log, points at a device: the code becomes "-" (issue 20).
_SCHOOL_CODE = re.compile(r"(/[sS]/)[^\s\"/?]+")
SCHOOL_PAGE = r"/s/-"
# Werkzeug's request line: '"%s" %s %s' with the line, the status and the size.
_WERKZEUG_REQUEST = '"%s" %s %s\n'


def without_link_tokens(text: str) -> str:
    """The text with anything after the enrolment page's path cut out."""
    return _AFTER_ENROL_PATH.sub(ENROL_PATH + "/-", text)


def scrubbed(text: str) -> str:
    """The text with link tokens and school codes cut out of every path in it."""
    return _SCHOOL_CODE.sub(r"\1-", without_link_tokens(text))


class DropClientAddress(logging.Filter):
    """Replace the client address at the start of an access log line with '-'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _LEADING_ADDRESS.sub("- - - ", record.msg)
        return True


class DropLinkTokens(logging.Filter):
    """Cut whatever follows the enrolment page's path, and a school's code, out of a log line;
    the size of a response too (a page's size told whether a child said "in danger")."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(record.msg, str)
            and record.msg.endswith(_WERKZEUG_REQUEST)
            and isinstance(args, tuple)
            and len(args) == 3
        ):
            record.args = (args[0], args[1], "-")
        # Werkzeug passes the request line as an argument: judge the message as it will read.
        message = record.getMessage()
        cleaned = scrubbed(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def init_logging() -> None:
    """Keep client addresses, link tokens, school codes and sizes out of the development
    server's access log."""
    werkzeug_logger = logging.getLogger("werkzeug")
    for kind in (DropClientAddress, DropLinkTokens):
        if not any(isinstance(f, kind) for f in werkzeug_logger.filters):
            werkzeug_logger.addFilter(kind())
