"""The admin pages: the school registry, people and inboxes, figures, the audit log.

One blueprint, `admin`, behind the staff login and the role table (portal.web.access); each
page group is a blueprint nested in it (`admin.schools.…`, `admin.people.…`, `admin.figures.…`,
`admin.audit.…`), under `/staff`.
"""

from flask import Blueprint

from portal.web import access
from portal.web.admin import audit, figures, notifications, people, schools

bp = Blueprint("admin", __name__, url_prefix="/staff")
access.guard(bp)
for part in (schools.bp, people.bp, figures.bp, audit.bp, notifications.bp):
    bp.register_blueprint(part)

__all__ = ["bp"]
