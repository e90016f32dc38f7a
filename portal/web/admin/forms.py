"""The admin pages' forms (Flask-WTF, CSRF bound to the staff browser's session)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.services import labels


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
    """Only the CSRF token: disable, enable, reset TOTP, revoke, reactivate a school."""


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


class ImportForm(FlaskForm):
    """The registry CSV file."""

    file = FileField(
        _l("Registry CSV file"), validators=[FileRequired(_l("Choose a CSV file first."))]
    )


class ConfirmForm(FlaskForm):
    """An action whose effect on printed posters the admin must acknowledge."""

    confirm = BooleanField(validators=[DataRequired(_l("Tick the box to confirm first."))])
