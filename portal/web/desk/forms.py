"""The desk's forms (Flask-WTF, CSRF bound to the staff browser's session): login, the
report's actions, and the invitee's enrolment."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal.services import labels
from portal.services.triage import MAX_TEXT
from portal.web.forms import stripped_choice
from portal.web.i18n import LANGUAGE_NAMES


class LoginForm(FlaskForm):
    """Email, password and the six digits of the authenticator app."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        _l("Code from the authenticator app"), validators=[DataRequired(), Length(max=12)]
    )


class TextForm(FlaskForm):
    """A reply to the child, or an internal note."""

    text = TextAreaField(
        validators=[DataRequired(_l("Write something first.")), Length(max=MAX_TEXT)]
    )


class StatusForm(FlaskForm):
    """Move the report along the workflow; a referral says where."""

    status = SelectField(choices=[SelectChoice(s.value, text) for s, text in labels.STATUS.items()])
    agency = SelectField(
        choices=[SelectChoice("", "—")]
        + [SelectChoice(agency.value, text) for agency, text in labels.AGENCY.items()],
        filters=[stripped_choice],
        validators=[Optional()],
    )
    note = TextAreaField(validators=[Optional(), Length(max=MAX_TEXT)])


class PriorityForm(FlaskForm):
    """Another priority, with the reason (kept sealed, as a note)."""

    priority = SelectField(
        choices=[SelectChoice(priority.value, text) for priority, text in labels.PRIORITY.items()]
    )
    reason = TextAreaField(validators=[DataRequired(_l("Give the reason.")), Length(max=MAX_TEXT)])


class AssignForm(FlaskForm):
    """Give the report to a member of its inbox ('' for nobody)."""

    assignee = SelectField(validators=[Optional()], validate_choice=False)


_PASSWORD = [
    DataRequired(_l("Type the password.")),
    Length(max=1024, message=_l("That password is too long: at most 1024 characters.")),
]
_CODE = [
    DataRequired(_l("Type the six digits the app shows.")),
    Length(max=12, message=_l("The code is six digits.")),
]


class OpenLinkForm(FlaskForm):
    """The enrolment link, put here from the address's fragment by desk/enrol.js or pasted."""

    link = StringField(
        _l("The link you were given"),
        validators=[
            DataRequired(_l("Paste the whole link you were given.")),
            Length(max=2048, message=_l("That is not an enrolment link.")),
        ],
    )


class NewAccountForm(FlaskForm):
    """The invitee's password, twice."""

    password = PasswordField(_l("Choose a password"), validators=_PASSWORD)
    password_again = PasswordField(
        _l("The same password again"),
        validators=[
            DataRequired(_l("Type the password a second time.")),
            EqualTo("password", _l("The two passwords are not the same.")),
        ],
    )


class ResetForm(FlaskForm):
    """The member's current password, before a new secret is shown."""

    password = PasswordField(_l("Your password"), validators=_PASSWORD)


class CodeForm(FlaskForm):
    """The code confirming the authenticator entry just scanned."""

    code = StringField(_l("Code from the authenticator app"), validators=_CODE)


class NotificationForm(FlaskForm):
    """A member's notification choices (services/notify.set_choices checks the address)."""

    address = StringField(_l("Send to (empty: my login e-mail)"), validators=[Length(max=254)])
    p1_at_once = BooleanField(_l("A new P1 report in my inboxes, at once"))
    digest = BooleanField(_l("Each morning, how many P2/P3 reports wait for a reply"))
    language = SelectField(
        _l("Language of the notifications"),
        choices=[SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()],
    )
