"""The staff's forms (Flask-WTF, CSRF bound to the staff browser's session)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from portal.enums import Agency, Priority, Role, Status
from portal.forms import stripped_choice
from portal.triage import MAX_TEXT


class LoginForm(FlaskForm):
    """Email, password and the six digits of the authenticator app."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        "Code from the authenticator app", validators=[DataRequired(), Length(max=12)]
    )


class LogoutForm(FlaskForm):
    """Only the CSRF token: on every staff page, in the bar."""


class TextForm(FlaskForm):
    """A reply to the child, or an internal note."""

    text = TextAreaField(validators=[DataRequired("Write something first."), Length(max=MAX_TEXT)])


class StatusForm(FlaskForm):
    """Move the report along the workflow; a referral says where."""

    status = SelectField(choices=[SelectChoice(status.value, status.value) for status in Status])
    agency = SelectField(
        choices=[SelectChoice("", "—")]
        + [SelectChoice(agency.value, agency.value.replace("_", " ")) for agency in Agency],
        filters=[stripped_choice],
        validators=[Optional()],
    )
    note = TextAreaField(validators=[Optional(), Length(max=MAX_TEXT)])


class PriorityForm(FlaskForm):
    """Another priority, with the reason (kept sealed, as a note)."""

    priority = SelectField(
        choices=[SelectChoice(priority.value, priority.value.upper()) for priority in Priority]
    )
    reason = TextAreaField(validators=[DataRequired("Give the reason."), Length(max=MAX_TEXT)])


class AssignForm(FlaskForm):
    """Give the report to a member of its inbox ('' for nobody)."""

    assignee = SelectField(validators=[Optional()], validate_choice=False)


# ---- people and inboxes (portal/people.py), and the enrolment page -------------------

CSRF_MESSAGE = "The page had expired or was opened elsewhere; nothing was changed. Try again."


class InviteForm(FlaskForm):
    """Who to invite, with which role; a school account also names its schools."""

    email = EmailField(
        "Email",
        validators=[
            DataRequired("Enter the email address."),
            Length(max=254, message="An email address has at most 254 characters."),
        ],
    )
    role = SelectField(
        "Role",
        choices=[SelectChoice(role.value, role.value) for role in Role],
        default="triage",
        invalid_choice_message="Choose admin, triage or school.",
    )
    schools = TextAreaField(
        "School ids (school accounts only; commas or one per line)",
        validators=[Optional(), Length(max=20000, message="Too many school ids at once.")],
    )


class ActionForm(FlaskForm):
    """Only the CSRF token: disable, enable, reset TOTP, revoke."""


class SchoolsForm(FlaskForm):
    """The schools a school account prints for."""

    schools = TextAreaField(
        "School ids (commas or one per line)",
        validators=[
            DataRequired("Give at least one school id; to stop the account, disable it."),
            Length(max=20000, message="Too many school ids at once."),
        ],
    )


class InboxForm(FlaskForm):
    """A new inbox: its name and its region ('' for the national inbox)."""

    name = StringField(
        "Name",
        validators=[
            DataRequired("Give the inbox a name."),
            Length(max=64, message="An inbox name has at most 64 characters."),
        ],
    )
    region = SelectField("Region", validate_choice=False)


class GrantForm(FlaskForm):
    """A member to give the inbox to."""

    member = SelectField("Member", validate_choice=False)


_PASSWORD = [
    DataRequired("Type the password."),
    Length(max=1024, message="That password is too long: at most 1024 characters."),
]
_CODE = [
    DataRequired("Type the six digits the app shows."),
    Length(max=12, message="The code is six digits."),
]


class NewAccountForm(FlaskForm):
    """The invitee's password (twice) and the code confirming the authenticator."""

    password = PasswordField("Choose a password", validators=_PASSWORD)
    password_again = PasswordField(
        "The same password again",
        validators=[
            DataRequired("Type the password a second time."),
            EqualTo("password", "The two passwords are not the same."),
        ],
    )
    code = StringField("Code from the authenticator app", validators=_CODE)


class ResetForm(FlaskForm):
    """The member's current password and the code of the new authenticator entry."""

    password = PasswordField("Your password", validators=_PASSWORD)
    code = StringField("Code from the authenticator app", validators=_CODE)
