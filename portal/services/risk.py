"""The risk lexicon: the rules that make a child's report life-safety (P1) at intake.

A flag only ever raises a report's priority. Nothing here lowers, hides or closes a report: a
word the lexicon misses leaves the priority the child's own choices give it, and a word it
flags by mistake only brings a report to a person sooner.

Lexicon files
-------------
Plain UTF-8 text in ``portal/data/risk/``, one file per language: ``kk.txt``, ``ru.txt``,
``en.txt``, and ``emoji.txt`` for the emoji every language shares. A file's name (without
``.txt``) is the language a match reports, and says how its whole words are compared (below).
Clinicians extend the files without touching code; ``flask --app portal risk check`` shows
what a message matches.

- ``#`` starts a comment that runs to the end of the line; blank lines are ignored.
- ``[self_harm]`` alone on a line starts a section: the entries below it take that category
  (one of `RiskCategory`).
- ``@actor = отец, отчим, он, взрослый мужчина`` defines a set of this file: its members,
  separated by commas, are words or phrases. ``@figurative`` is the set of words that make a
  soft entry figurative (below).
- Any other line is one entry. Words separated by spaces are a phrase and match only as
  consecutive words of the text ("не хочу жить" flags, "жить" does not).
- Parts joined by `` & `` must all occur, in any order, within `WINDOW` words of each other; a
  part is a phrase or a set (``@actor & @hit & @injury``): an actor, an act and a harm.
- A line starting with ``~`` is soft: it does not flag when a word of the file's
  ``@figurative`` set is within `WINDOW` words ("этот тест меня убьет", "в игре убили").
- A word ending in ``*`` is a stem and matches every word that begins with it (``өлтір*``
  matches "өлтіремін", "өлтіреді"); a word without it is a whole word, compared by language:
  Russian words match every form of the word (``убить`` matches "убью", "убила", "убьёт":
  pymorphy3's dictionary), Kazakh words match every word with the same stem once suffixes
  are stripped (``пышақ`` matches "пышағы", "пышақпен": `kazakh_stem`), English words match
  every word with the same Snowball stem (``bruise`` matches "bruises", "bruised"); other
  files, and ``=word``, compare the word exactly.
- A tag at the end of a line (``пышақ* [weapon]``) gives that line its own category.
- A stem, and an entry of a single word, needs at least 3 letters once normalised. An emoji
  stands alone on its line. The same entry twice in one file is an error.

A line that breaks these rules stops loading with a `LexiconError` that names its file and
line.

Spelling
--------
Text and lexicon go through the same steps, so they meet whatever the spelling:

1. NFKC, then Latin look-alikes inside a Cyrillic word become Cyrillic ("хoчу" typed with a
   Latin o), then casefold and drop combining marks, zero-width characters and emoji
   modifiers (so "ё" is "е", "й" is "и", "ö" is "o").
2. Every letter becomes a Latin skeleton, one table for both scripts: Kazakh letters fold onto
   their Russian look-alikes (ә→a, ғ→g, қ→k, ң→n, ө→o, ұ and ү→u, һ→h, і→i), Cyrillic is
   transliterated (ж→j, х→h, ц→c, ч→ch, ш and щ→sh, ы and й→i, ю→iu, я→ia, ь and ъ vanish),
   and the Latin spellings children use are folded onto the same letters (y→i, x and kh→h,
   zh→j, w→v, q→k, gh→g, ng→n, sch and shch→sh, yo→e, apostrophes vanish; 4, 6, 9 and 0 inside a
   word are ч, ш, я and о). So "hochu umeret", "xochu umeret" and "ХОЧУ УМЕРЕТЬ" are one text,
   and Latin-script Russian and Kazakh meet the Cyrillic entries.
3. Every run of a repeated letter becomes one letter ("хочууууу" is "хочу"), and a few short
   words children spell their own way become the usual one ("ни" is "не", "шо" is "что").
4. Misspelling: a whole word of `FOLD_LETTERS` or more letters also matches once unstressed
   vowels are folded (o→a, e→i; not in English, where "rope" would meet "rape"; a Kazakh or
   English stem needs a letter more, as a short stem is often over-stripped), and a whole
   word of `EDIT_LETTERS` or more (a stem: `EDIT_STEM_LETTERS`) one edit away (or two
   neighbouring letters swapped) with the same first letter, so "хачу", "умиреть", "suicde"
   and "myslef" meet "хочу", "умереть", "suicide" and "myself".

Priority at intake
------------------
`assess` gives P1 when the child says they are in danger right now or the text matches the
lexicon; otherwise P2 for the categories where someone hurts the child or the child may hurt
themselves (`ABUSE_CATEGORIES`: home, school, sexual, self-harm); otherwise P3. It also names
the rule that matched (`Rule.id`: category, language and the entry as written — lexicon text,
never the child's): the one thing about the text kept in the clear, for the inbox's reason
and the per-rule correction counts. The child's own words that matched are shown to staff only
by `explain`, recomputed from the decrypted text; they are never stored apart or logged.

If the shipped lexicon cannot be loaded (a bad edit of a data file), `assess` logs the error
(no text) and returns P1 rather than lose the child's report; calling `load_lexicon()` when
the app starts finds such an edit before any child does.
"""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import snowballstemmer
from rapidfuzz.distance import OSA

from portal.enums import Category, Priority, StrictEnum
from portal.services.text import LazyText
from portal.services.text import lazy as _l

DEFAULT_DIRECTORY = Path(__file__).parents[1] / "data" / "risk"
MIN_LETTERS = 3  # shortest stem or single-word entry: shorter ones match far too many words
# Spelling tolerance, in skeleton letters: the shortest whole word compared with its vowels
# folded, and with an edit distance of 1; a stem needs more, as its end is open.
FOLD_LETTERS = 4
EDIT_LETTERS = 6
EDIT_STEM_LETTERS = 8
WINDOW = 10  # the most words a rule's parts, or a figurative word, may lie apart
ABUSE_CATEGORIES = frozenset({Category.HOME, Category.SCHOOL, Category.SEXUAL, Category.SELF_HARM})
LEXICON_ERROR = "lexicon_error"  # the rule stored when the lexicon could not be read
FIGURATIVE = "figurative"  # the set that makes soft entries figurative

_log = logging.getLogger(__name__)


class RiskCategory(StrictEnum):
    """Why an entry of the lexicon flags a report, for triage to show."""

    SELF_HARM = "self_harm"  # wanting to die, suicide, hurting oneself, saying goodbye
    MEANS = "means"  # a method or means: pills, heights, rope, blades, poison
    TIMING = "timing"  # when: tonight, today, the last day
    WEAPON = "weapon"  # knives, guns, a school attack
    VIOLENCE = "violence"  # a threat to the child's life, or an injury, from someone else
    SEXUAL = "sexual"  # rape, sexual abuse, unwanted touching, sexual images
    GROOMING = "grooming"  # an adult online: meeting in secret, asking for images, sextortion
    NEGLECT = "neglect"  # a child left alone, without food, or thrown out of home


# What staff read for each category (the inbox's and the report's reason), translated.
LABELS: dict[RiskCategory, LazyText] = {
    RiskCategory.SELF_HARM: _l("suicide or self-harm"),
    RiskCategory.MEANS: _l("a means of suicide"),
    RiskCategory.TIMING: _l("a time set"),
    RiskCategory.WEAPON: _l("a weapon or an attack"),
    RiskCategory.VIOLENCE: _l("violence or a threat to life"),
    RiskCategory.SEXUAL: _l("sexual abuse"),
    RiskCategory.GROOMING: _l("grooming or sextortion"),
    RiskCategory.NEGLECT: _l("a child alone or thrown out"),
}
UNREADABLE = _l("the risk lexicon could not be read")


def rule_label(rule: str | None) -> str:
    """What a stored rule id says to staff: its category's label ("" for none)."""
    if not rule:
        return ""
    if rule == LEXICON_ERROR:
        return str(UNREADABLE)
    try:
        return str(LABELS[RiskCategory(rule.split(":", 1)[0])])
    except ValueError:  # a rule of a category since removed: shown as stored
        return rule.split(":", 1)[0]


class LexiconError(ValueError):
    """A lexicon file that cannot be read or has a bad line; the message names file and line."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message


# --- spelling ------------------------------------------------------------------------------

_CYRILLIC = "\u0400-\u04ff"
_LATIN_LOOKALIKES = "AaBCcEeHKkMOoPpTXxYy"
# The Cyrillic letters those Latin ones stand for (written as escapes: they look identical).
_CYRILLIC_TWINS = (
    "\u0410\u0430\u0412\u0421\u0441\u0415\u0435\u041d\u041a\u043a"
    "\u041c\u041e\u043e\u0420\u0440\u0422\u0425\u0445\u0423\u0443"
)
_TO_CYRILLIC = str.maketrans(_LATIN_LOOKALIKES, _CYRILLIC_TWINS)
# A word with a Latin look-alike next to a Cyrillic letter was typed on a mixed keyboard (or
# written to dodge a filter).
_MIXED_PAIR = re.compile(rf"[{_CYRILLIC}][{_LATIN_LOOKALIKES}]|[{_LATIN_LOOKALIKES}][{_CYRILLIC}]")
# Combining marks, variation selectors, zero-width characters, soft hyphen and skin tones
# carry no meaning for matching but would split or disguise a word.
_INVISIBLE_CHARS = (
    "\u00ad\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u200b-\u200f\u2060\u20d0-\u20ff"
    "\ufe00-\ufe0f\ufe20-\ufe2f\ufeff\U0001f3fb-\U0001f3ff\U000e0000-\U000e007f"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
_APOSTROPHES = "'\u2019\u2018\u02bc\u02b9`\u00b4"
_EMOJI_CHARS = "\u2190-\u21ff\u2300-\u27bf\u2b00-\u2bff\U0001f000-\U0001f3fa\U0001f400-\U0001faff"
# A token of the text: one emoji, or a run of word characters with the apostrophes and
# invisible characters inside a word (a zero-width space must not split "хо\u200bчу").
_TOKEN = re.compile(rf"[{_EMOJI_CHARS}]|[\w{_APOSTROPHES}{_INVISIBLE_CHARS}]+")
_EMOJI = re.compile(f"[{_EMOJI_CHARS}]")
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
_DIGRAPHS = (
    ("shch", "sh"), ("sch", "sh"), ("zh", "j"), ("kh", "h"), ("gh", "g"), ("ng", "n"),
    # чю is how children misspell чу ("хочю"); шя, ща would also undo Kazakh ші+а.
    ("chiu", "chu"),
    # ё typed as yo ("ubyot" is "убьёт", which is "ubet" once ё is е and ь vanishes).
    ("io", "e"),
)  # fmt: skip
_REPEATS = re.compile(r"(.)\1+")
# Short words children spell their own way, too short for the vowel folding below: "ни хочу
# жить" is "не хочу жить", "шо", "чо" and "че" are "что".
_SHORT_SPELLINGS = {
    "ni": "ne", "nie": "ne", "sho": "chto", "cho": "chto", "che": "chto", "shto": "chto"
}  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+")
_FOLD_VOWELS = str.maketrans("oe", "ai")  # unstressed vowels children confuse: а/о, е/и
_ENGLISH = snowballstemmer.stemmer("english")
_LATIN_WORD = re.compile(rf"[A-Za-z{_APOSTROPHES}]+")


def _digit_as_letter(match: re.Match[str]) -> str:
    # Only a digit touching a letter is one; "9 класс" and "5000" stay numbers.
    text, start, end = match.string, match.start(), match.end()
    touches_letter = (start > 0 and "a" <= text[start - 1] <= "z") or (
        end < len(text) and "a" <= text[end] <= "z"
    )
    return _DIGIT_LETTERS[match.group()] if touches_letter else match.group()


def _skeleton(token: str) -> str:
    """One token (no spaces) in the skeleton spelling; may hold several words ("self-harm")."""
    token = unicodedata.normalize("NFKC", token)
    if _MIXED_PAIR.search(token):
        token = token.translate(_TO_CYRILLIC)
    # ş and ç would lose their sound once NFD drops the cedilla: spell them out first.
    token = token.casefold().replace("ş", "sh").replace("ç", "ch")
    token = _INVISIBLE.sub("", unicodedata.normalize("NFD", token))
    token = token.translate(_TO_SKELETON)
    if _DIGIT.search(token):
        token = _DIGIT.sub(_digit_as_letter, token)
    # Repeats go both before the digraphs ("songghy" must read as "songhy" to meet "соңғы")
    # and after them, since a digraph can leave a new pair ("ngn" -> "nn").
    token = _REPEATS.sub(r"\1", token)
    for spelling, letters in _DIGRAPHS:
        token = token.replace(spelling, letters)
    return _REPEATS.sub(r"\1", token)


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a text as the rules compare it."""

    text: str  # the skeleton
    folded: str  # the skeleton with unstressed vowels folded, for spelling tolerance
    kk: str  # its Kazakh stem (kazakh_stem)
    en: str  # its English Snowball stem (of Latin letters only, else "")


# Kazakh suffixes in the skeleton spelling, longest first: case, possession, plural, person
# and the commonest verb endings. Stripping stops at STEM_LETTERS letters.
_KAZAKH_SUFFIXES = tuple(
    sorted(
        {
            # plural
            "lar", "ler", "dar", "der", "tar", "ter",
            # possession: my, your, his/her, our
            "im", "in", "i", "si", "imiz", "iniz", "m", "n", "mis", "miz",
            # dative, accusative, genitive, locative, ablative, instrumental
            "ga", "ge", "ka", "ke", "na", "ne", "a", "e",
            "di", "ti", "ni", "nin", "din", "tin",
            "da", "de", "ta", "te", "nda", "nde",
            "dan", "den", "tan", "ten", "nan", "nen",
            "men", "ben", "pen",
            # person endings of verbs and of "I am ..."
            "min", "sin", "siz", "pin", "bin",
            # past, converbs, participles, present and future
            "ip", "gan", "gen", "kan", "ken", "atin", "etin", "itin",
            "adi", "edi", "idi", "iadi", "iedi", "ar", "er", "mak", "mek", "u",
            "sa", "se", "ma", "me", "ba", "be", "pa", "pe",
            "iin", "ain", "ein",
        },
key=lambda suffix: (-len(suffix), suffix),
    )
)  # fmt: skip
_KAZAKH_SUFFIX_SET = frozenset(_KAZAKH_SUFFIXES)
_KAZAKH_LONGEST = max(map(len, _KAZAKH_SUFFIXES))
STEM_LETTERS = 4  # the Kazakh stemmer never leaves fewer letters than this
# A final voiced consonant is its voiceless one before a vowel suffix: пышағы is пышақ+ы.
_FINAL_VOICED = {"g": "k", "b": "p"}


def kazakh_stem(word: str) -> str:
    """A Kazakh word (skeleton spelling) without its suffixes: "pishakpen" -> "pishak".

    Greedy: up to four times, the longest suffix of `_KAZAKH_SUFFIXES` whose removal leaves
    at least STEM_LETTERS letters goes; a final g or b then becomes k or p. Lexicon entries
    and text go through the same steps, so an over-stripped stem still meets its own forms.
    """
    for _ in range(4):
        for length in range(min(_KAZAKH_LONGEST, len(word) - STEM_LETTERS), 0, -1):
            if word[-length:] in _KAZAKH_SUFFIX_SET:
                word = word[:-length]
                break
        else:
            break
    if word[-1:] in _FINAL_VOICED:
        word = word[:-1] + _FINAL_VOICED[word[-1]]
    return word


@lru_cache(maxsize=65536)
def _token_words(token: str) -> tuple[Word, ...]:
    """The words of one token of a text (cached: children's words repeat across messages)."""
    if _EMOJI.fullmatch(token):
        return (Word(token, token, "", ""),)
    words = [_SHORT_SPELLINGS.get(word, word) for word in _WORD.findall(_skeleton(token))]
    english = ""
    if len(words) == 1 and _LATIN_WORD.fullmatch(token):
        letters = "".join(letter for letter in token.casefold() if letter.isalpha())
        english = _skeleton(_ENGLISH.stemWord(letters))
    return tuple(
        Word(word, word.translate(_FOLD_VOWELS), kazakh_stem(word), english) for word in words
    )


def _words(text: str) -> tuple[list[Word], list[int]]:
    """The words and emoji of a text, and the token of the text each comes from."""
    words: list[Word] = []
    tokens: list[int] = []
    for index, match in enumerate(_TOKEN.finditer(text)):
        found = _token_words(match.group())
        words.extend(found)
        tokens.extend([index] * len(found))
    return words, tokens


def clear_caches() -> None:
    """Forget the words of every token seen (for measuring the cost of words never seen)."""
    _token_words.cache_clear()


def normalise(text: str) -> list[str]:
    """The normalised words and emoji of a text, as the lexicon compares them."""
    return [word.text for word in _words(text)[0]]


# --- terms and rules -----------------------------------------------------------------------


def _deletes(text: str) -> set[str]:
    return {text[:index] + text[index + 1 :] for index in range(len(text))}


def _near(first: str, second: str) -> bool:
    # The first letter must agree: children rarely miss it, and Russian prefixes differ by
    # one letter ("зарезал" and "порезал" are one edit apart).
    # One edit, or two neighbours swapped ("myslef"): the optimal string alignment distance.
    return first[:1] == second[:1] and OSA.distance(first, second, score_cutoff=1) <= 1


@dataclass(frozen=True)
class Term:
    """One word of an entry: a stem that matches by prefix, or a whole word in its forms."""

    text: str  # the skeleton as written
    prefix: bool
    forms: frozenset[str] = frozenset()  # the skeletons of every form (Russian), else {text}
    stem: str = ""  # the Kazakh or English stem that a word must share
    stemmer: str = ""  # "kk", "en" or "" (exact forms only)
    # The keys above with vowels folded (computed): misspelt Russian and Kazakh meet them.
    folded: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        keys = (self.stem,) if self.stem else self.forms
        # Folding vowels is for Russian and Kazakh spelling: in English "rope" would be "rape".
        # A stem needs a letter more: a short Kazakh stem is often over-stripped ("командаға"
        # is "koma", which folded would meet "қамады", "kama").
        shortest = FOLD_LETTERS + 1 if self.stem else FOLD_LETTERS
        folded = {_folded(key) for key in keys if len(key) >= shortest}
        object.__setattr__(self, "folded", frozenset() if self.stemmer == "en" else folded)

    def matches(self, word: Word) -> bool:
        """Whether this term matches a word of a text, spelling tolerance included."""
        if self.prefix:
            return (
                word.text.startswith(self.text)
                or (len(self.text) > FOLD_LETTERS and word.folded.startswith(_folded(self.text)))
                or (len(self.text) >= EDIT_STEM_LETTERS and _near_prefix(self.text, word.text))
            )
        if word.text in self.forms or (self.stem and self.stem == self._key(word)):
            return True
        if len(word.text) < FOLD_LETTERS:
            return False
        target = self._key(word) if self.stem else word.text
        if _folded(target) in self.folded:
            return True
        # An edit only from the word as written, not from each of its forms: "убились" is
        # one edit from "убили", a form of another verb.
        written = self.stem or self.text
        return len(written) >= EDIT_LETTERS and _near(written, target)

    def _key(self, word: Word) -> str:
        return word.kk if self.stemmer == "kk" else word.en


def _near_prefix(stem: str, word: str) -> bool:
    size = len(stem)
    return any(_near(word[:length], stem) for length in (size - 1, size, size + 1))


@lru_cache(maxsize=8192)
def _folded(text: str) -> str:
    return text.translate(_FOLD_VOWELS)


Phrase = tuple[Term, ...]


@dataclass(frozen=True)
class Rule:
    """One entry line of a lexicon file, parsed: parts that must all occur close together."""

    parts: tuple[tuple[Phrase, ...], ...]  # each part: the phrases any one of which will do
    category: RiskCategory
    language: str
    source: str  # the entry as the file writes it, without comment or tag
    path: Path
    line: int
    soft: bool = False  # not when a word of the file's @figurative set is near
    figurative: tuple[Phrase, ...] = ()

    @property
    def id(self) -> str:
        """The rule's name where it is stored and counted: category, language, entry."""
        return f"{self.category.value}:{self.language}:{self.source}"

    @property
    def terms(self) -> Phrase:
        """The words of an entry of one phrase (the first phrase of a rule of several)."""
        return self.parts[0][0]


LexiconEntry = Rule  # the name the tests and callers knew


@dataclass(frozen=True)
class RiskMatch:
    """A rule of the lexicon that a text matched, and which of the text's tokens it covers."""

    category: RiskCategory
    entry: str
    language: str
    rule: str = field(default="", compare=False)
    tokens: tuple[int, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Reason:
    """Why a text is P1, for staff: the rule's category and the child's words that matched."""

    category: RiskCategory
    rule: str
    quote: str

    @property
    def label(self) -> str:
        """The category in the reader's language."""
        return str(LABELS[self.category])


# --- the lexicon ---------------------------------------------------------------------------

_Span = tuple[int, int]  # first and last word index of an occurrence
# A phrase found from its anchor term: the phrase, its first and last word relative to the
# anchor's, and its other terms, each with its place relative to the anchor's.
_Anchor = tuple[int, int, int, tuple[tuple[int, int], ...]]


class Lexicon:
    """A loaded lexicon, indexed so that a text is checked in one pass over its words.

    Every distinct term of every phrase is indexed once; a phrase is looked for only where its
    anchor (its longest term: never "меня" when "избил" is there) matches, and a rule is tried
    only when its trigger (its most specific part) occurs. What each distinct token of a text
    matches is cached, so a long message costs little more than a lookup per word."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.entries = tuple(rules)
        self._terms: list[Term] = []
        term_ids: dict[Term, int] = {}
        self._phrases: list[tuple[int, ...]] = []  # each phrase as its terms' ids
        phrase_ids: dict[Phrase, int] = {}
        self._part_phrases: list[frozenset[int]] = []  # each distinct part as its phrases
        part_ids: dict[frozenset[int], int] = {}

        def phrase_id(phrase: Phrase) -> int:
            if phrase not in phrase_ids:
                phrase_ids[phrase] = len(self._phrases)
                self._phrases.append(
                    tuple(term_ids.setdefault(term, len(term_ids)) for term in phrase)
                )
            return phrase_ids[phrase]

        def part_id(phrases: Iterable[Phrase]) -> int:
            key = frozenset(phrase_id(phrase) for phrase in phrases)
            if key not in part_ids:
                part_ids[key] = len(self._part_phrases)
                self._part_phrases.append(key)
            return part_ids[key]

        # Per rule: its parts, and the part of its file's @figurative set (-1 if not soft).
        self._parts: list[tuple[int, ...]] = []
        self._figurative: list[int] = []
        for rule in self.entries:
            self._parts.append(tuple(part_id(part) for part in rule.parts))
            self._figurative.append(part_id(rule.figurative) if rule.soft else -1)
        self._terms = sorted(term_ids, key=term_ids.__getitem__)
        # A phrase is found from its anchor: its rarest term (see _rarity).
        # Each anchor: its phrase, where the phrase starts and ends relative to it, and the
        # phrase's other terms with their places relative to it.
        self._anchored: dict[int, list[_Anchor]] = {}
        for index, terms in enumerate(self._phrases):
            offset = max(range(len(terms)), key=lambda at: _rarity(self._terms[terms[at]]))
            others = tuple((at - offset, term) for at, term in enumerate(terms) if at != offset)
            anchor = (index, -offset, len(terms) - 1 - offset, others)
            self._anchored.setdefault(terms[offset], []).append(anchor)
        # A rule is tried when its trigger part occurs: the part of fewest short words.
        self._triggered: dict[int, list[int]] = {}
        self._trigger: list[int] = []
        for index, parts in enumerate(self._parts):
            trigger = min(parts, key=self._commonness)
            self._trigger.append(trigger)
            for phrase in self._part_phrases[trigger]:
                self._triggered.setdefault(phrase, []).append(index)
        # Terms by exact key, by stem, by prefix and by deletes (spelling).
        self._exact: dict[str, set[int]] = {}
        self._kk: dict[str, set[int]] = {}
        self._en: dict[str, set[int]] = {}
        self._prefixes: dict[str, set[int]] = {}
        self._folded: dict[str, set[int]] = {}
        self._edited: dict[str, set[int]] = {}
        self._folded_prefixes: dict[str, set[int]] = {}
        self._edited_prefixes: dict[str, set[int]] = {}
        for index, term in enumerate(self._terms):
            self._index(index, term)
        # What each distinct token matches: per word, its terms and the phrases it anchors.
        self._tokens: dict[str, tuple[_Matched, ...]] = {}

    def _commonness(self, part: int) -> tuple[int, int]:
        """How often a part is likely to occur: short anchor words first, then its size."""
        phrases = self._part_phrases[part]
        short = sum(
            1
            for phrase in phrases
            if max(_rarity(self._terms[term]) for term in self._phrases[phrase])[0] < 5
        )
        return short, len(phrases)

    def _index(self, term_id: int, term: Term) -> None:
        def put(table: dict[str, set[int]], keys: Iterable[str]) -> None:
            for key in keys:
                table.setdefault(key, set()).add(term_id)

        if term.prefix:
            put(self._prefixes, [term.text[:MIN_LETTERS]])
            if len(term.text) > FOLD_LETTERS:
                put(self._folded_prefixes, [_folded(term.text)[:FOLD_LETTERS]])
            if len(term.text) >= EDIT_STEM_LETTERS:
                head = term.text[:EDIT_LETTERS]
                put(self._edited_prefixes, {head} | _deletes(head))
            return
        put(self._exact, term.forms)
        if term.stem:
            put(self._kk if term.stemmer == "kk" else self._en, [term.stem])
        put(self._folded, term.folded)
        written = term.stem or term.text
        if len(written) >= EDIT_LETTERS:
            put(self._edited, {written} | _deletes(written))

    def __len__(self) -> int:
        return len(self.entries)

    def clear_caches(self) -> None:
        """Forget what tokens matched (for measuring the cost of words never seen)."""
        self._tokens.clear()

    def _terms_of(self, word: Word) -> frozenset[int]:
        """The terms that match a word, spelling tolerance included."""
        maybe = set(self._exact.get(word.text, ()))
        maybe.update(self._kk.get(word.kk, ()))
        if word.en:
            maybe.update(self._en.get(word.en, ()))
        maybe.update(self._prefixes.get(word.text[:MIN_LETTERS], ()))
        if len(word.text) >= FOLD_LETTERS:
            for key in (word.folded, _folded(word.kk), _folded(word.en)):
                maybe.update(self._folded.get(key, ()))
            maybe.update(self._folded_prefixes.get(word.folded[:FOLD_LETTERS], ()))
        if len(word.text) >= EDIT_LETTERS - 1:
            for text in {word.text, word.kk, word.en} - {""}:
                for key in {text} | _deletes(text):
                    maybe.update(self._edited.get(key, ()))
        if len(word.text) >= EDIT_STEM_LETTERS - 1:
            for text in (word.text[:EDIT_LETTERS], word.text[: EDIT_LETTERS + 1]):
                for key in {text} | _deletes(text):
                    maybe.update(self._edited_prefixes.get(key, ()))
        return frozenset(term for term in maybe if self._terms[term].matches(word))

    def _token(self, token: str) -> tuple[_Matched, ...]:
        """What each word of a token matches (cached per distinct token)."""
        found = self._tokens.get(token)
        if found is None:
            matched = []
            for word in _token_words(token):
                terms = self._terms_of(word)
                anchors = tuple(
                    anchor for term in sorted(terms) for anchor in self._anchored.get(term, ())
                )
                matched.append(_Matched(terms, anchors) if terms else _NOTHING)
            found = tuple(matched)
            if len(self._tokens) > 100_000:  # a bound on memory: start again
                self._tokens.clear()
            self._tokens[token] = found
        return found

    def _occurrences(self, text: str) -> tuple[dict[int, list[_Span]], list[str]]:
        """Where each phrase occurs (spans sorted by start), and the text's tokens."""
        tokens = _TOKEN.findall(text)
        words: list[_Matched] = []
        known = self._tokens.get  # the common case, without a call per token
        for token in tokens:
            found = known(token)
            words += self._token(token) if found is None else found
        seen: dict[int, list[_Span]] = {}
        size = len(words)
        for position, word in enumerate(words):
            for phrase, before, after, others in word.anchors:
                start, end = position + before, position + after
                if others:
                    if start < 0 or end >= size:
                        continue
                    if len(others) == 1:  # most phrases are two words
                        at, term = others[0]
                        if term not in words[position + at].terms:
                            continue
                    elif not all(term in words[position + at].terms for at, term in others):
                        continue
                if phrase in seen:
                    seen[phrase].append((start, end))
                else:
                    seen[phrase] = [(start, end)]
        return seen, tokens

    def _tried(self, seen: dict[int, list[_Span]]) -> list[int]:
        """The rules whose trigger part occurs, in the lexicon's order."""
        triggered = self._triggered
        return sorted(
            {rule for phrase in seen if phrase in triggered for rule in triggered[phrase]}
        )

    def _token_of(self, tokens: list[str]) -> list[int]:
        """The token each word of a text comes from."""
        return [at for at, token in enumerate(tokens) for _word in self._token(token)]

    def _result(self, index: int, spans: list[_Span], token_of: list[int]) -> RiskMatch:
        """A matched rule, with the tokens of the text its spans cover."""
        covered = sorted({token_of[i] for start, end in spans for i in range(start, end + 1)})
        rule = self.entries[index]
        return RiskMatch(rule.category, rule.source, rule.language, rule.id, tuple(covered))

    def matches(self, text: str) -> list[RiskMatch]:
        """The rules a text matches, each once, in the order of where their match starts."""
        seen, tokens = self._occurrences(text)
        spans_of: dict[int, list[_Span]] = {}  # each part's spans in this text, sorted
        found: list[tuple[int, int, list[_Span]]] = []
        for index in self._tried(seen):
            spans = self._match(index, seen, spans_of)
            if spans is not None:
                found.append((min(start for start, _end in spans), index, spans))
        found.sort(key=lambda item: item[:2])
        token_of = self._token_of(tokens)
        return [self._result(index, spans, token_of) for _start, index, spans in found]

    def first(self, text: str) -> RiskMatch | None:
        """The first of `matches` (None if none), found without trying every rule.

        A rule's match lies within WINDOW words of its trigger's first occurrence, so once
        that is further on than the best match found, the rule cannot come first."""
        seen, tokens = self._occurrences(text)
        spans_of: dict[int, list[_Span]] = {}
        earliest = {}  # each tried rule: where its trigger first occurs
        for index in self._tried(seen):
            phrases = self._part_phrases[self._trigger[index]]
            earliest[index] = min(seen[phrase][0][0] for phrase in phrases if phrase in seen)
        best: tuple[int, int, list[_Span]] | None = None
        for index in sorted(earliest, key=lambda rule: (earliest[rule], rule)):
            if best is not None and earliest[index] - WINDOW > best[0]:
                break
            spans = self._match(index, seen, spans_of)
            if spans is not None:
                candidate = (min(start for start, _end in spans), index, spans)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
        return None if best is None else self._result(best[1], best[2], self._token_of(tokens))

    def find(self, text: str) -> list[RiskMatch]:
        """The rules a text matches (as `matches`)."""
        return self.matches(text)

    def _spans(
        self, part: int, seen: dict[int, list[_Span]], spans_of: dict[int, list[_Span]]
    ) -> list[_Span]:
        """A part's occurrences in the text, sorted (computed once per text)."""
        spans = spans_of.get(part)
        if spans is None:
            present = [seen[phrase] for phrase in self._part_phrases[part] if phrase in seen]
            spans = present[0] if len(present) == 1 else sorted(chain.from_iterable(present))
            spans_of[part] = spans
        return spans

    def _match(
        self, index: int, seen: dict[int, list[_Span]], spans_of: dict[int, list[_Span]]
    ) -> list[_Span] | None:
        """Spans close together, one for each part of the rule, or None if it does not match.

        Each occurrence of the rarest part is an anchor; every other part takes its occurrence
        nearest the anchor. Cheap whatever the text's length, and exact for one or two parts."""
        parts = self._parts[index]
        if len(parts) == 1 and self._figurative[index] < 0:
            spans = self._spans(parts[0], seen, spans_of)
            return spans[:1] or None
        options = []
        for part in parts:
            spans = self._spans(part, seen, spans_of)
            if not spans:
                return None
            options.append(spans)
        # The same part twice is one list: compare places, not lists.
        rarest = min(range(len(options)), key=lambda at: len(options[at]))
        for anchor in options[rarest]:
            chosen = [anchor]
            for at, spans in enumerate(options):
                if at != rarest:
                    # Each part its own words: "сындырды" is not both the act and the harm.
                    free = [
                        span
                        for span in _near_spans(spans, anchor)
                        if all(_apart(span, other) for other in chosen)
                    ]
                    if not free:
                        break
                    chosen.append(_nearest(free, anchor))
            if len(chosen) < len(options):
                continue
            first = min(start for start, _end in chosen)
            last = max(end for _start, end in chosen)
            if last - first <= WINDOW and not self._figurative_near(
                index, seen, spans_of, first, last
            ):
                return chosen
        return None

    def _figurative_near(
        self,
        index: int,
        seen: dict[int, list[_Span]],
        spans_of: dict[int, list[_Span]],
        first: int,
        last: int,
    ) -> bool:
        part = self._figurative[index]
        if part < 0:
            return False
        spans = self._spans(part, seen, spans_of)
        for start, end in spans[bisect.bisect_left(spans, (first - WINDOW, first - WINDOW)) :]:
            if start > last + WINDOW:
                return False
            if end <= last + WINDOW:
                return True
        return False


def _rarity(term: Term) -> tuple[int, int]:
    """How rarely a term is likely to match: by its shortest form (the whole word "меня" is
    also "я"), then by its length."""
    shortest = len(term.text) if term.prefix else min(map(len, term.forms), default=0)
    return shortest, len(term.text)


@dataclass(frozen=True, slots=True)
class _Matched:
    """What one word of a text matches: its terms, and the phrases it anchors (with where)."""

    terms: frozenset[int]
    anchors: tuple[_Anchor, ...]


_NOTHING = _Matched(frozenset(), ())


def _apart(first: _Span, second: _Span) -> bool:
    return first[1] < second[0] or second[1] < first[0]


def _near_spans(spans: list[_Span], anchor: _Span) -> list[_Span]:
    """The spans of a sorted list that start within WINDOW words of the anchor."""
    low = bisect.bisect_left(spans, (anchor[0] - WINDOW, anchor[0] - WINDOW))
    return spans[low : bisect.bisect_right(spans, (anchor[1] + WINDOW + 1, 0))]


def _nearest(spans: list[_Span], anchor: _Span) -> _Span:
    """The span that makes the smallest window with the anchor."""
    return min(spans, key=lambda span: max(span[1], anchor[1]) - min(span[0], anchor[0]))


# --- reading the files ---------------------------------------------------------------------

_SECTION = re.compile(r"\[\s*(\w*)\s*\]")
_TRAILING_TAG = re.compile(r"(?P<body>.*?)\s*\[\s*(?P<tag>\w*)\s*\]")
_SET = re.compile(r"@(?P<name>\w+)\s*=(?P<members>.*)")
_SET_NAME = re.compile(r"@\w+")


@cache
def _morph() -> Any:
    """The Russian analyser, loaded once (pymorphy3 with its offline dictionary)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


def _russian_forms(word: str) -> frozenset[str]:
    """The skeletons of every form of a Russian word the dictionary knows, else just it."""
    forms = {_skeleton(word)}
    if re.fullmatch("[а-яё]+", word):
        # Every reading the dictionary knows: "зарезать" is read both as perfective (зарежу)
        # and imperfective (зарезаю).
        for parse in _morph().parse(word):
            if parse.is_known:
                forms.update(_skeleton(form.word) for form in parse.lexeme)
    return frozenset(forms)


def _category(tag: str, path: Path, line: int) -> RiskCategory:
    try:
        return RiskCategory.parse(tag.lower())
    except ValueError as error:
        raise LexiconError(path, line, f"unknown category: {error}") from None


def _term(raw: str, written: str, prefix: bool, word: str, language: str) -> Term:
    if prefix:
        return Term(word, prefix=True)
    if language == "ru" and not raw.startswith("="):
        return Term(word, prefix=False, forms=_russian_forms(written.lower()))
    if language == "kk" and not raw.startswith("="):
        return Term(word, False, frozenset({word}), kazakh_stem(word), "kk")
    if language == "en" and not raw.startswith("=") and written.isascii():
        stem = _skeleton(_ENGLISH.stemWord(written.lower()))
        return Term(word, False, frozenset({word}), stem, "en")
    return Term(word, prefix=False, forms=frozenset({word}))


def _phrase(body: str, path: Path, line: int, language: str, alone: bool = True) -> Phrase:
    """One phrase of a line; `alone` when it is a whole entry (a short word is refused then;
    a set's member, which only counts beside another part, may be short: "он", "вк")."""
    raw_words = body.split()
    if not raw_words:
        raise LexiconError(path, line, "an empty part between '&'")
    terms: list[Term] = []
    for raw in raw_words:
        prefix = raw.endswith("*")
        written = (raw[:-1] if prefix else raw).lstrip("=")
        if "*" in written:
            raise LexiconError(path, line, f"{raw!r}: '*' may only end a word, once")
        words = _words(written)[0]
        emoji = [word for word in words if not _WORD.fullmatch(word.text)]
        if emoji:
            if len(raw_words) > 1 or len(words) > 1 or prefix:
                raise LexiconError(path, line, f"{raw!r}: an emoji stands alone on its line")
            return (Term(emoji[0].text, prefix=False, forms=frozenset({emoji[0].text})),)
        if not words:
            raise LexiconError(path, line, f"{raw!r} has no letters")
        # "self-harm" is two words in a text, so it is two words of the phrase here too.
        pieces = [word.text for word in words]
        single = len(pieces) == 1
        terms.extend(Term(piece, False, frozenset({piece})) for piece in pieces[:-1])
        terms.append(_term(raw, written if single else pieces[-1], prefix, pieces[-1], language))
    for term in terms:
        if term.prefix and len(term.text) < MIN_LETTERS:
            raise LexiconError(
                path, line, f"the stem {term.text!r}* is too short: it would match too many words"
            )
    if alone and len(terms) == 1 and len(terms[0].text) < MIN_LETTERS:
        raise LexiconError(
            path, line, f"{body!r} alone is too short: write it inside a phrase instead"
        )
    return tuple(terms)


def _part(
    text: str,
    sets: dict[str, tuple[Phrase, ...]],
    path: Path,
    line: int,
    language: str,
    alone: bool,
) -> tuple[Phrase, ...]:
    if text.startswith("@"):
        if not _SET_NAME.fullmatch(text):
            raise LexiconError(path, line, f"{text!r}: a set is @ and a name, alone in its part")
        if text[1:] not in sets:
            raise LexiconError(path, line, f"{text} is not defined above this line")
        return sets[text[1:]]
    if "@" in text:
        raise LexiconError(path, line, f"{text!r}: a set is @ and a name, alone in its part")
    return (_phrase(text, path, line, language, alone),)


def _parse_file(path: Path) -> list[Rule]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is fine
    except UnicodeDecodeError as error:
        raise LexiconError(path, 0, f"not UTF-8 text: {error.reason}") from None
    language = path.stem
    section: RiskCategory | None = None
    sets: dict[str, tuple[Phrase, ...]] = {}
    first_seen: dict[tuple[bool, tuple[tuple[Phrase, ...], ...]], int] = {}
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0].strip()
        if not body:
            continue
        if match := _SECTION.fullmatch(body):
            section = _category(match.group(1), path, number)
            continue
        if match := _SET.fullmatch(body):
            members = [member.strip() for member in match["members"].split(",")]
            if not all(members):
                raise LexiconError(path, number, "a set lists words or phrases between commas")
            sets[match["name"]] = tuple(
                _phrase(member, path, number, language, alone=False) for member in members
            )
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
        soft = body.startswith("~")
        source = body[1:].strip() if soft else body
        pieces = source.split(" & ")
        parts = tuple(
            _part(piece.strip(), sets, path, number, language, len(pieces) == 1) for piece in pieces
        )
        key = (soft, parts)
        if key in first_seen:
            raise LexiconError(path, number, f"{source!r} is already on line {first_seen[key]}")
        first_seen[key] = number
        figurative = sets.get(FIGURATIVE, ()) if soft else ()
        if soft and not figurative:
            raise LexiconError(path, number, "a soft entry (~) needs a @figurative set above it")
        rules.append(Rule(parts, category, language, source, path, number, soft, figurative))
    return rules


def load_lexicon(directory: Path | None = None) -> Lexicon:
    """The lexicon of every *.txt file in a folder; the shipped one (cached) by default."""
    if directory is None:
        return _default_lexicon()
    files = sorted(directory.glob("*.txt"))
    if not files:
        # An empty lexicon would silently flag nothing: refuse it.
        raise LexiconError(directory, 0, "no *.txt lexicon files here")
    return Lexicon(rule for path in files for rule in _parse_file(path))


@cache
def _default_lexicon() -> Lexicon:
    return load_lexicon(DEFAULT_DIRECTORY)


def find_risks(text: str, lexicon: Lexicon | None = None) -> list[RiskMatch]:
    """The lexicon rules a text matches (the shipped lexicon by default)."""
    return (lexicon if lexicon is not None else load_lexicon()).matches(text)


# --- intake and staff ----------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """A new report's priority, and the rule that made it P1 (None if none did)."""

    priority: Priority
    rule: str | None


def assess(
    category: Category, in_danger: bool, text: str, lexicon: Lexicon | None = None
) -> Assessment:
    """A new report's priority (P1 for danger or a lexicon match, P2 for abuse, else P3) and
    the id of the first rule the text matched."""
    try:
        found = (lexicon if lexicon is not None else load_lexicon()).first(text)
    except LexiconError:
        # A broken lexicon file must not lose the child's report: without a check, a person
        # should look at it soon, so it goes in as P1 (the error names no child's words).
        _log.exception("risk lexicon unreadable; report taken as P1")
        return Assessment(Priority.P1, LEXICON_ERROR)
    rule = found.rule if found else None
    if in_danger or found:
        return Assessment(Priority.P1, rule)
    return Assessment(Priority.P2 if category in ABUSE_CATEGORIES else Priority.P3, None)


def intake_priority(
    category: Category, in_danger: bool, text: str, lexicon: Lexicon | None = None
) -> Priority:
    """A new report's priority: P1 for danger or a lexicon match, P2 for abuse, else P3."""
    return assess(category, in_danger, text, lexicon).priority


QUOTE_LIMIT = 120  # characters of the child's words shown beside a reason


def explain(text: str, lexicon: Lexicon | None = None) -> list[Reason]:
    """Why a text matches, for staff who decrypted it: each rule with the words it matched.

    Computed when asked, never stored: the quote is the child's own words."""
    try:
        found = find_risks(text, lexicon)
    except LexiconError:
        return []
    spans = [match.span() for match in _TOKEN.finditer(text)]
    reasons: list[Reason] = []
    for match in found:
        pieces: list[str] = []
        run: list[int] = []
        for token in (*match.tokens, -2):  # -2 closes the last run
            if run and token != run[-1] + 1:
                pieces.append(text[spans[run[0]][0] : spans[run[-1]][1]])
                run = []
            run.append(token)
        quote = _INVISIBLE.sub("", " … ".join(pieces))
        if len(quote) > QUOTE_LIMIT:
            quote = quote[: QUOTE_LIMIT - 1] + "…"
        if all((reason.category, reason.quote) != (match.category, quote) for reason in reasons):
            reasons.append(Reason(match.category, match.rule, quote))
    return reasons
