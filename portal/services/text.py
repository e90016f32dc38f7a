"""Words for people, marked in the services and translated when they are read.

The services know nothing of Flask. They mark a message with `_l` (`from portal.services.text
import lazy as _l`: pybabel extracts it like Flask-Babel's) and the web app connects the
translator once (`translate_with(flask_babel.gettext)`), so `str(message)` reads in the
language of the page that shows it. Without a translator, and for files that must stay in one
language (a CSV export), a message reads in English, the catalogs' source language.
"""

from __future__ import annotations

from typing import Protocol

from markupsafe import escape


class Translator(Protocol):
    """gettext with named parameters, e.g. Flask-Babel's `gettext`."""

    def __call__(self, string: str, /, **variables: object) -> str: ...


def english(string: str, /, **variables: object) -> str:
    """The message as written in the source, its parameters filled in."""
    return string % variables if variables else string


_translator: Translator = english


def translate_with(translator: Translator) -> None:
    """Read every message through this translator from now on (the web app's language)."""
    global _translator
    _translator = translator


class LazyText:
    """A message and its parameters, translated each time it is read."""

    __slots__ = ("string", "variables")

    def __init__(self, string: str, /, **variables: object) -> None:
        self.string = string
        self.variables = variables

    def __str__(self) -> str:
        return _translator(self.string, **self.variables)

    def __html__(self) -> str:
        """Escaped for a template (Jinja calls this rather than str)."""
        return str(escape(str(self)))

    def in_english(self) -> str:
        """The message in the source language, whatever the reader's."""
        return english(self.string, **self.variables)

    def __repr__(self) -> str:
        return f"LazyText({self.string!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyText):
            return (self.string, self.variables) == (other.string, other.variables)
        return str(self) == other

    def __hash__(self) -> int:
        return hash(self.string)


def lazy(string: str, /, **variables: object) -> LazyText:
    """Mark a message for translation; it is translated when read (`str`)."""
    return LazyText(string, **variables)
