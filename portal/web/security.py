"""Security headers for every response, in one place."""

from __future__ import annotations

from flask import Flask, Response

# No third party and no inline script: our stylesheet, our images, one small script of ours.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # data: for the empty icon (<link rel="icon" href="data:,">), which saves a request.
        "img-src 'self' data:",
        # The inbox's script looks for new reports in the same page (desk/inbox.js).
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
HSTS = "max-age=63072000; includeSubDomains"
# Nothing the portal answers stays in a browser's or a proxy's cache, whatever it is: a child's
# page, an error page (a 404 on a rotated code gives the typed text back), a style sheet (a
# cached one still says the phone visited). A shared phone's cache is a parent's to read.
CACHE_CONTROL = "no-store"


def init_app(app: Flask, *, https: bool = False) -> None:
    """Add the headers to every response, error pages included."""

    def add_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        # Set, not defaulted: Flask's static files say "no-cache", which still stores them.
        response.headers["Cache-Control"] = CACHE_CONTROL
        if https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    app.after_request(add_headers)
