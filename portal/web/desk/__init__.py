"""The triage desk: login and enrolment, the inbox, a report's conversation, posters."""

from portal.web.desk import enrol, notifications
from portal.web.desk.views import bp

__all__ = ["bp", "enrol", "notifications"]
