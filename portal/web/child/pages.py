"""The school page's HTML kept in each worker: rendered once per school, code and language,
only its form token made anew for each request (issue 17). The thank-you page likewise, per
language and kind, with marks where the receipt goes (ReceiptPages: it never holds one).

Rendering the page (the template, ~20 translated texts, the form's fields) was two thirds of
its CPU; the page is the same for every child of a school who opens it in one language, but
for the token. What the page shows is in the key (the school's code, check word and names, the
path as typed, the language), and the school is still read from the database at every request
before the cache is asked: a rotated or deactivated code finds no school at once, on every
instance, and a new code or name makes a new key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from flask import current_app
from flask.sansio.app import App

_EXTENSION = "portal.web.child.pages"
_RECEIPT_EXTENSION = "portal.web.child.pages.receipts"
# Pages kept per worker (~6 KB each, so ~6 MB at most): every school's page in one language,
# or the busiest ones in all three; a page pushed out is rendered again when next asked for.
MAX_PAGES = 1024


class RenderedPages:
    """The most recently used pages, each as the bytes before and after its form token."""

    def __init__(self, size: int = MAX_PAGES) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, tuple[bytes, bytes]] = OrderedDict()
        # A gthread worker serves pages from many threads at once.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable) -> tuple[bytes, bytes] | None:
        """The page kept under the key, as the bytes around its token; None if none is."""
        with self._lock:
            parts = self._pages.get(key)
            if parts is not None:
                self._pages.move_to_end(key)
            return parts

    def keep(self, key: Hashable, page: bytes, token: bytes) -> bool:
        """Keep a rendered page under the key, split around its token; False (nothing kept)
        unless the token is in it exactly once."""
        parts = page.split(token)
        if len(parts) != 2:
            return False
        with self._lock:
            self._pages[key] = (parts[0], parts[1])
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return True

    def clear(self) -> None:
        """Forget every page."""
        with self._lock:
            self._pages.clear()


# Where the thank-you page's receipt goes, four groups of four digits: marks no page has (no
# digits, no character HTML escapes), each written twice (the digits and their aria-label).
RECEIPT_MARKS = tuple(f"~receipt-group-{letter}~" for letter in "abcd")


@dataclass(frozen=True)
class MarkedReceipt:
    """What child/thanks.html reads of a sent report, with marks for the receipt's groups."""

    in_danger: bool
    receipt_groups: tuple[str, ...] = RECEIPT_MARKS


class ReceiptPages:
    """The thank-you page per language and kind (in danger or not), rendered once with
    RECEIPT_MARKS where the receipt goes (issue 17: ~0.4 ms of a submission's CPU).

    It never holds a receipt: only pages rendered with the marks are kept, and each response
    fills the marks in on its own copy (fill). The page is padded after that, as before.
    """

    def __init__(self) -> None:
        self._pages: dict[Hashable, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable) -> str | None:
        """The marked page kept under the key, or None."""
        with self._lock:
            return self._pages.get(key)

    def keep(self, key: Hashable, page: str) -> bool:
        """Keep a marked page (3 languages x 2 kinds: no bound needed); False (nothing kept)
        unless each mark is in it."""
        if not all(mark in page for mark in RECEIPT_MARKS):
            return False
        with self._lock:
            self._pages[key] = page
        return True

    def pages(self) -> list[str]:
        """Every page kept (for the tests: none may hold a receipt)."""
        with self._lock:
            return list(self._pages.values())


def fill(page: str, groups: Sequence[str]) -> str:
    """The marked page with the receipt's groups in place of the marks."""
    if len(groups) != len(RECEIPT_MARKS):
        raise ValueError(f"a receipt has {len(RECEIPT_MARKS)} groups, not {len(groups)}")
    for mark, group in zip(RECEIPT_MARKS, groups, strict=True):
        page = page.replace(mark, group)
    return page


def init_app(app: App) -> None:
    """Give the app its own pages (an app's templates and settings make its pages)."""
    app.extensions[_EXTENSION] = RenderedPages()
    app.extensions[_RECEIPT_EXTENSION] = ReceiptPages()


def receipt_pages() -> ReceiptPages | None:
    """The current app's marked thank-you pages; None while templates reload (development)."""
    if current_app.jinja_env.auto_reload:
        return None
    pages: ReceiptPages = current_app.extensions[_RECEIPT_EXTENSION]
    return pages


def rendered_pages() -> RenderedPages | None:
    """The current app's pages; None while templates reload when edited (development), so
    that an edit shows at once."""
    if current_app.jinja_env.auto_reload:
        return None
    pages: RenderedPages = current_app.extensions[_EXTENSION]
    return pages
