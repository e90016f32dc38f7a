"""The portal tests' sites and staff desk, shared with the fuzz tests."""

from tests.worlds import desk, make_site, site

__all__ = ["desk", "make_site", "site"]
