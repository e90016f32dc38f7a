"""What staff read for each value of an enum: one label table per enum, translated.

The values themselves (in URLs, the database, the audit log and CSV exports) stay English;
only what a page shows goes through these tables (the `label` template filter).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from portal.enums import Agency, AuditAction, Category, EntryKind, Priority, Role, Status
from portal.services.text import LazyText
from portal.services.text import lazy as _l

STATUS: Mapping[Status, LazyText] = {
    Status.NEW: _l("New"),
    Status.IN_PROGRESS: _l("In progress"),
    Status.REFERRED: _l("Referred"),
    Status.CLOSED: _l("Closed"),
}
PRIORITY: Mapping[Priority, LazyText] = {
    Priority.P1: _l("P1 – danger to life"),
    Priority.P2: _l("P2 – urgent"),
    Priority.P3: _l("P3 – routine"),
}
# The staff's words for what the child chose (the child's side words it for children).
CATEGORY: Mapping[Category, LazyText] = {
    Category.HOME: _l("Violence at home"),
    Category.SCHOOL: _l("Violence at school"),
    Category.BULLYING: _l("Bullying"),
    Category.ONLINE: _l("Online bullying"),
    Category.SEXUAL: _l("Sexual abuse"),
    Category.SELF_HARM: _l("Self-harm or suicidal thoughts"),
    Category.OTHER: _l("Other"),
}
AGENCY: Mapping[Agency, LazyText] = {
    Agency.POLICE: _l("Police"),
    Agency.SOCIAL_SERVICES: _l("Social services"),
    Agency.SCHOOL_PSYCHOLOGIST: _l("School psychologist"),
    Agency.HEALTH: _l("Health care"),
    Agency.OTHER: _l("Another agency"),
}
ROLE: Mapping[Role, LazyText] = {
    Role.ADMIN: _l("Administrator"),
    Role.TRIAGE: _l("Triage"),
    Role.SCHOOL: _l("School"),
}
ENTRY_KIND: Mapping[EntryKind, LazyText] = {
    EntryKind.CHILD: _l("Child"),
    EntryKind.STAFF: _l("111 (reply)"),
    EntryKind.NOTE: _l("Internal note"),
    EntryKind.INTAKE: _l("Form details"),
}
AUDIT_ACTION: Mapping[AuditAction, LazyText] = {
    AuditAction.LOGIN: _l("Login"),
    AuditAction.LOGIN_FAILED: _l("Failed login"),
    AuditAction.LOGOUT: _l("Logout"),
    AuditAction.REPORT_OPENED: _l("Report opened"),
    AuditAction.REPLY: _l("Reply to the child"),
    AuditAction.NOTE: _l("Internal note"),
    AuditAction.STATUS: _l("Status changed"),
    AuditAction.PRIORITY: _l("Priority changed"),
    AuditAction.ASSIGN: _l("Assignment"),
    AuditAction.EXPORT: _l("Export"),
    AuditAction.PURGE: _l("Erasure"),
    AuditAction.KEYS: _l("Inbox keys"),
    AuditAction.STAFF: _l("Staff accounts"),
    AuditAction.INBOX: _l("Inboxes"),
    AuditAction.SCHOOL: _l("Schools"),
    AuditAction.AUDIT_READ: _l("Audit log read"),
    AuditAction.NOTIFY: _l("Notification sent"),
    AuditAction.NOTIFY_SETUP: _l("Notification settings"),
    AuditAction.NOTIFY_DROPPED: _l("Notification no longer needed"),
}
TABLES: Mapping[type[Enum], Mapping[Any, LazyText]] = {
    Status: STATUS,
    Priority: PRIORITY,
    Category: CATEGORY,
    Agency: AGENCY,
    Role: ROLE,
    EntryKind: ENTRY_KIND,
    AuditAction: AUDIT_ACTION,
}


def label(member: Enum) -> str:
    """The translated label of an enum member (its value if the enum has no table)."""
    table = TABLES.get(type(member))
    found = table.get(member) if table is not None else None
    return str(found) if found is not None else str(member.value)


def label_of(enum: type[Enum], value: str) -> str:
    """The label of a value as stored (a tampered audit row may hold anything: shown as is)."""
    try:
        member = enum(value)
    except ValueError:
        return value
    return label(member)
