"""The risk lexicon: words and phrases that make a child's report life-safety (P1) at intake.

A flag only ever raises a report's priority. Nothing here lowers, hides or closes a report: a
word the lexicon misses leaves the priority the child's own choices give it, and a word it
flags by mistake only brings a report to a person sooner.

Lexicon files
-------------
Plain UTF-8 text in ``portal/data/risk/``, one file per language: ``kk.txt``, ``ru.txt``,
``en.txt``, and ``emoji.txt`` for the emoji every language shares. A file's name (without
``.txt``) is the language a match reports. Clinicians extend the files without touching code:

- ``#`` starts a comment that runs to the end of the line; blank lines are ignored.
- ``[self_harm]`` alone on a line starts a section: the entries below it take that category.
  The categories are those of `RiskCategory`: self_harm, means, timing, weapon, violence and
  sexual.
- Any other line is one entry: one or more words separated by spaces. Several words are a
  phrase and match only as consecutive words of the text ("не хочу жить" flags, "жить" does
  not).
- A word ending in ``*`` is a stem and matches every word that begins with it (``өлтір*``
  matches "өлтіремін", "өлтіреді"); a word without it must match a whole word of the text.
- A tag at the end of a line (``пышақ* [weapon]``) gives that line its own category.
- A stem, and an entry of a single word, needs at least 3 letters once normalised (``у*`` or
  a lone ``у`` would flag half of every text). An emoji stands alone on its line.
- The same entry twice in one file is an error.

Entries are written in ordinary Cyrillic or English spelling: every spelling a child may type
(Latin letters, Russian look-alikes of Kazakh letters, capitals, repeated letters) reaches the
same normalised form as the entry. A line that breaks these rules stops loading with a
`LexiconError` that names its file and line.

Normalisation
-------------
Text and lexicon go through the same steps, so they meet whatever the spelling:

1. NFKC, then Latin look-alikes inside a Cyrillic word become Cyrillic ("хoчу" typed with a
   Latin o), then casefold and drop combining marks, zero-width characters and emoji
   modifiers (so "ё" is "е", "й" is "и", "ö" is "o").
2. Every letter becomes a Latin skeleton, one table for both scripts: Kazakh letters fold onto
   their Russian look-alikes (ә→a, ғ→g, қ→k, ң→n, ө→o, ұ and ү→u, һ→h, і→i), Cyrillic is
   transliterated (ж→j, х→h, ц→c, ч→ch, ш and щ→sh, ы and й→i, ю→iu, я→ia, ь and ъ vanish),
   and the Latin spellings children use are folded onto the same letters (y→i, x and kh→h,
   zh→j, w→v, q→k, gh→g, ng→n, sch and shch→sh, apostrophes vanish; 4, 6, 9 and 0 inside a
   word are ч, ш, я and о). So "hochu umeret", "xochu umeret" and "ХОЧУ УМЕРЕТЬ" are one text.
3. Every run of a repeated letter becomes one letter, in text and lexicon alike
   ("хочууууу" is "хочу", "kill" is "kil"). This also merges a few innocent pairs (English
   "noose" meets "nose"), which is why the lexicon avoids such words.
4. Words are runs of letters; an emoji is a token of its own; everything else separates words.
   Punctuation does not break a phrase ("хочу... умереть" matches); an emoji is never part of
   one.

Priority at intake
------------------
`intake_priority` gives P1 when the child says they are in danger right now or the text
matches the lexicon; otherwise P2 for the categories where someone hurts the child or the
child may hurt themselves (`ABUSE_CATEGORIES`: home, school, sexual, self-harm); otherwise P3
(bullying, online, something else). A self-harm report without a lexicon match is P2, not P1:
the issue keeps P1 for danger now and for words that name a way, a means or a time.

If the shipped lexicon cannot be loaded (a bad edit of a data file), `intake_priority` logs the
error and returns P1 rather than lose the child's report; calling `load_lexicon()` when the app
starts finds such an edit before any child does.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from portal.enums import Category, Priority, StrictEnum

DEFAULT_DIRECTORY = Path(__file__).parents[1] / "data" / "risk"
MIN_LETTERS = 3  # shortest stem or single-word entry: shorter ones match far too many words
ABUSE_CATEGORIES = frozenset({Category.HOME, Category.SCHOOL, Category.SEXUAL, Category.SELF_HARM})

_log = logging.getLogger(__name__)


class RiskCategory(StrictEnum):
    """Why an entry of the lexicon flags a report, for triage to show."""

    SELF_HARM = "self_harm"  # wanting to die, suicide, hurting oneself
    MEANS = "means"  # a method or means: pills, heights, rope, blades, poison
    TIMING = "timing"  # when: tonight, today, the last day
    WEAPON = "weapon"  # knives, guns, a school attack
    VIOLENCE = "violence"  # a threat to the child's life from someone else
    SEXUAL = "sexual"  # rape, sexual abuse, unwanted touching, sexual images


class LexiconError(ValueError):
    """A lexicon file that cannot be read or has a bad line; the message names file and line."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Term:
    """One normalised word of an entry: a whole word, or a stem that matches by prefix."""

    text: str
    prefix: bool

    def matches(self, word: str) -> bool:
        """Whether this term matches a normalised word of a text."""
        return word.startswith(self.text) if self.prefix else word == self.text


@dataclass(frozen=True)
class LexiconEntry:
    """One line of a lexicon file, parsed and normalised."""

    terms: tuple[Term, ...]
    category: RiskCategory
    language: str
    source: str  # the entry as the file writes it, without comment or tag
    path: Path
    line: int


@dataclass(frozen=True)
class RiskMatch:
    """An entry of the lexicon that a text matched."""

    category: RiskCategory
    entry: str
    language: str


# --- normalisation -------------------------------------------------------------------------

_CYRILLIC = "\u0400-\u04ff"
_LATIN_LOOKALIKES = "AaBCcEeHKkMOoPpTXxYy"
# The Cyrillic letters those Latin ones stand for (written as escapes: they look identical).
_CYRILLIC_TWINS = (
    "\u0410\u0430\u0412\u0421\u0441\u0415\u0435\u041d\u041a\u043a"
    "\u041c\u041e\u043e\u0420\u0440\u0422\u0425\u0445\u0423\u0443"
)
_TO_CYRILLIC = str.maketrans(_LATIN_LOOKALIKES, _CYRILLIC_TWINS)
# A word with a Latin look-alike next to a Cyrillic letter was typed on a mixed keyboard (or
# written to dodge a filter). Most texts have none, so a quick search for such a pair comes
# first; the word pattern is anchored at \b so that each word is tried once.
_MIXED_PAIR = rf"[{_CYRILLIC}][{_LATIN_LOOKALIKES}]|[{_LATIN_LOOKALIKES}][{_CYRILLIC}]"
_HAS_MIXED = re.compile(_MIXED_PAIR)
_MIXED_WORD = re.compile(rf"\b\w*(?:{_MIXED_PAIR})\w*")
# Combining marks, variation selectors, zero-width characters, soft hyphen and skin tones
# carry no meaning for matching but would split or disguise a word.
_INVISIBLE = re.compile(
    "[\u00ad\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u200b-\u200f\u2060\u20d0-\u20ff"
    "\ufe00-\ufe0f\ufe20-\ufe2f\ufeff\U0001f3fb-\U0001f3ff\U000e0000-\U000e007f]"
)
_TO_SKELETON = str.maketrans(
    {
        # Russian Cyrillic, transliterated the way children type it in Latin letters.
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "j", "з": "z",
        "и": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
        "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "ch", "ш": "sh",
        "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia",
        # Kazakh letters, folded onto the Russian look-alikes children type without them.
        "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h",
        "і": "i",
        # Cyrillic letters of other keyboards a phone may offer instead.
        "є": "e", "ґ": "g", "ў": "u",
        # Latin letters of Kazakh and Turkic alphabets that have no mark to drop.
        "ı": "i", "ə": "a", "ø": "o", "ß": "ss",
        # Latin spellings folded together: y for ы/й, x for х, w for в, q for қ.
        "y": "i", "x": "h", "w": "v", "q": "k",
        # Apostrophes stand for ь/ъ or Kazakh letters; they must not split a word.
        "'": "", "\u2019": "", "\u2018": "", "\u02bc": "", "\u02b9": "", "`": "", "\u00b4": "",
    }
)  # fmt: skip
# Digits used as letters inside a word ("ho4u", "seb9"): 4 ч, 6 ш, 9 я, 0 о.
_DIGIT_LETTERS = {"4": "ch", "6": "sh", "9": "ia", "0": "o"}
_DIGIT = re.compile("[0469]")
# Multi-letter Latin spellings, longest first. sch, gh and ng keep their first letter, so a
# stem that ends before them still prefixes the word; zh and kh do not, but з+х and к+х are
# rare inside Russian and Kazakh words.
_DIGRAPHS = (("shch", "sh"), ("sch", "sh"), ("zh", "j"), ("kh", "h"), ("gh", "g"), ("ng", "n"))
_REPEATS = re.compile(r"(.)\1+")
_WORD = re.compile(r"[^\W\d_]+")
_EMOJI = re.compile("[\u2190-\u21ff\u2300-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")


def _mixed_to_cyrillic(match: re.Match[str]) -> str:
    return match.group().translate(_TO_CYRILLIC)


def _digit_as_letter(match: re.Match[str]) -> str:
    # Only a digit touching a letter is one; "9 класс" and "5000" stay numbers.
    text, start, end = match.string, match.start(), match.end()
    touches_letter = (start > 0 and "a" <= text[start - 1] <= "z") or (
        end < len(text) and "a" <= text[end] <= "z"
    )
    return _DIGIT_LETTERS[match.group()] if touches_letter else match.group()


def _skeleton(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    if _HAS_MIXED.search(text):
        text = _MIXED_WORD.sub(_mixed_to_cyrillic, text)
    # ş and ç would lose their sound once NFD drops the cedilla: spell them out first.
    text = text.casefold().replace("ş", "sh").replace("ç", "ch")
    text = _INVISIBLE.sub("", unicodedata.normalize("NFD", text))
    text = text.translate(_TO_SKELETON)
    text = _DIGIT.sub(_digit_as_letter, text)
    # Repeats go both before the digraphs ("songghy" must read as "songhy" to meet "соңғы")
    # and after them, since a digraph can leave a new pair ("ngn" -> "nn").
    text = _REPEATS.sub(r"\1", text)
    for spelling, letters in _DIGRAPHS:
        text = text.replace(spelling, letters)
    return _REPEATS.sub(r"\1", text)


def _tokens(text: str) -> tuple[list[str], list[str]]:
    skeleton = _skeleton(text)
    return _WORD.findall(skeleton), _EMOJI.findall(skeleton)


def normalise(text: str) -> list[str]:
    """The normalised words and emoji of a text, as the lexicon compares them."""
    words, emoji = _tokens(text)
    return words + emoji


# --- the lexicon ---------------------------------------------------------------------------


class Lexicon:
    """A loaded lexicon, indexed so that a text is checked in one pass over its words."""

    def __init__(self, entries: Iterable[LexiconEntry]) -> None:
        self.entries = tuple(entries)
        # Whole first words (and emoji) by their text; stems by their first MIN_LETTERS
        # letters, so each word of a text costs two dictionary look-ups.
        self._whole: dict[str, list[LexiconEntry]] = {}
        self._stems: dict[str, list[LexiconEntry]] = {}
        for entry in self.entries:
            first = entry.terms[0]
            if first.prefix:
                self._stems.setdefault(first.text[:MIN_LETTERS], []).append(entry)
            else:
                self._whole.setdefault(first.text, []).append(entry)

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, text: str) -> list[RiskMatch]:
        """The entries a text matches, each once: words in the text's order, then emoji."""
        words, emoji = _tokens(text)
        found: dict[tuple[Term, ...], RiskMatch] = {}
        for index, word in enumerate(words):
            for entry in (*self._whole.get(word, ()), *self._stems.get(word[:MIN_LETTERS], ())):
                if entry.terms not in found and _matches_at(entry.terms, words, index):
                    found[entry.terms] = RiskMatch(entry.category, entry.source, entry.language)
        for symbol in emoji:
            for entry in self._whole.get(symbol, ()):
                if entry.terms not in found:
                    found[entry.terms] = RiskMatch(entry.category, entry.source, entry.language)
        return list(found.values())


def _matches_at(terms: tuple[Term, ...], words: list[str], start: int) -> bool:
    if start + len(terms) > len(words):
        return False
    return all(term.matches(words[start + offset]) for offset, term in enumerate(terms))


_SECTION = re.compile(r"\[\s*(\w*)\s*\]")
_TRAILING_TAG = re.compile(r"(?P<body>.*?)\s*\[\s*(?P<tag>\w*)\s*\]")


def _category(tag: str, path: Path, line: int) -> RiskCategory:
    try:
        return RiskCategory.parse(tag.lower())
    except ValueError as error:
        raise LexiconError(path, line, f"unknown category: {error}") from None


def _terms(body: str, path: Path, line: int) -> tuple[Term, ...]:
    raw_words = body.split()
    terms: list[Term] = []
    for raw in raw_words:
        prefix = raw.endswith("*")
        written = raw[:-1] if prefix else raw
        if "*" in written:
            raise LexiconError(path, line, f"{raw!r}: '*' may only end a word, once")
        words, emoji = _tokens(written)
        if emoji:
            if len(raw_words) > 1 or words or len(emoji) > 1 or prefix:
                raise LexiconError(path, line, f"{raw!r}: an emoji stands alone on its line")
            return (Term(emoji[0], prefix=False),)
        if not words:
            raise LexiconError(path, line, f"{raw!r} has no letters")
        # "self-harm" is two words in a text, so it is two words of the phrase here too.
        terms.extend(Term(word, prefix=False) for word in words[:-1])
        terms.append(Term(words[-1], prefix=prefix))
    for term in terms:
        if term.prefix and len(term.text) < MIN_LETTERS:
            raise LexiconError(
                path, line, f"the stem {term.text!r}* is too short: it would match too many words"
            )
    if len(terms) == 1 and len(terms[0].text) < MIN_LETTERS:
        raise LexiconError(
            path, line, f"{body!r} alone is too short: write it inside a phrase instead"
        )
    return tuple(terms)


def _parse_file(path: Path) -> list[LexiconEntry]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is fine
    except UnicodeDecodeError as error:
        raise LexiconError(path, 0, f"not UTF-8 text: {error.reason}") from None
    language = path.stem
    section: RiskCategory | None = None
    first_seen: dict[tuple[Term, ...], int] = {}
    entries: list[LexiconEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        if match := _SECTION.fullmatch(body):
            section = _category(match.group(1), path, number)
            continue
        category = section
        if match := _TRAILING_TAG.fullmatch(body):
            body = match["body"]
            category = _category(match["tag"], path, number)
        if "[" in body or "]" in body:
            raise LexiconError(path, number, "a [category] stands alone or ends the line")
        if category is None:
            raise LexiconError(
                path, number, "no category: start a [section] above or end the line with a [tag]"
            )
        terms = _terms(body, path, number)
        if terms in first_seen:
            raise LexiconError(path, number, f"{body!r} is already on line {first_seen[terms]}")
        first_seen[terms] = number
        entries.append(LexiconEntry(terms, category, language, body, path, number))
    return entries


def load_lexicon(directory: Path | None = None) -> Lexicon:
    """The lexicon of every *.txt file in a folder; the shipped one (cached) by default."""
    if directory is None:
        return _default_lexicon()
    files = sorted(directory.glob("*.txt"))
    if not files:
        # An empty lexicon would silently flag nothing: refuse it.
        raise LexiconError(directory, 0, "no *.txt lexicon files here")
    return Lexicon(entry for path in files for entry in _parse_file(path))


@cache
def _default_lexicon() -> Lexicon:
    return load_lexicon(DEFAULT_DIRECTORY)


def find_risks(text: str, lexicon: Lexicon | None = None) -> list[RiskMatch]:
    """The lexicon entries a text matches (the shipped lexicon by default)."""
    return (lexicon if lexicon is not None else load_lexicon()).find(text)


def intake_priority(
    category: Category, in_danger: bool, text: str, lexicon: Lexicon | None = None
) -> Priority:
    """A new report's priority: P1 for danger or a lexicon match, P2 for abuse, else P3."""
    if in_danger:
        return Priority.P1
    try:
        flagged = bool(find_risks(text, lexicon))
    except LexiconError:
        # A broken lexicon file must not lose the child's report: without a check, a person
        # should look at it soon, so it goes in as P1 (the error names no child's words).
        _log.exception("risk lexicon unreadable; report taken as P1")
        return Priority.P1
    if flagged:
        return Priority.P1
    return Priority.P2 if category in ABUSE_CATEGORIES else Priority.P3
