"""Error pages: kind, in the reader's language, always pointing to 111."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError


def render_error(error: HTTPException) -> tuple[str, int]:
    """The error page for an HTTP error."""
    code = error.code or 500
    return render_template("errors/error.html", status=code), code


def render_server_error(_error: Exception) -> tuple[str, int]:
    """The page for an unexpected failure: never a bare 500, always the numbers to call."""
    return render_error(InternalServerError())


def init_app(app: Flask) -> None:
    """Register the error pages."""
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_server_error)
