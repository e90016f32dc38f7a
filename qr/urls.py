"""The URL a poster's QR code encodes, and the short form printed under it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Crockford base32: digits and capitals without I, L, O, U (never misread when typed).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
_CODE_RE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
# Printable ASCII without space: a base URL goes into a QR code and onto paper as is.
_ASCII_URL_RE = re.compile(r"[!-~]+")


class BadBaseURL(ValueError):
    """The base URL is not an absolute http(s) URL that a poster can print."""


class BadSchoolCode(ValueError):
    """A school code is not 8 characters of uppercase Crockford base32."""


def validate_code(code: str) -> str:
    """Return the code if it is 8 uppercase Crockford base32 characters, else raise."""
    if not _CODE_RE.fullmatch(code):
        raise BadSchoolCode(
            f"bad school code {code!r}: expected {CODE_LENGTH} characters of {CODE_ALPHABET}"
        )
    return code


def validate_base_url(url: str) -> str:
    """Return the normalised base URL (lowercase scheme and host, no trailing '/')."""
    if not isinstance(url, str) or not _ASCII_URL_RE.fullmatch(url):
        # Non-ASCII would force QR byte mode and print ambiguously; ask for punycode.
        raise BadBaseURL(f"bad base URL {url!r}: use plain ASCII without spaces (punycode host)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadBaseURL(f"bad base URL {url!r}: it must start with https:// or http://")
    if "?" in url or "#" in url:
        raise BadBaseURL(f"bad base URL {url!r}: no query (?) or fragment (#) allowed")
    if parts.username is not None or parts.password is not None:
        raise BadBaseURL(f"bad base URL {url!r}: no user name or password allowed")
    host = parts.hostname
    if not host or not re.fullmatch(r"[a-z0-9.\-\[\]:]+", host) or host.startswith("."):
        raise BadBaseURL(f"bad base URL {url!r}: it has no valid host")
    try:
        port = parts.port
    except ValueError:
        raise BadBaseURL(f"bad base URL {url!r}: bad port") from None
    netloc = parts.netloc.lower()
    if port is not None and port == {"http": 80, "https": 443}[scheme]:
        netloc = netloc.rsplit(":", 1)[0]  # the default port only lengthens the code
    path = parts.path.rstrip("/")
    if "//" in path or "/./" in f"{path}/" or "/../" in f"{path}/":
        raise BadBaseURL(f"bad base URL {url!r}: unusual path")
    return f"{scheme}://{netloc}{path}"


def school_url(base_url: str, code: str) -> str:
    """The URL encoded in a school's QR code: BASE/S/CODE, uppercased when BASE has no path."""
    base = validate_base_url(base_url)
    url = f"{base}/S/{validate_code(code)}"
    if urlsplit(base).path == "":
        # Scheme and host are case-insensitive and the server accepts /S/ in any case:
        # an all-uppercase URL fits QR alphanumeric mode, which gives a smaller code.
        return url.upper()
    return url  # a path may be case-sensitive on the server: keep it as given


def printed_url(base_url: str, code: str) -> str:
    """The short URL printed under the QR code: no scheme, lowercase host, e.g. qr111.kz/s/CODE."""
    base = validate_base_url(base_url)
    return f"{base.split('://', 1)[1]}/s/{validate_code(code)}"
