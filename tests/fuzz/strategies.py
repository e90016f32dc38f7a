"""What the fuzzer sends: text no form expects, bodies no view expects, cookies no one set."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import strategies as st

# Characters that have broken web apps: NUL and other controls, bidi overrides and isolates,
# zero-width joiners, the BOM, lone surrogates' neighbours, the replacement character, the last
# code point, combining marks, RTL and Kazakh letters, HTML and SQL and format-string syntax.
NASTY = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\xa0\r\n\t"
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\ufeff\ufffd\ufffe\U0010ffff\u0301\u0336مرحباқғүұөһі🆘👩‍👧"
    "<>&\"'`%{}$\\/;:=?#[]|*"
)
NASTY_WORDS = (
    "",
    " ",
    "\x00",
    "../../etc/passwd",
    "%00",
    "%",
    "%zz",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{7*7}}",
    "%s%n%x",
    "\u202egnp.exe",
    "NaN",
    "-1",
    "0",
    "9" * 40,
    "1e309",
    "null",
    "None",
    "true",
    "0000 0000 0000 0000",
    "1234-5678-9012-3456",
)
# Sizes around the limits: a message's 5000 characters, the 256 KiB body.
SIZES = (0, 1, 4999, 5000, 5001, 20_000, 300_000)

text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(NASTY), max_size=40),
    st.sampled_from(NASTY_WORDS),
    st.builds(
        lambda ch, size: ch * size, st.sampled_from("xЖ🆘\x00\u202e "), st.sampled_from(SIZES)
    ),
)
"""Any value a field may receive."""

# What a header can carry (latin-1), with the bytes that confuse parsers.
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=200,
)

path_segment = st.one_of(text, st.sampled_from(("", ".", "..", "%2F", "%", "a/b"))).map(
    lambda value: quote(value.encode("utf-8", "surrogatepass"), safe="%/.")
)
"""A path segment as it arrives on the wire: percent-encoded, or raw junk."""

WRONG_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND")
CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=koi8-r",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz",
    "application/json",
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "",
    ";;;",
    "text/html; charset=\x00",
)
raw_body = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        (
            b"message=%FF%FE%00&csrf_token=%",
            b"message=\xff\xfe\xfd",
            b'{"message": "\\u0000"}',
            b'--xyz\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n--xyz--\r\n',
            b'--xyz\r\nContent-Disposition: form-data; name="message"; filename="a.exe"\r\n'
            b"Content-Type: application/x-msdownload\r\n\r\nMZ\x00\x00\r\n--xyz--\r\n",
            b"a=" + b"&a=" * 2000,
            b"=" * 1000,
        )
    ),
)
"""A body that no form of ours sends."""

cookies = st.one_of(
    st.none(),
    header_text,
    st.builds(
        lambda name, value: f"{name}={value}",
        st.sampled_from(("qr111_staff", "session", "csrf_token", "lang")),
        header_text.filter(lambda value: ";" not in value),
    ),
)
"""A Cookie header: none, junk, or one of our cookie names with a junk value."""

accept_language = st.one_of(
    st.none(),
    st.sampled_from(("kk", "ru,en;q=0.5", "*", "en;q=abc", "zz-ZZ", ";q=1", ",,,")),
    header_text,
)
