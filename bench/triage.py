"""Triage quality and cost of the risk lexicon (portal/services/risk.py) on the corpus here.

Run: python bench/triage.py [--dev-only] [--misses]
The corpus is bench/triage/dev.tsv (the rules were tuned on it) and two held-out parts, each
written and committed before a round of tuning and never read while tuning: heldout.tsv (round
1) and heldout2.tsv (round 2; round 1's part had been measured, so round 2 wrote a new one). For
each part it prints recall (life-safety messages flagged P1) and false P1 (harmless messages
flagged), per language, per kind and per form of writing; then the CPU time to check a message:
the corpus's messages, and a 5,000-character message (the form's limit), harmless or half
life-safety, cold (every cache emptied) and warm, by the intake's check (`Lexicon.first`) and by
the staff's reasons (`Lexicon.matches`, every rule), with the machine's load beside it.
--misses lists the development part's misses and false flags (not the held-out parts' unless
--heldout-misses: looking at held-out messages spoils them for the next round).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from portal.enums import Category, Priority
from portal.services import risk

HERE = Path(__file__).parent / "triage"
PARTS = {
    "development": HERE / "dev.tsv",
    "held-out (round 1)": HERE / "heldout.tsv",
    "held-out (round 2)": HERE / "heldout2.tsv",
}
RECALL_GOAL, FALSE_P1_GOAL = 0.95, 0.10
LONG = 5000


@dataclass(frozen=True)
class Message:
    """One labelled message of the corpus."""

    language: str
    life_safety: bool
    kind: str
    form: str
    text: str


def read(path: Path) -> list[Message]:
    """The messages of one part of the corpus."""
    messages = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        language, label, kind, form, text = line.split("\t")
        messages.append(Message(language, label == "p1", kind, form, text))
    return messages


def flagged(message: Message) -> bool:
    """Whether intake makes the message P1, as the child's form sends it (danger "no")."""
    return risk.intake_priority(Category.OTHER, False, message.text) is Priority.P1


def rate(hits: int, total: int) -> str:
    """hits/total as a percentage with the counts."""
    return f"{100 * hits / total:5.1f}% ({hits}/{total})" if total else "   -"


def report(name: str, messages: list[Message], show_misses: bool) -> None:
    """Recall and false P1 of one part, overall and by language, kind and form."""
    results = [(message, flagged(message)) for message in messages]
    print(f"\n== {name}: {len(messages)} messages")
    for label, key in (("language", "language"), ("kind", "kind"), ("form", "form")):
        groups: dict[str, list[tuple[Message, bool]]] = defaultdict(list)
        for message, flag in results:
            groups[getattr(message, key)].append((message, flag))
        print(f"-- by {label}: recall | false P1")
        for group, members in sorted(groups.items()):
            unsafe = [flag for message, flag in members if message.life_safety]
            safe = [flag for message, flag in members if not message.life_safety]
            print(
                f"   {group:14} {rate(sum(unsafe), len(unsafe)):>18} | {rate(sum(safe), len(safe))}"
            )
    by_language: dict[str, list[tuple[Message, bool]]] = defaultdict(list)
    for message, flag in results:
        by_language[message.language].append((message, flag))
    goals = []
    for language, members in sorted(by_language.items()):
        unsafe = [flag for message, flag in members if message.life_safety]
        safe = [flag for message, flag in members if not message.life_safety]
        recall = sum(unsafe) / len(unsafe)
        false_p1 = sum(safe) / len(safe)
        met = recall >= RECALL_GOAL and false_p1 <= FALSE_P1_GOAL
        goals.append(f"{language} {'met' if met else 'NOT met'}")
    print(
        f"-- goal (recall >= {RECALL_GOAL:.0%}, false P1 <= {FALSE_P1_GOAL:.0%}): "
        + ", ".join(goals)
    )
    if show_misses:
        for message, flag in results:
            if flag != message.life_safety:
                what = "MISSED" if message.life_safety else "FALSE "
                rules = [match.rule for match in risk.find_risks(message.text)]
                print(f"   {what} {message.language} {message.kind:13} {message.text}  {rules}")


def cpu(operation: Callable[[], object], runs: int) -> list[float]:
    """CPU seconds of each of `runs` calls."""
    samples = []
    for _ in range(runs):
        started = time.process_time()
        operation()
        samples.append(time.process_time() - started)
    return samples


def five_thousand(texts: list[str]) -> str:
    """A 5,000-character message of children's words: these texts joined, repeated if short."""
    joined = ""
    for text in texts * (1 + LONG // max(1, sum(map(len, texts)))):
        if len(joined) + len(text) + 1 > LONG:
            break
        joined += text + " "
    return joined.ljust(LONG, ".")


def timings(messages: list[Message]) -> None:
    """CPU time per message: the corpus, and 5,000-character messages cold and warm."""
    lexicon = risk.load_lexicon()
    texts = [message.text for message in messages]
    started = time.process_time()
    for text in texts:
        lexicon.first(text)
    per_message = (time.process_time() - started) / len(texts)
    load = os.getloadavg()
    print(f"\n== CPU time (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, 2 cores shared)")
    mean = statistics.mean(map(len, texts))
    print(f"   a corpus message (mean {mean:.0f} chars), intake: {per_message * 1e6:.0f} µs")
    harmless = [message.text for message in messages if not message.life_safety]
    for name, long_text in (
        ("harmless messages", five_thousand(harmless)),
        ("all messages (half life-safety)", five_thousand(texts)),
    ):
        for check, label in ((lexicon.first, "intake"), (lexicon.matches, "staff's reasons")):

            def cold(text: str = long_text, check: Callable[[str], object] = check) -> None:
                risk.clear_caches()
                lexicon.clear_caches()
                check(text)

            def warm(text: str = long_text, check: Callable[[str], object] = check) -> None:
                check(text)

            cold_ms = statistics.median(cpu(cold, 30)) * 1e3
            warm_ms = statistics.median(cpu(warm, 100)) * 1e3
            print(
                f"   {LONG} characters of {name}, {label}: warm {warm_ms:.2f} ms (median of 100),"
                f" cold {cold_ms:.2f} ms (every cache emptied, median of 30); goal <= 2 ms"
            )


def main() -> None:
    """Print the figures of both parts (or the development part only) and the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-only", action="store_true", help="leave the held-out part out")
    parser.add_argument("--misses", action="store_true", help="list the dev part's errors")
    parser.add_argument("--heldout-misses", action="store_true", help="and the held-out part's")
    args = parser.parse_args()
    started = time.process_time()
    risk.load_lexicon()
    rules = len(risk.load_lexicon())
    print(f"lexicon loaded in {time.process_time() - started:.2f} s CPU ({rules} rules)")
    parts = {name: read(path) for name, path in PARTS.items()}
    for name, messages in parts.items():
        if name == "development" or not args.dev_only:
            heldout = name != "development"
            report(name, messages, args.heldout_misses if heldout else args.misses)
    timings([message for messages in parts.values() for message in messages])


if __name__ == "__main__":
    main()
