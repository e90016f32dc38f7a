"""What the intake keeps of the risk check: the rule's id in the clear, never the child's words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.enums import Category, Priority
from portal.models import Report
from portal.services import intake, risk
from tests.worlds import World


def child_writes(world: World, text: str, category: Category = Category.OTHER) -> Report:
    """A report through the intake as the form sends it (not in danger); the stored row."""
    new = intake.NewReport(category=category, in_danger=False, text=text)
    intake.send_report(world.session, world.config, world.national_school, new)
    world.session.expire_all()
    found = world.session.scalars(select(Report).order_by(Report.id.desc())).first()
    assert found is not None
    return found


def test_a_flagged_report_keeps_the_rules_id_not_the_childs_words(world: World) -> None:
    report = child_writes(world, "ya bolshe ne hochu zhit tut")
    assert report.priority is Priority.P1
    assert report.risk_rule is not None
    category, language, entry = report.risk_rule.split(":", 2)
    assert (category, language) == ("self_harm", "ru")
    # The lexicon's own text (Cyrillic), not the child's Latin spelling.
    assert entry in {rule.source for rule in risk.load_lexicon().entries}
    assert "hochu" not in report.risk_rule


def test_a_report_nothing_matched_keeps_no_rule(world: World) -> None:
    report = child_writes(world, "в столовой холодный чай", Category.SCHOOL)
    assert (report.priority, report.risk_rule) == (Priority.P2, None)


@pytest.fixture
def broken_lexicon(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shipped lexicon replaced by a bad file once the app has started."""
    (tmp_path / "ru.txt").write_text("нож\n", encoding="utf-8")
    monkeypatch.setattr(risk, "DEFAULT_DIRECTORY", tmp_path)
    risk._default_lexicon.cache_clear()
    yield
    risk._default_lexicon.cache_clear()


@pytest.mark.usefixtures("broken_lexicon")
def test_a_broken_lexicon_stores_a_p1_that_says_so(world: World) -> None:
    report = child_writes(world, "у меня забрали телефон")
    assert (report.priority, report.risk_rule) == (Priority.P1, risk.LEXICON_ERROR)
