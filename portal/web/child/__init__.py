"""The child's side: the school's page with its form, the receipt, and the conversation."""

from portal.web.child.views import bp

__all__ = ["bp"]
