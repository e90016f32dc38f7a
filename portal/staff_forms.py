"""The staff's forms (Flask-WTF, CSRF bound to the staff browser's session)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.enums import Agency, Priority, Status
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
