"""What the forms of every page share: the one message for a bad token, errors as sentences."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

# A bad or missing CSRF token: one plain message instead of Flask-WTF's (English only).
CSRF_MESSAGE = _l("The page had expired or was opened elsewhere; nothing was changed. Try again.")


class LogoutForm(FlaskForm):
    """Only the CSRF token: on every staff page, in the bar."""


def form_problems(form: FlaskForm, expired: LazyString = CSRF_MESSAGE) -> list[str]:
    """The form's errors as sentences, in the reader's language; a bad token gets one message."""
    found: list[str] = []
    for name, errors in form.errors.items():
        if name == "csrf_token":
            found.append(str(expired))
        else:
            found.extend(str(error) for error in errors)
    return found


def stripped_choice(value: str | None) -> str | None:
    """A choice as sent, without surrounding blanks.

    Optional() takes a blank value ("\\r", " ") for no answer and skips the choice check, so the
    blank itself must not reach the code that reads the answer (it parsed as no enum: a 500).
    """
    return value.strip() if isinstance(value, str) else value
