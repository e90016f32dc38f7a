"""The child's side: the school's page with its form, the receipt, and the conversation."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    make_response,
    render_template,
    request,
)
from werkzeug.exceptions import HTTPException

from portal.models import Inbox, School
from portal.services import intake, reports
from portal.web import errors, kdf_bound, ratelimit
from portal.web.child import pages
from portal.web.child.forms import (
    CATEGORY_LABELS,
    MAX_MESSAGE_CHARS,
    CheckForm,
    ReportForm,
    fresh_token,
    release_unused_token,
    token_was_used,
)
from portal.web.context import get_config, get_read_session, get_session, roll_back
from portal.web.i18n import select_language

bp = Blueprint("child", __name__)
bp.record_once(lambda state: pages.init_app(state.app))

_FORM_ENDPOINTS = ("child.send", "child.check")


def _school_or_404(code: str) -> tuple[School, Inbox | None]:
    """The active school of the code and the inbox its reports go to (None while none does).

    Both in one query: every statement costs the worker CPU that Argon2id could use
    (bench/child.py; tests/web/child/test_child_cost.py counts them).
    """
    found = reports.school_and_inbox(get_session(), code)
    if found is None:
        abort(404)
    return found


def _stored(_response: Response) -> bool:
    """Whether this request stored a message (only those count against the limits)."""
    return bool(g.get("message_stored", False))


def _failed_receipt(response: Response) -> bool:
    return response.status_code == 404


def _no_message() -> bool:
    """A post without text (reading answers with a receipt) is not limited as a message."""
    return not (request.form.get("message") or "").strip()


def _has_message() -> bool:
    return not _no_message()


# Reports and follow-ups count together, per client and over the whole service. The client's
# own count comes first: a client over its limit is refused without touching the shared ones.
_CLIENT_MESSAGES = ratelimit.Rule(
    "client-messages",
    ratelimit.client_messages,
    ratelimit.client_key,
    _stored,
    _no_message,
)
_ALL_MESSAGES = ratelimit.Rule(
    "all-messages", ratelimit.all_messages, ratelimit.everyone_key, _stored, _no_message
)

# Messages of clients that sent before take at most ratelimit.REPEAT_SHARE of the whole
# service's count; a client's first message is spared by this one (counted while there is
# room), so junk from addresses that already sent cannot fill the service's count against a
# child at a new address. Asked in the same round trip as the client's own count, before it.
_REPEAT_MESSAGES = ratelimit.Rule(
    "repeat-messages",
    ratelimit.repeat_messages,
    ratelimit.everyone_key,
    _stored,
    _no_message,
    spared_while_untouched=_CLIENT_MESSAGES,
)


def _send_rank() -> kdf_bound.Rank:
    """A client's first report before messages of clients that sent already (junk, mostly):
    the take of the report's limits asked, before its hits, whether the client had none."""
    first = ratelimit.untouched_when_taken(_CLIENT_MESSAGES)
    return kdf_bound.Rank.FIRST if first else kdf_bound.Rank.REPEAT


def _check_rank() -> kdf_bound.Rank:
    """Reading answers gives way to every message; a follow-up waits as a repeat message."""
    return kdf_bound.Rank.REPEAT if _has_message() else kdf_bound.Rank.CHECK


# A school's count refuses only clients that sent before: a flood of junk from a few addresses
# cannot silence a school for a child at another address (no message counted for it: issue
# 14), whose report still counts. Asked in the same round trip as the hits, before them.
_SCHOOL_MESSAGES = ratelimit.Rule(
    "school-messages",
    ratelimit.school_messages,
    ratelimit.school_key,
    _stored,
    spared_while_untouched=_CLIENT_MESSAGES,
)
_RECEIPT_FAILURES = ratelimit.Rule(
    "receipt-failures",
    ratelimit.receipt_failures,
    ratelimit.client_key,
    _failed_receipt,
)


def _first_try() -> bool:
    """The client has no wrong receipt counted: its check never waits on others' failures."""
    rule = _RECEIPT_FAILURES
    return ratelimit.untouched(rule.scope, rule.limits, rule.key)


# Wrong receipts stay bounded in total (a spread of addresses), but a client's first check
# is never refused because of others' failures. Taken before the client's own count (which
# makes it touched). Past either limit, a check still runs while the retries shared by
# everyone over theirs last: a right code opens its report, and gives its hits back.
_ALL_RECEIPT_FAILURES = ratelimit.Rule(
    "receipt-failures-all",
    ratelimit.all_receipt_failures,
    ratelimit.everyone_key,
    _failed_receipt,
    _first_try,
)
_RECEIPT_RETRIES = ratelimit.Rule(
    "receipt-retries", ratelimit.receipt_retries, ratelimit.everyone_key, _failed_receipt
)


def _already_sent() -> Response:
    """A page sent again (Back and Resend on a shared phone): nothing stored, nothing shown of
    the first time (no receipt, no conversation, no words), and no form to send it a third."""
    return errors.refusal_without_echo(409, "already-sent")


@bp.after_request
def _release_unused_token(response: Response) -> Response:
    release_unused_token(kept=_stored(response) or response.status_code == 200)
    return response


def _limited_page() -> Response:
    return errors.refusal(429, "limited")


def _wrong_codes_page() -> Response:
    return errors.refusal(429, "wrong-codes")


# Every receipt page has this many bytes, padded: its size must not tell a log or a network
# reader whether the child said they are in danger (the danger page has more to say).
THANKS_PAGE_BYTES = 12 * 1024


def _padded(page: str, size: int) -> str:
    """The page with an HTML comment at its end that brings it to `size` bytes (UTF-8).

    A longer page (tests/web/child/test_child_pages.py keeps every language's below `size`)
    goes to the next multiple of `size`: never a failure after the report is stored.
    """
    frame = len("\n<!--  -->")
    length = len(page.encode()) + frame
    if length > size:
        current_app.logger.warning("a thank-you page is longer than %d bytes", size)
    target = -(-length // size) * size
    return f"{page}\n<!-- {' ' * (target - length)} -->"


def _page(template: str, status: int = 200, **context: object) -> Response:
    """A child-side page; nothing of it may stay in the browser's cache (shared phones)."""
    return _not_stored(render_template(template, **context), status)


def _not_stored(page: str | bytes, status: int = 200) -> Response:
    """The page as a response the browser keeps no copy of."""
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _school_page(school: School, status: int = 200, **context: object) -> Response:
    return _page(
        "child/school.html",
        status,
        school=school,
        school_name=school.name_for(select_language()),
        **context,
    )


# The name school.html gives the form's hidden default button: Enter pressed in the form (in a
# radio, say) sends it as the submitter, and the page comes back with nothing sent (issue 16).
ENTER_FIELD = "enter"


def _form_page(school: School, form: ReportForm, status: int = 200, problem: str = "") -> Response:
    return _school_page(
        school,
        status,
        form=form,
        category_labels=CATEGORY_LABELS,
        max_chars=MAX_MESSAGE_CHARS,
        problem=problem,
    )


@bp.get("/s/<code>")
@bp.get("/S/<code>", endpoint="school_upper")
def school(code: str) -> Response:
    """The page a school's poster links to: numbers to call, the check word, the form.

    While no inbox receives the school's reports, no form: a child would write for nothing.
    """
    page = reports.school_for_page(get_read_session(), code)
    if page is None:
        abort(404)
    found, receiving = page
    if not receiving:
        return _school_page(found, closed=True)
    return _fresh_form_page(found)


def _fresh_form_page(found: School) -> Response:
    """The school's page with an empty form: kept rendered (child/pages.py) under what it shows,
    a new token put in for each request; the school was read from the database just before."""
    kept = pages.rendered_pages()
    key = (
        request.script_root,
        request.endpoint,  # /s/ or /S/: the language links keep the path as typed
        (request.view_args or {}).get("code"),
        select_language(),
        found.id,
        found.code,
        found.check_word,
        found.name_kk,
        found.name_ru,
    )
    parts = None if kept is None else kept.get(key)
    if parts is not None:
        before, after = parts
        return _not_stored(before + fresh_token(ReportForm).encode() + after)
    form = ReportForm()
    response = _form_page(found, form)
    if kept is not None:
        kept.keep(key, response.get_data(), str(form["csrf_token"].current_token).encode())
    return response


@bp.post("/s/<code>")
@ratelimit.limited(
    _CLIENT_MESSAGES, _SCHOOL_MESSAGES, _REPEAT_MESSAGES, _ALL_MESSAGES, refusal=_limited_page
)
# A child's first report goes before junk from addresses that sent already: a flood of it
# cannot fill the queue for a key derivation slot ahead of a child at a new address.
@kdf_bound.ranked(_send_rank)
def send(code: str) -> Response:
    """Store a report and show its receipt; any problem brings the form back, text in it."""
    found, inbox = _school_or_404(code)
    if inbox is None:
        # Nothing could seal the report: refused before the form is read, the text given back.
        # The log names no school or region (a refused child's trace); /healthz says the same.
        current_app.logger.warning(
            "a report was refused: no inbox receives its school's reports (flask inbox create)"
        )
        return errors.refusal(503, "closed")
    form = ReportForm()
    if ENTER_FIELD in request.form:
        # Enter, not "Send": the same page, everything in it, its token not taken (not validated).
        return _form_page(found, form, problem="not-sent")
    if not form.validate_on_submit():
        return _already_sent() if token_was_used() else _form_page(found, form, 400)
    if form.filled_by_a_bot():
        return _form_page(found, form, 400, problem="retry")
    sent = intake.send_report(
        get_session(),
        get_config(),
        found,
        intake.NewReport(
            category=form.chosen_category(),
            in_danger=form.in_danger(),
            text=form.message.data or "",
            grade=form.chosen_grade(),
        ),
        inbox,
    )
    g.message_stored = True
    return _not_stored(_padded(_thanks_page(sent), THANKS_PAGE_BYTES))


def _thanks_page(sent: intake.SentReport) -> str:
    """The thank-you page with its receipt: rendered once per language and kind with marks
    where the receipt goes (child/pages.py), the receipt filled in on this response's copy
    only; padded by the caller, as before."""
    kept = pages.receipt_pages()
    key = (request.script_root, select_language(), sent.in_danger)
    page = None if kept is None else kept.get(key)
    if page is None:
        page = render_template("child/thanks.html", sent=pages.MarkedReceipt(sent.in_danger))
        if kept is not None:
            kept.keep(key, page)
    return pages.fill(page, sent.receipt_groups)


def _without_receipt(form: CheckForm) -> CheckForm:
    """The form of a check whose token is refused: the words typed come back, never the receipt.

    Such a page sent again (Back and Resend on a shared phone) is refused again, so showing the
    receipt would be all it gives away (issue 20). A check refused for a moment (429, 500) keeps
    it to press Open again: sent again in the token's life it opens anyway, as the child's own
    retry must; past it, it meets this refusal.
    """
    form.receipt.data = ""
    return form


@bp.route("/check", methods=["GET", "POST"])
@ratelimit.limited(_CLIENT_MESSAGES, _REPEAT_MESSAGES, refusal=_limited_page)
# Too many wrong codes has its own page: "too many messages, press Send" told a child who sent
# none to press a button the page does not have.
@ratelimit.limited(
    _ALL_RECEIPT_FAILURES, _RECEIPT_FAILURES, refusal=_wrong_codes_page, retry=_RECEIPT_RETRIES
)
@ratelimit.limited(_ALL_MESSAGES, refusal=_limited_page)
# Reading answers gives way to new reports and follow-ups waiting for a key derivation slot: a
# flood of receipts, right or wrong, cannot keep a child's report from its receipt.
@kdf_bound.ranked(_check_rank)
def check() -> Response:
    """Open the conversation with the receipt; write more to it."""
    form = CheckForm()
    if request.method == "GET":
        return _page("child/check.html", form=form)
    if not form.validate_on_submit():
        if token_was_used():
            return _already_sent()
        return _page("child/check.html", 400, form=_without_receipt(form))
    view = intake.open_with_receipt(get_session(), get_config(), form.receipt.data or "")
    if view is None:
        return _page("child/check.html", 404, form=form, not_found=True)
    if form.message.data:
        view = intake.add_follow_up(get_session(), view, form.message.data)
        g.message_stored = True
        form.message.data = ""
    return _page("child/conversation.html", form=form, view=view)


@bp.errorhandler(Exception)
def trouble(error: Exception) -> Response | tuple[str, int]:
    """Too many messages or a failure of ours: the same form again, the text still in it."""
    status = (error.code or 500) if isinstance(error, HTTPException) else 500
    if status not in (429, 500) or request.endpoint not in _FORM_ENDPOINTS:
        return errors.handle_error(error)
    if status == 500:
        if not isinstance(error, HTTPException):
            current_app.logger.exception("failure on the child's side", exc_info=error)
        roll_back()
    problem = "limited" if status == 429 else "server"
    if request.endpoint == "child.check":
        return _page("child/check.html", status, form=CheckForm(), problem=problem)
    # Drawn from the request alone: the failure may be the database's, and the school's page
    # would need it (issue 19: with PostgreSQL down this lost the text).
    return errors.refusal(status, problem)


@bp.get("/robots.txt")
def robots() -> Response:
    """No search engine lists any page of the site: a school's page is for its poster's readers."""
    response = make_response("User-agent: *\nDisallow: /\n")
    response.mimetype = "text/plain"
    return response


@bp.get("/")
def index() -> Response:
    """The site's front page: what this is and the numbers to call."""
    return _page("child/index.html")
