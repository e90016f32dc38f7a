"""The child's forms (Flask-WTF), protected by a signed token in the form, not a cookie."""

from __future__ import annotations

import functools
import hashlib
import secrets
from typing import Any

from babel import support
from flask import current_app, g, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wtforms import Field, RadioField, SelectField, StringField, TextAreaField
from wtforms.csrf.core import CSRF
from wtforms.fields.choices import SelectChoice
from wtforms.form import BaseForm
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal import clock
from portal.enums import Category
from portal.services.codes import normalize_code
from portal.services.inputs import clean_text
from portal.web import ratelimit
from portal.web.forms import stripped_choice
from portal.web.i18n import select_language

MAX_MESSAGE_CHARS = 5000
# Long enough for a child who writes slowly, short enough that a leaked page soon stops working.
TOKEN_LIFETIME_SECONDS = 6 * 60 * 60
# How long a used token is remembered past its lifetime: a page kept in a phone's history and
# sent again days later (Back, Resend) still shows nothing of the first time (issue 20). One
# small key per stored message; past it the page is only "open for a long time".
USED_TOKEN_MEMORY_SECONDS = 7 * 24 * 60 * 60
# Where a used token is remembered (a hash of it: the token itself is in the page's HTML).
USED_PAGE = "form-page:"
ALREADY_SENT = _l(
    "This page was already sent. Nothing was sent again. To read the answer, type your code "
    "on the answers page. If you need help now, call 111."
)
GRADES = tuple(str(grade) for grade in range(1, 12))

CATEGORY_LABELS = {
    Category.HOME: _l("Someone hurts me at home"),
    Category.SCHOOL: _l("Someone hurts me at school"),
    Category.BULLYING: _l("Others bully me"),
    Category.ONLINE: _l("Someone bullies me online"),
    Category.SEXUAL: _l("Someone touches me in a bad way"),
    Category.SELF_HARM: _l("I feel very sad or want to hurt myself"),
    Category.OTHER: _l("Something else"),
}


class SignedTokenCSRF(CSRF):
    """A random nonce signed with the app secret and a timestamp, carried in the form.

    The child's side sets no cookie (P3), so the usual session-bound token cannot be used.
    A cross-site page cannot read a token out of our page, which is what CSRF needs; a
    token is bound to its form's purpose and expires after TOKEN_LIFETIME_SECONDS.
    """

    def setup_form(self, form: BaseForm) -> Any:
        """Remember which form this token protects (its purpose salts the signature)."""
        self.purpose = type(form).__name__
        return super().setup_form(form)

    def _serializer(self) -> URLSafeTimedSerializer:
        return _token_serializer(self.purpose)

    def generate_csrf_token(self, csrf_token_field: Field) -> str:
        """A fresh signed token (an HMAC: no storage touched while a page is only viewed)."""
        return _fresh_token(self.purpose)

    def validate_csrf_token(self, form: BaseForm, field: Field) -> None:
        """Refuse a missing, forged, expired or used token with a message for the child.

        A good token is claimed, once, where every instance sees it (ratelimit.claim_once),
        for what is left of its lifetime and USED_TOKEN_MEMORY_SECONDS more; the view gives it
        back when nothing was stored or shown (release_unused_token). A page sent again (Back
        and Resend on a shared phone), even once its token has expired, then stores nothing
        twice and shows no receipt, conversation or words (issue 20).
        """
        claim = USED_PAGE + hashlib.sha256(str(field.data).encode()).hexdigest()[:32]
        try:
            _nonce, issued = self._serializer().loads(
                field.data or "", max_age=TOKEN_LIFETIME_SECONDS, return_timestamp=True
            )
        except SignatureExpired:
            if ratelimit.claimed(claim):  # expired, but it was used: nothing of that time
                g.form_token_used = True
                raise ValidationError(ALREADY_SENT) from None
            raise ValidationError(
                _l("This page was open for a long time. Your text is still here: press Send again.")
            ) from None
        except BadSignature:
            raise ValidationError(
                _l("Something went wrong. Your text is still here: press Send again.")
            ) from None
        left = TOKEN_LIFETIME_SECONDS - int((clock.now() - issued).total_seconds())
        if not ratelimit.claim_once(claim, left + 1 + USED_TOKEN_MEMORY_SECONDS):
            g.form_token_used = True
            raise ValidationError(ALREADY_SENT)
        g.form_token_claim = claim


def _token_serializer(purpose: str) -> URLSafeTimedSerializer:
    """The signer of the request's tokens for forms of this purpose (the form class's name)."""
    secret: str = current_app.config["SECRET_KEY"]
    # Bound to the school's code and the page's language as well: a token of one school's
    # page does not send another's form (a hostile page cannot mint tokens for any school).
    code = normalize_code(str((request.view_args or {}).get("code", ""))) or ""
    salt = f"csrf:{purpose}:{code}:{select_language()}"
    return URLSafeTimedSerializer(secret, salt=salt)


def _fresh_token(purpose: str) -> str:
    return str(_token_serializer(purpose).dumps(secrets.token_urlsafe(8)))


def fresh_token(form: type[ChildForm]) -> str:
    """The token a new form of this class would carry in this request, without building the
    form (the school page's cached HTML takes only a new token, views.school)."""
    return _fresh_token(form.__name__)


def token_was_used() -> bool:
    """Whether this request's form came with a token used before (a page sent again)."""
    return bool(g.get("form_token_used", False))


def release_unused_token(kept: bool) -> None:
    """After the response: give the request's token back unless it stored or showed something
    (`kept`), so the page with the text in it can be sent again."""
    claim = g.pop("form_token_claim", None)
    if claim is not None and not kept:
        ratelimit.unclaim(claim)


@functools.lru_cache(maxsize=8)
def wtforms_messages(locale: str) -> support.NullTranslations:
    """WTForms' own messages ("Not a valid choice") in one language, read once per process."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class ChildForm(FlaskForm):
    """Base of the child's forms: the signed-token CSRF, never the session."""

    class Meta:
        csrf = True
        csrf_class = SignedTokenCSRF
        csrf_context = None

        def get_translations(self, form: BaseForm) -> support.NullTranslations | None:
            """The catalog of the page's language. Flask-WTF's own reads and parses the catalog
            file again in every request that makes a form (~0.3 ms of each GET and POST)."""
            locale = get_locale()
            return None if locale is None else wtforms_messages(str(locale))


class ReportForm(ChildForm):
    """The report a child sends from the school's page."""

    category = RadioField(
        _l("What is it about?"),
        choices=[
            SelectChoice(category.value, label) for category, label in CATEGORY_LABELS.items()
        ],
        filters=[stripped_choice],
        validators=[Optional()],
    )
    message = TextAreaField(
        _l("Write what happened"),
        filters=[clean_text],
        validators=[
            DataRequired(_l("Please write a few words about what happened.")),
            Length(
                max=MAX_MESSAGE_CHARS,
                message=_l("Your text is too long. Please make it shorter, then press Send."),
            ),
        ],
    )
    danger = RadioField(
        _l("Are you in danger right now?"),
        choices=[SelectChoice("no", _l("No")), SelectChoice("yes", _l("Yes, I am in danger now"))],
        default="no",
        filters=[stripped_choice],
        validators=[Optional()],
    )
    grade = SelectField(
        _l("Your grade (if you want)"),
        choices=[SelectChoice("", "—"), *(SelectChoice(grade) for grade in GRADES)],
        default="",
        filters=[stripped_choice],
        validators=[Optional()],
    )
    # A field people never see: bots fill every field they find.
    homepage = StringField(validators=[Optional()])

    def chosen_category(self) -> Category:
        """The chosen category, or "something else" when none was chosen."""
        return Category.parse(self.category.data) if self.category.data else Category.OTHER

    def in_danger(self) -> bool:
        """The child said they are in danger right now."""
        answer: str | None = self.danger.data
        return answer == "yes"

    def chosen_grade(self) -> int | None:
        """The grade, when given."""
        return int(self.grade.data) if self.grade.data else None

    def filled_by_a_bot(self) -> bool:
        """The hidden field has a value: no person sees it to type in it."""
        filled: str | None = self.homepage.data
        return bool(filled)


class CheckForm(ChildForm):
    """The receipt, to read the answers; and optionally a new message."""

    receipt = StringField(
        _l("Your code (16 digits)"),
        validators=[DataRequired(_l("Please type the 16 digits of your code."))],
    )
    message = TextAreaField(
        _l("Write more"),
        filters=[clean_text],
        validators=[
            Optional(),
            Length(
                max=MAX_MESSAGE_CHARS,
                message=_l("Your text is too long. Please make it shorter, then press Send."),
            ),
        ],
    )
