"""The staff's forms (Flask-WTF, CSRF bound to the staff browser's session)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal import labels
from portal.forms import stripped_choice
from portal.triage import MAX_TEXT

# A bad or missing CSRF token: one plain message instead of Flask-WTF's (English only).
CSRF_MESSAGE = _l("The page had expired or was opened elsewhere; nothing was changed. Try again.")


class LoginForm(FlaskForm):
    """Email, password and the six digits of the authenticator app."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        _l("Code from the authenticator app"), validators=[DataRequired(), Length(max=12)]
    )


class LogoutForm(FlaskForm):
    """Only the CSRF token: on every staff page, in the bar."""


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


def form_problems(form: FlaskForm, expired: LazyString = CSRF_MESSAGE) -> list[str]:
    """The form's errors as sentences, in the reader's language; a bad token gets one message."""
    found: list[str] = []
    for name, errors in form.errors.items():
        if name == "csrf_token":
            found.append(str(expired))
        else:
            found.extend(str(error) for error in errors)
    return found


# ---- people and inboxes (portal/people.py), and the enrolment page -------------------


class InviteForm(FlaskForm):
    """Who to invite, with which role; a school account also names its schools."""

    email = EmailField(
        _l("Email"),
        validators=[
            DataRequired(_l("Enter the email address.")),
            Length(max=254, message=_l("An email address has at most 254 characters.")),
        ],
    )
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role.value, text) for role, text in labels.ROLE.items()],
        default="triage",
        invalid_choice_message=_l("Choose admin, triage or school."),
    )
    schools = TextAreaField(
        _l("School ids (school accounts only; commas or one per line)"),
        validators=[Optional(), Length(max=20000, message=_l("Too many school ids at once."))],
    )


class ActionForm(FlaskForm):
    """Only the CSRF token: disable, enable, reset TOTP, revoke."""


class SchoolsForm(FlaskForm):
    """The schools a school account prints for."""

    schools = TextAreaField(
        _l("School ids (commas or one per line)"),
        validators=[
            DataRequired(_l("Give at least one school id; to stop the account, disable it.")),
            Length(max=20000, message=_l("Too many school ids at once.")),
        ],
    )


class InboxForm(FlaskForm):
    """A new inbox: its name and its region ('' for the national inbox)."""

    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Give the inbox a name.")),
            Length(max=64, message=_l("An inbox name has at most 64 characters.")),
        ],
    )
    region = SelectField(_l("Region"), validate_choice=False)


class GrantForm(FlaskForm):
    """A member to give the inbox to."""

    member = SelectField(_l("Member"), validate_choice=False)


_PASSWORD = [
    DataRequired(_l("Type the password.")),
    Length(max=1024, message=_l("That password is too long: at most 1024 characters.")),
]
_CODE = [
    DataRequired(_l("Type the six digits the app shows.")),
    Length(max=12, message=_l("The code is six digits.")),
]


class NewAccountForm(FlaskForm):
    """The invitee's password (twice) and the code confirming the authenticator."""

    password = PasswordField(_l("Choose a password"), validators=_PASSWORD)
    password_again = PasswordField(
        _l("The same password again"),
        validators=[
            DataRequired(_l("Type the password a second time.")),
            EqualTo("password", _l("The two passwords are not the same.")),
        ],
    )
    code = StringField(_l("Code from the authenticator app"), validators=_CODE)


class ResetForm(FlaskForm):
    """The member's current password and the code of the new authenticator entry."""

    password = PasswordField(_l("Your password"), validators=_PASSWORD)
    code = StringField(_l("Code from the authenticator app"), validators=_CODE)
