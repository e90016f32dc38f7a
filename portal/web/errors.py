"""Error pages: kind, in the reader's language, always pointing to 111, never losing text."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

# The form field the child writes in; an error page gives its content back (P4).
TYPED_FIELD = "message"
# The other fields of the child's forms, sent again as they came with the refused request.
# Not the receipt: a page left open on a shared phone must not show it.
RESENT_FIELDS = ("csrf_token", "category", "danger", "grade")


def typed_text() -> str:
    """What the child typed, when this request carried a form that can still be read."""
    if request.method != "POST":
        return ""
    try:
        return request.form.get(TYPED_FIELD, "")
    except HTTPException:  # too large or malformed: there is nothing we can read back
        return ""


def render_error(error: HTTPException) -> tuple[str, int]:
    """The error page for an HTTP error, with the typed text to copy."""
    code = error.code or 500
    return render_template("errors/error.html", status=code, typed=typed_text()), code


def refusal(status: int, problem: str) -> Response:
    """The quick page of a refused child's message: why, and the text in a form to send again.

    A flood meets this page thousands of times a second, so it is small: no form machinery,
    no database, no school page; the fields come back as they were sent (P4).
    """
    try:
        form = request.form
    except HTTPException:  # too large or malformed: there is nothing we can read back
        form = None
    fields = {name: form.get(name, "") for name in RESENT_FIELDS} if form else {}
    page = render_template(
        "errors/refused.html",
        problem=problem,
        action=request.full_path.rstrip("?"),
        fields={name: value for name, value in fields.items() if value},
        typed=form.get(TYPED_FIELD, "") if form else "",
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # the page carries the typed text
    return response


def refusal_without_echo(status: int, problem: str) -> Response:
    """The refusal page with nothing of the request in it: no text, no fields, no form (a page
    sent again must show nothing of the first time)."""
    page = render_template("errors/refused.html", problem=problem, action="", fields={}, typed="")
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def render_server_error(error: Exception) -> tuple[str, int]:
    """The page for an unexpected failure: never a bare 500, always the numbers to call."""
    current_app.logger.exception("unexpected failure", exc_info=error)
    return render_error(InternalServerError())


def handle_error(error: Exception) -> tuple[str, int]:
    """The page for any error: HTTP errors as themselves, anything else as a 500."""
    if isinstance(error, HTTPException):
        return render_error(error)
    return render_server_error(error)


def init_app(app: Flask) -> None:
    """Register the error pages."""
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_server_error)


def store_unavailable(error: Exception) -> tuple[str, int]:
    """The staff session store (Redis) does not answer: a page that says so, not a 500."""
    # The kind of failure only: its text can carry the store's address.
    current_app.logger.warning("staff session store does not answer (%s)", type(error).__name__)
    g.pop("staff", None)  # the bar then offers nothing that needs a session
    return render_template("errors/store_down.html"), 503


def init_session_store(app: Flask) -> None:
    """Register the page of a session store that does not answer (with PORTAL_REDIS_URL)."""
    import redis  # the prod extra; only an app configured with Redis gets here

    app.register_error_handler(redis.exceptions.ConnectionError, store_unavailable)
    app.register_error_handler(redis.exceptions.TimeoutError, store_unavailable)
