"""The closed vocabularies of the portal, parsed strictly (a bad value is an error)."""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class StrictEnum(StrEnum):
    """A string enum whose `parse` accepts exactly its values and names nothing else."""

    @classmethod
    def parse(cls, text: str) -> Self:
        """The member with this value; ValueError naming the allowed values otherwise."""
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(member.value for member in cls)
            raise ValueError(f"{text!r} is not one of: {allowed}") from None


class Role(StrictEnum):
    """What a staff account may do."""

    ADMIN = "admin"  # schools, inboxes, staff, figures
    TRIAGE = "triage"  # the reports of their inboxes
    SCHOOL = "school"  # posters of their own schools, never reports


class InboxKind(StrictEnum):
    """Whose reports an inbox receives."""

    NATIONAL = "national"
    REGION = "region"


class Priority(StrictEnum):
    """Triage priority: P1 is life-safety."""

    P1 = "p1"
    P2 = "p2"
    P3 = "p3"


class Status(StrictEnum):
    """Where a report stands in the triage workflow."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    REFERRED = "referred"
    CLOSED = "closed"


class Category(StrictEnum):
    """What the child says the report is about."""

    HOME = "home"
    SCHOOL = "school"
    BULLYING = "bullying"
    ONLINE = "online"
    SEXUAL = "sexual"
    SELF_HARM = "self_harm"
    OTHER = "other"


class EntryKind(StrictEnum):
    """Who wrote an entry of a report's conversation (triage metadata, kept in the clear)."""

    CHILD = "child"
    STAFF = "staff"
    NOTE = "note"  # internal, staff only
    INTAKE = "intake"  # what the child gave besides the text (grade), staff only


class Agency(StrictEnum):
    """Where a report was referred."""

    POLICE = "police"
    SOCIAL_SERVICES = "social_services"
    SCHOOL_PSYCHOLOGIST = "school_psychologist"
    HEALTH = "health"
    OTHER = "other"


class AuditAction(StrictEnum):
    """What an audit record says happened (its details never hold report text)."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    REPORT_OPENED = "report_opened"
    REPLY = "reply"
    NOTE = "note"
    STATUS = "status"
    PRIORITY = "priority"
    ASSIGN = "assign"
    EXPORT = "export"
    PURGE = "purge"
    KEYS = "keys"
    STAFF = "staff"
    INBOX = "inbox"
    SCHOOL = "school"  # registry import, code rotation, deactivation (at most 16 characters)
    AUDIT_READ = "audit_read"  # the log itself browsed or its chain verified
    NOTIFY = "notify"  # a notification sent (recipient, kind, report; never its text)
    NOTIFY_SETUP = "notify_setup"  # a member's notification choices or an escalation list
    NOTIFY_DROPPED = "notify_dropped"  # a queued notification not sent: no longer needed


class NotificationKind(StrictEnum):
    """Why staff are told something: a new P1, a P1 nobody opened in time, the daily digest."""

    P1 = "p1"
    ESCALATION = "escalation"
    DIGEST = "digest"


class Channel(StrictEnum):
    """How a notification leaves: e-mail to a member, or the centre's signed webhook."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(StrictEnum):
    """Where one notification to one recipient stands."""

    PENDING = "pending"  # waiting for a worker (or for its next attempt)
    SENT = "sent"
    FAILED = "failed"  # gave up after every attempt: shown to admins
    DROPPED = "dropped"  # not sent: its report was opened, closed or erased before it went
