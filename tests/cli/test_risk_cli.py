"""flask risk check: one line out per message in, by the same function as the intake."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskCliRunner


def test_each_message_gets_p1_and_its_rule_or_a_dash(runner: FlaskCliRunner) -> None:
    messages = "у нас в столовой холодно\nya ne hochu bolshe zhit\n\nI want to die\n"
    result = runner.invoke(args=["risk", "check"], input=messages)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 4
    assert lines[0] == "-"
    assert lines[1].startswith("P1\tself_harm:ru:")
    assert lines[2] == "-"
    assert lines[3].startswith("P1\tself_harm:en:")


def test_an_edited_copy_is_tried_and_a_bad_line_is_named(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    (tmp_path / "xx.txt").write_text("[means]\nкрасный шарик\n", encoding="utf-8")
    result = runner.invoke(
        args=["risk", "check", "--lexicon", str(tmp_path)], input="Красный шарик!\nзеленый\n"
    )
    assert result.output.splitlines() == ["P1\tmeans:xx:красный шарик", "-"]
    (tmp_path / "xx.txt").write_text("красный шарик\n", encoding="utf-8")
    result = runner.invoke(args=["risk", "check", "--lexicon", str(tmp_path)], input="x\n")
    assert result.exit_code == 1
    assert f"{tmp_path / 'xx.txt'}:1" in result.output
