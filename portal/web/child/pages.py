"""The school page's HTML kept in each worker: rendered once per school, code and language,
only its form token made anew for each request (issue 17).

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
from collections.abc import Hashable

from flask import current_app
from flask.sansio.app import App

_EXTENSION = "portal.web.child.pages"
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


def init_app(app: App) -> None:
    """Give the app its own pages (an app's templates and settings make its pages)."""
    app.extensions[_EXTENSION] = RenderedPages()


def rendered_pages() -> RenderedPages | None:
    """The current app's pages; None while templates reload when edited (development), so
    that an edit shows at once."""
    if current_app.jinja_env.auto_reload:
        return None
    pages: RenderedPages = current_app.extensions[_EXTENSION]
    return pages
