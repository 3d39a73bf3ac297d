"""A page's text as lines, and what each line looks like: the vocabulary layout.py reasons with and
the features its learned boundary model scores. Pure functions; every pattern is compiled at import.

A line is "meta" when it is mostly comment metadata: an author line ("X says:", "by X (123) on …",
"Posted by: X at …", "• X"), a date/time stamp, a "N hours ago", a vote count, or a control such as
"Reply" / "Log in to Reply". Kinds of metadata are told apart because they play different parts: an
author line starts (or, as a footer, ends) a comment; a control or score line only trails one.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import re
from typing import NamedTuple

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b\.?,?"


def _led(first: str, pattern: str, flags: int = 0) -> re.Pattern:
    """The pattern behind a lookahead on the characters its matches can start with: the very same
    matches (search, sub), found in about half the time, as re then tries the whole alternation only
    where a match can start instead of at every position of the line. `first` must hold every
    character a match can begin with (under re.I a class widens as a letter does: "s" also takes "ſ");
    tests/test_layout.py checks each led pattern against its plain form."""
    return re.compile(f"(?=[{first}])(?:{pattern})", flags)


_DATE_MONTH = (rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+(?:\d{{4}}|'\d\d))?"  # July 7, 2012 / Nov 8th
               rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\.?\s+{_MONTH}(?:,?\s+\d{{2,4}})?\b")  # 20. Jul, 2012 / 4 Nov 12
# 10/28/12, 07.13.12, 2012-11-09, glued: Ann7/10/2012; not a link's dated path (/2015/06/20/, -2015-06-20-title)
_DATE_NUMERIC = r"(?<![\d./-])\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}\b(?![/-]\w)"
_DATE_DAY = rf"\b{_DAY}\s+\d{{1,2}}\b"  # Monday 12
DATE = _led(r"jfmasondtw\d", f"{_DATE_MONTH}|{_DATE_NUMERIC}|{_DATE_DAY}", re.I)
_DATE_WORDS = _led(r"jfmasondtw\d", f"{_DATE_MONTH}|{_DATE_DAY}", re.I).search  # DATE.search where no numeric date is
TIME = _led(r"@\d", r"(?:\b|@)\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?\b)?|\b\d{1,2}\s*[ap]\.m\.", re.I)
AGO = _led(r"\daoyj", r"\b(?:\d+|an?|one)\s+(?:sec(?:ond)?|min(?:ute)?|hour|hr|day|week|month|year)s?\s+ago\b"
                     r"|\b(?:yesterday|just now)\b", re.I)
# "X says:", "X said...", "X wrote:", "X writes", "On DATE, X said:"
SAYS = re.compile(r"^(?![\"“‘'])(?!.*\b(?:he|she|they|it|i|we|who|which|that)\s+(?:says|said|wrote|writes|added)\b)"
                  r"(?:\S+\s+){0,12}?\S*?\s*(?:says|said|wrote|writes|commented|replied|responded|asks)"
                  r"\s*(?::|\.\.\.|…|,)?\s*(?:[:|]\s*.*|(?:on|at)\s+.*\d.*)?$", re.I)
# "by X", "Posted by: X", "written by X", "Posted on …", "Submitted by …", "on DATE X" bylines
BYLINE = re.compile(r"^(?:#?\d+\s*[-.:]?\s*)?(?:(?:posted|written|submitted|comment(?:ed)?|reply|answered)\s+"
                    rf"(?:by|on|at)\b:?|by\s+(?!(?:the|a|an|this|that|way|now|then|far|default|all|means|contrast|"
                    rf"comparison|design|hand|law|now|some|no|any|using|making)\b)\S|posted\b:?|on\s+(?:\d|{_MONTH}))", re.I)
SLASH_ID = re.compile(r"\(\d{3,}\)|\(#\d+\)|\(\d+,\s*[A-Z][a-z]+\)")  # user (12345), (#40750343), (1, Insightful)
# "baroo 6 pts", "Ann 12 points": a name with its vote score; "http://site.example/ Ann Lee": a name
# that links to its homepage
SCORED_NAME = re.compile(r"^\S.{0,40}?\s+[+-]?\d+\s+(?:pts|points?|likes?|votes?)$", re.I)
LINKED_NAME = re.compile(r"^https?://\S+\s+(?!https?:)\S.{0,40}$")
BULLET_CHARS = "•·▪►◦"  # a comment author line's bullets (the example page's markup)
BULLET = re.compile(rf"^[{BULLET_CHARS}]\s*\S")
CONTROL = re.compile(
    r"^(?:reply(?:\s*↓)?|log\s*in\s+to\s+reply|report(?:\s+(?:abuse|comment|this))?|like|unlike|share|"
    r"permalink|link|flag|quote|edit|delete|respond|replies|hide\s+replies|show\s+replies|view\s+replies|"
    r"recommend|vote\s+up|vote\s+down|thumbs?\s+(?:up|down)|(?:[+-]?\d+\s*)?(?:likes?|points?|pts|votes?|"
    r"replies|recommendations?)|[+-]?\d+|#\d+(?:\.\d+)?|\d+\s*\|\s*\d+|comment\s+author\s+avatar|"
    r"\S+'s\s+(?:picture|avatar)|avatar|\(not\s+verified\)|reply\s+to\s+this\s+comment|"
    r"(?:\d+\s+)?(?:reply|replies)\s*[·|]?.*)$",
    re.I,
)
PINGBACK = re.compile(r"\b(?:pingback|trackback)\b|^\[(?:\.\.\.|…)\]|\[(?:\.\.\.|…)\]$", re.I)
_CONNECTORS = {"at", "on", "by", "posted", "the", "of", "in", "and", "am", "pm", "utc", "gmt", "est", "edt", "pst",
               "pdt", "cet", "bst", "et", "pt", "ago", "updated", "edited"}
WORD = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*")
# what readers write to each other and an article rarely says (a word set: one split per line is
# far cheaper than a long alternation)
CHATTY_WORDS = frozenset(
    "thanks thank thx lol lmao imho imo agree agreed congrats congratulations awesome wow "
    "i'm i’m you're you’re i've i’ve great post article blog".split()
)
CHATTY_MARKS = re.compile(r"[!?]{2}|[:;]-?[)D]|(?:^|\s)@\w")
# junk that pages append after the article or the comments: neither article nor comment
TAIL = re.compile(
    r"^(?:share\s+(?:this|on|via)\b.*|share:?|tweet|like\s+this:?|related(?:\s+(?:posts?|articles?|stories))?:?|"
    r"you\s+(?:may|might)\s+also\s+like:?|more\s+from\b.*|read\s+more:?|add\s+your\s+two\s+cents:?.*|"
    r"leave\s+a\s+(?:reply|comment)\b.*|post\s+a\s+comment\b.*|email\s+this|print(?:\s+this)?|"
    r"(?:facebook|twitter|google\+?|pinterest|linkedin|reddit|email|whatsapp|tumblr|stumbleupon)"
    r"(?:\s*[|·,/]\s*(?:facebook|twitter|google\+?|pinterest|linkedin|reddit|email|whatsapp|tumblr|"
    r"stumbleupon))*|filed\s+under:?.*|tags?:.*)$",
    re.I,
)
# longer junk lines: site notices, share pleas, copyright and "read more" lines (the branches anchored
# at the line's start apart: classify tries the one that looks anywhere only when "add" is there)
_TAIL_LONG_STARTS = (r"please\s+adhere\s+to\s+our\s+comment|spread\s+the\s+word\b|(?:copyright\s*)?©|copyright\s+\d{4}|"
                     r"read\s+more\b[^.]*?(?:here|at)\s*:|rss\s+feed\s+for\b|older\s+(?:articles|posts)\s+by\b|"
                     r"(?:like|share)\s+(?:and|&)\s+share\b")
_TAIL_LONG_ANYWHERE = r".*\badd\s+your\s+two\s+cents\b"
TAIL_LONG = re.compile(rf"^(?:{_TAIL_LONG_STARTS}|{_TAIL_LONG_ANYWHERE})", re.I)

COMMENTS_HEADING = re.compile(r"^(?:\d+\s+)?(?:comments?|responses?|replies|reader\s+comments|discussion)"
                              r"(?:\s*\(\d+\))?(?:\s+(?:to|on)\s+.*)?:?$", re.I)
SENTENCE_END_CHARS = frozenset(".!?…\"”')")


def ends_sentence(s: str) -> bool:
    return s[-1:] in SENTENCE_END_CHARS


class Line(NamedTuple):
    """One non-blank line: its span in the page (stripped of surrounding whitespace), its indentation,
    and how many blank lines precede it. A named tuple, as Kind: one per line, built fast."""

    start: int
    end: int
    indent: int
    blank_before: int
    text: str


# a Line or a Kind from a tuple of its fields, in C: Line(...) and Kind(...) go through the named
# tuple's Python __new__ (0.67 against 0.23 us for Kind's fifteen fields, once per line)
_new = tuple.__new__


def split_lines(text: str) -> list[Line]:
    out: list[Line] = []
    pos = 0
    blank = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            indent = lead
            if lead and ("\t" in raw[:lead] or "\r" in raw[:lead]):  # else each leading character is one column
                indent = len(raw[:lead].expandtabs(4).replace("\r", ""))
            s = pos + lead
            out.append(_new(Line, (s, s + len(stripped), indent, blank, stripped)))
            blank = 0
        else:
            blank += 1
        pos += len(raw) + 1
    return out


WEEKDAY = _led("mtwfs", r"\b(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\b\.?,?", re.I)


@functools.lru_cache(maxsize=4096)
def strip_meta(s: str) -> str:
    """The line with dates, times, weekdays and "ago" phrases removed: what names remain. Its last
    answers are kept: classify strips each stamp line, and layout._author strips an author line's
    text again, mostly the same string (a third of the calls on Dragnet pages repeat one made
    earlier on the page; 5-7 us each); stamps recur across pages too (a pure function of a line of
    at most 140 characters: the cache changes no answer and holds 2 MB at most)."""
    low = s.lower()
    if "ago" in low or "yesterday" in low or "now" in low:
        s = AGO.sub(" ", s)
    if _HAS_DIGIT(s):
        # each substitution only where its pattern can match: a glued date needs a full month name, a
        # time a colon before a digit or the "m." of "a.m." (re.I: "M.")
        if _FULL_MONTH(s) is not None:
            s = GLUED_DATE.sub(" ", s)
        s = DATE.sub(" ", s)
        if ":" in s and _COLON_DIGIT(s) is not None or "m." in s or "M." in s:
            s = TIME.sub(" ", s)
    if WEEKDAY.search(s) is not None and not _WEEKDAYS.isdisjoint(_TOKENS(s.lower())):
        s = WEEKDAY.sub(" ", s)
    return s


class Kind(NamedTuple):
    """What a line is, as far as its own text tells. A named tuple: a page makes one per line, and a
    frozen dataclass costs a setattr per field to build."""

    date: bool
    time: bool
    ago: bool
    says: bool
    byline: bool
    slash: bool
    bullet: bool
    control: bool
    pingback: bool
    name: bool
    stamp: bool   # a date/time line with little else: a comment's time stamp
    author: bool  # a line that names who wrote a comment (header or footer)
    chatty: bool
    tail: bool
    heading: bool


# cheap gates in front of the costlier patterns: a line's lower-case letter runs, then set look-ups
# (Python's re tries a long alternation at every position of every line)
_RUN_BYTES = bytes(c if 0x61 <= c <= 0x7A else 0x20 for c in range(256))  # a-z kept, every other byte a space


def _TOKENS(low: str) -> list[bytes]:
    """re.findall("[a-z]+", low), as bytes, by three C passes instead of re's (a third of the time):
    each non-ASCII character becomes "?" and every byte but a-z a space, so the runs split apart
    exactly where re's do. The word sets asked of them are of bytes too."""
    return low.encode("ascii", "replace").translate(_RUN_BYTES).split()


def _bytes_set(words: str) -> frozenset[bytes]:
    return frozenset(w.encode() for w in words.split())


_SAYS_VERBS = _bytes_set("says said wrote writes commented replied responded asks")
MONTHS = frozenset("jan january feb february mar march apr april may jun june jul july aug august sep sept "
                   "september oct october nov november dec december".split())  # layout asks it of a name
_MONTHS = frozenset(m.encode() for m in MONTHS)
_WEEKDAYS = _bytes_set("mon monday tue tues tuesday wed wednesday thu thurs thursday fri friday sat saturday "
                       "sun sunday")
_NUMERIC_DATE = _led(r"\d", _DATE_NUMERIC)
_HAS_DIGIT = re.compile(r"\d").search
# a numeric date has a separator right before a digit (twice), a clock time a colon before one: re
# finds such a pair by a fast scan for its leading class or literal, and so rules out most lines with
# digits before the date or time pattern is tried at each of their digits
_SEP_DIGIT = re.compile(r"[/.\-]\d").search
_COLON_DIGIT = re.compile(r":\d").search
# a date glued to the name before it
_MONTH_NAMES = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
GLUED_DATE = _led(r"JFMASOND\d", rf"(?<=[a-z]){_MONTH_NAMES}\s+\d{{1,2}},?\s+\d{{4}}"  # IsoldeMarch 14, 2011
                                  rf"|(?<=[^\W\d_])\d{{1,2}}\s+{_MONTH_NAMES}\s+\d{{4}}")  # Tamsin7 June 2011


# more gates, each a condition without which its pattern cannot match, so that classify's answer
# stays what the patterns alone give: a full month name for GLUED_DATE; a bracket, "ngback" or
# "trackback" for PINGBACK (re.I also matches "ı" to i, so the gate leaves the i out); "add" for
# TAIL_LONG's branch that looks anywhere in the line; a digit for SCORED_NAME, "http" for
# LINKED_NAME; the chatty marks as plain substrings; the words of a line only when a substring
# gate asks for them
_FULL_MONTH = re.compile(_MONTH_NAMES).search
_TAIL_LONG_HEAD = re.compile(rf"^(?:{_TAIL_LONG_STARTS})", re.I).match
_TAIL_LONG_ANY = re.compile(rf"^{_TAIL_LONG_ANYWHERE}", re.I).match
_SMILEY = re.compile(r"[:;]-?[)D]").search


def _chatty_marks(text: str) -> bool:
    """CHATTY_MARKS.search, its alternatives tried by what they need."""
    if "@" in text:
        return CHATTY_MARKS.search(text) is not None
    if "!" in text or "?" in text:
        if "!!" in text or "??" in text or "!?" in text or "?!" in text:
            return True
    return (":" in text or ";" in text) and _SMILEY(text) is not None


_TAIL_LONG_FIRST = frozenset("clopsr©ſ")  # the line-start branches' first characters, lower-cased (re.I: ſ is s)


def _tail_long(text: str, low: str) -> bool:
    return (low[:1] in _TAIL_LONG_FIRST and _TAIL_LONG_HEAD(text) is not None
            or "add" in low and _TAIL_LONG_ANY(text) is not None)


_AGO_WORDS = _bytes_set("ago yesterday now")
_NAME_END = SENTENCE_END_CHARS - {")"}  # a name does not end a sentence, but may end in ")"
_NOTHING = Kind(*(False,) * len(Kind._fields))  # a line that is none of these (most long lines)


def _both_cases(first: str) -> frozenset[str]:
    return frozenset(first.lower() + first.upper())


# The ASCII characters each line-start pattern's match can begin with (both cases: re.I). A failing
# match() still costs a call and a try of every alternative (0.3-0.9 us a line), and most lines
# start with a character none can: classify asks a pattern only when the line's first character is
# in its set or is not ASCII (re.I folds some non-ASCII characters, ſ to s, K to k: those always
# ask). tests/test_layout.py derives each set from the pattern itself.
_BYLINE_FIRST = _both_cases("#0123456789abcoprsw")
# CONTROL's branch "\S+'s (picture|avatar)" may start anywhere but needs an apostrophe
_CONTROL_FIRST = _both_cases("#()+-0123456789acdefhlpqrstuv")
_TAIL_FIRST = _both_cases("aefglmprstwy")
_HEADING_FIRST = _both_cases("0123456789cdr")
_BULLETS = frozenset(BULLET_CHARS)  # BULLET's first characters (no re.I)
# the characters a SCORED_NAME match can end with ("pts", "point", "likes", …; re.I: ſ is s), at the
# end of the line or before a final newline ($): most lines with a digit end otherwise, and the
# pattern's lazy name part is tried at every length up to 40
_SCORED_END = frozenset("tseTSEſ")


def _has_digit(s: str) -> bool:
    """_HAS_DIGIT(s) is not None: ten substring scans are far cheaper than re on a line without any
    digit; re only for a non-ASCII line without an ASCII digit (other scripts' digits are \\d too)."""
    return ("0" in s or "1" in s or "2" in s or "3" in s or "4" in s or "5" in s or "6" in s or "7" in s
            or "8" in s or "9" in s or not s.isascii() and _HAS_DIGIT(s) is not None)


def classify(text: str) -> Kind:
    n = len(text)
    low = text.lower()
    words = low.split()  # as many as text.split(): lower-casing makes no space and takes none away
    chatty = not CHATTY_WORDS.isdisjoint(words) or _chatty_marks(text)  # a chatty word or mark
    pingback = ("[" in text or "ngback" in low or "trackback" in low) and PINGBACK.search(text) is not None
    if n > 200:
        # stamps, headers, controls and names are short: a long line can only be a pingback,
        # chatty or a (long) tail
        tail = n <= 600 and _tail_long(text, low)
        if not (pingback or chatty or tail):
            return _NOTHING
        return _new(Kind, (False, False, False, False, False, False, False, False, pingback, False, False, False,
                           chatty, tail, False))
    short = n <= 140
    tokens = None  # the line's lower-case letter runs, found when a gate needs them
    digits = _has_digit(text)
    date = False
    if digits:
        if _SEP_DIGIT(text) is not None and _NUMERIC_DATE.search(text) is not None:
            date = True
        else:
            tokens = _TOKENS(low)
            date = ((not _MONTHS.isdisjoint(tokens) or not _WEEKDAYS.isdisjoint(tokens)) and _DATE_WORDS(text) is not None
                    or _FULL_MONTH(text) is not None and GLUED_DATE.search(text) is not None)
    time = (digits and (":" in text and _COLON_DIGIT(text) is not None or "m." in low)
            and TIME.search(text) is not None)
    ago = False
    if "ago" in low or "yesterday" in low or "now" in low:
        if tokens is None:
            tokens = _TOKENS(low)
        ago = not _AGO_WORDS.isdisjoint(tokens) and AGO.search(text) is not None
    if not short:
        # over 140 characters: no author line, stamp, control, name or heading either
        return _new(Kind, (date, time, ago, False, False, False, False, False, pingback, False, False, False, chatty,
                           _tail_long(text, low), False))
    says = False
    if "sa" in low or "wr" in low or "comment" in low or "repli" in low or "respond" in low or "asks" in low:
        if tokens is None:
            tokens = _TOKENS(low)
        says = not _SAYS_VERBS.isdisjoint(tokens) and len(words) <= 14 and SAYS.search(text) is not None
    c0 = text[:1]
    wide = c0 >= "\x80"  # a non-ASCII first character: each line-start pattern is asked
    byline = (wide or c0 in _BYLINE_FIRST) and BYLINE.match(text) is not None
    slash = "(" in text and SLASH_ID.search(text) is not None
    bullet = n <= 60 and c0 in _BULLETS and BULLET.match(text) is not None
    control = (n <= 60 and (wide or c0 in _CONTROL_FIRST or "'" in text)
               and CONTROL.match(text) is not None)
    rest_words = []
    if date or time or ago:
        rest_words = [w for w in WORD.findall(strip_meta(text)) if w.lower() not in _CONNECTORS]
    stamp = (date or time or ago) and len(rest_words) <= 9
    if stamp and len(rest_words) > 6 and not (says or byline):
        stamp = False
    # a handle or a person's name: a short run of words, no sentence, no clause
    name = False
    if n <= 40 and 1 <= len(words) <= 5 and text[-1] not in _NAME_END:
        bare = text.replace(" ", "")
        # at least 60% letters or digits; all of them (most names) need no count: a space is neither
        name = bare.isalnum() or sum(map(str.isalnum, text)) >= 0.6 * len(bare)
    author = bool(
        (says and n <= 100)
        or (byline and (date or time or slash or ago or n <= 60))
        or (slash and (date or time or low.startswith("by ")))
        or (bullet)
        or (stamp and 1 <= len(rest_words) <= 6)
        or (n <= 60 and (digits and (text[-1:] in _SCORED_END or text.endswith("\n"))
                         and SCORED_NAME.match(text) is not None
                         or text.startswith("http") and LINKED_NAME.match(text) is not None))
    )
    return _new(Kind, (date, time, ago, says, byline, slash, bullet, control, pingback, name, stamp, author, chatty,
                       (n <= 80 and (wide or c0 in _TAIL_FIRST) and TAIL.match(text) is not None
                        or _tail_long(text, low)),
                       n <= 120 and (wide or c0 in _HEADING_FIRST) and COMMENTS_HEADING.match(text) is not None))


def is_meta(k: Kind) -> bool:
    return k.author or k.stamp or k.control or k.says or k.bullet or k.heading


AVATAR = _led("a'", r"\bavatar\b|'s\s+picture$", re.I)


FEATURES = (
    "bias", "author", "stamp", "control", "says", "byline", "slash", "bullet", "date", "time", "ago",
    "pingback", "name", "name_then_stamp", "chatty", "long_sentence", "log_len", "blank2", "blank3",
    "blank4", "indented", "indent_change", "meta_next3", "meta_prev3", "position", "repeated_shape",
    "heading", "tail", "gap_after3", "gap_after4", "early", "name_repeated", "name_then_text",
    "meta_density_next10", "authors_after", "name_density_next10", "short_density_next10",
    "after_largest_gap", "after_gap4", "chatty_density_next10", "meta_density_prev10", "name_density_prev10",
    "name_over_indented", "name_over_indented_next10",
)
# where a comment section may start: the line right after a gap, an author line, a "N Comments" heading
BOUNDARY_FEATURES = (
    "bias", "blank1", "blank2", "blank3", "blank4", "blank6", "head", "name_then_stamp", "name_then_text",
    "heading", "prev_heading", "prev_meta", "prev_long_sentence", "prev_short", "indent_change", "stamp",
    "control", "chatty",
)


_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[^\W\d_]+")
_WORDS_RUN = re.compile(r"a(?:\s+a)+")


@functools.lru_cache(maxsize=4096)
def shape(text: str) -> str:
    """The line's look with its words and numbers abstracted: two comment headers from one template
    share a shape ("Aa says:", "by a (0) on Aa 0, @0:0AM (#0)"). Its last answers are kept: a page's
    author lines are shaped by boundary_scores and again by layout._same_template_above, and
    templates recur from page to page (a pure function; the cache changes no answer)."""
    return _WORDS_RUN.sub("a", _LETTERS.sub("a", _DIGITS.sub("0", text)))[:40]


def features(lines: list[Line], kinds: list[Kind]) -> list[list[float]]:
    """One feature vector per line (in the order of FEATURES), each line seen with its neighbours.
    Flags stay bools (0/1 to numpy and to the dot product): converting costs more than it buys."""
    n = len(lines)
    meta = [is_meta(k) for k in kinds]
    shapes: dict[str, int] = {}
    names: dict[str, int] = {}
    line_shapes = [shape(ln.text) if m else "" for ln, m in zip(lines, meta)]
    for key, m, ln, k in zip(line_shapes, meta, lines, kinds):
        if m:
            shapes[key] = shapes.get(key, 0) + 1
        if k.name:
            names[ln.text] = names.get(ln.text, 0) + 1
    authors_after = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        authors_after[i] = authors_after[i + 1] + (kinds[i].author or kinds[i].says)
    meta_after = [0] * (n + 1)
    names_after = [0] * (n + 1)
    short_after = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        meta_after[i] = meta_after[i + 1] + meta[i]
        names_after[i] = names_after[i + 1] + kinds[i].name
        short_after[i] = short_after[i + 1] + (len(lines[i].text) <= 30)
    chatty_after = [0] * (n + 1)
    over_after = [0] * (n + 1)
    over = [kinds[i].name and i + 1 < n and lines[i + 1].indent > lines[i].indent for i in range(n)]
    for i in range(n - 1, -1, -1):
        chatty_after[i] = chatty_after[i + 1] + kinds[i].chatty
        over_after[i] = over_after[i + 1] + over[i]
    # the widest vertical gap below the page's first lines: rendered pages often set their comment
    # section apart with one
    widest = max(range(2, n), key=lambda j: lines[j].blank_before, default=None)
    widest_at = widest if widest is not None and lines[widest].blank_before >= 3 else n
    first_gap4 = next((j for j in range(2, n) if lines[j].blank_before >= 4), n)
    rows = []
    for i, (ln, k) in enumerate(zip(lines, kinds)):
        nxt = kinds[i + 1] if i + 1 < n else None
        gap_after = lines[i + 1].blank_before if i + 1 < n else 0
        prev_indent = lines[i - 1].indent if i else ln.indent
        rows.append([
            1.0,
            k.author, k.stamp, k.control, k.says, k.byline, k.slash,
            k.bullet, k.date, k.time, k.ago, k.pingback, k.name,
            (k.name and nxt is not None and nxt.stamp),
            k.chatty,
            (len(ln.text) > 80 and ends_sentence(ln.text)),
            math.log1p(len(ln.text)) / 5.0,
            (ln.blank_before >= 2), (ln.blank_before >= 3), (ln.blank_before >= 4),
            (ln.indent > 0), (ln.indent != prev_indent),
            (any(meta[i + 1 : i + 4])), (any(meta[max(0, i - 3) : i])),
            i / n,
            (meta[i] and shapes[line_shapes[i]] >= 2),
            k.heading, k.tail,
            (gap_after >= 3), (gap_after >= 4),
            (i < 3 and i < 0.15 * n),
            (k.name and names.get(ln.text, 0) >= 2),
            (k.name and i + 1 < n and len(lines[i + 1].text) > 60 and not meta[i + 1]),
            (meta_after[i + 1] - meta_after[min(n, i + 11)]) / 10.0,
            math.log1p(authors_after[i]) / 3.0,
            (names_after[i + 1] - names_after[min(n, i + 11)]) / 10.0,
            (short_after[i + 1] - short_after[min(n, i + 11)]) / 10.0,
            (i >= widest_at), (i >= first_gap4),
            (chatty_after[i] - chatty_after[min(n, i + 10)]) / 10.0,
            (meta_after[max(0, i - 10)] - meta_after[i]) / 10.0,
            (names_after[max(0, i - 10)] - names_after[i]) / 10.0,
            (over[i]), (over_after[i] - over_after[min(n, i + 10)]) / 10.0,
        ])
    return rows


def boundary_features(lines: list[Line], kinds: list[Kind], i: int) -> list[float]:
    """What line i looks like as the first line of a comment section (BOUNDARY_FEATURES)."""
    ln, k = lines[i], kinds[i]
    nxt = kinds[i + 1] if i + 1 < len(lines) else None
    prev = kinds[i - 1] if i else None
    prev_text = lines[i - 1].text if i else ""
    b = ln.blank_before
    return [
        1.0, float(b >= 1), float(b >= 2), float(b >= 3), float(b >= 4), float(b >= 6),
        float(k.author or k.says or k.bullet),
        float(k.name and nxt is not None and nxt.stamp),
        float(k.name and nxt is not None and i + 1 < len(lines) and len(lines[i + 1].text) > 60),
        float(k.heading), float(prev is not None and prev.heading),
        float(prev is not None and is_meta(prev)),
        float(len(prev_text) > 80 and ends_sentence(prev_text)),
        float(0 < len(prev_text) <= 40),
        float(i > 0 and ln.indent != lines[i - 1].indent),
        float(k.stamp), float(k.control), float(k.chatty),
    ]

def _dot(w, x) -> float:
    return sum(map(operator.mul, w, x))


_LOG_TABLE = 4096
_LOG1P_5 = [math.log1p(x) / 5.0 for x in range(_LOG_TABLE)]  # log_len of a line of x characters
_LOG1P_3 = [math.log1p(x) / 3.0 for x in range(_LOG_TABLE)]  # authors_after of x author lines below


def _padded(flags) -> list[int]:
    """Prefix counts of flags with 11 places either side: q[i + 11] = how many of the first i are set,
    i clamped to 0..len(flags)."""
    p = [0, *itertools.accumulate(flags)]
    return [0] * 11 + p + [p[-1]] * 11


def boundary_scores(lines: list[Line], kinds: list[Kind], weights) -> list[float]:
    """Log-odds, per line, that the line lies in the comment section: the same floats as
    [_dot(weights, row) for row in features(lines, kinds)] (tests/test_layout.py checks it), without
    building the rows. Each line's nonzero terms are added left to right in FEATURES order, as sum()
    adds a row's; a zero term leaves a nonzero sum as it is, so it is skipped. The first 13 terms
    (the bias and the line's own flags) depend on its Kind alone and are summed once per Kind."""
    n = len(lines)
    if n == 0:
        return []
    (_, w_author, w_stamp, w_control, w_says, w_byline, w_slash, w_bullet, w_date, w_time, w_ago, w_pingback,
     w_name, w_name_then_stamp, w_chatty, w_long_sentence, w_log_len, w_blank2, w_blank3, w_blank4, w_indented,
     w_indent_change, w_meta_next3, w_meta_prev3, w_position, w_repeated_shape, w_heading, w_tail, w_gap_after3,
     w_gap_after4, w_early, w_name_repeated, w_name_then_text, w_meta_density_next10, w_authors_after,
     w_name_density_next10, w_short_density_next10, w_after_largest_gap, w_after_gap4, w_chatty_density_next10,
     w_meta_density_prev10, w_name_density_prev10, w_name_over_indented, w_name_over_indented_next10) = weights
    head_terms = weights[:13]
    heads: dict[Kind, float] = {}
    # is_meta, inline
    meta = [k.author or k.stamp or k.control or k.says or k.bullet or k.heading for k in kinds]
    texts = [ln.text for ln in lines]
    shapes: dict[str, int] = {}
    line_shapes = [shape(t) if m else "" for t, m in zip(texts, meta)]
    for key, m in zip(line_shapes, meta):
        if m:
            shapes[key] = shapes.get(key, 0) + 1
    names: dict[str, int] = {}
    for t, k in zip(texts, kinds):
        if k.name:
            names[t] = names.get(t, 0) + 1
    indents = [ln.indent for ln in lines]
    blanks = [ln.blank_before for ln in lines]
    lens = [len(t) for t in texts]
    log_lens = [_LOG1P_5[x] if x < _LOG_TABLE else math.log1p(x) / 5.0 for x in lens]
    over = [kinds[i].name and i + 1 < n and indents[i + 1] > indents[i] for i in range(n)]
    # prefix counts, padded: q[i + 11] is the number of flagged lines among the first i, for i
    # clamped to 0..n, so that the windows below need no min() or max()
    meta_q = _padded(meta)
    names_q = _padded(k.name for k in kinds)
    short_q = _padded(x <= 30 for x in lens)
    chatty_q = _padded(k.chatty for k in kinds)
    over_q = _padded(over)
    authors_q = _padded(k.author or k.says for k in kinds)
    authors_all = authors_q[n + 11]
    widest = max(range(2, n), key=blanks.__getitem__, default=None)
    widest_at = widest if widest is not None and blanks[widest] >= 3 else n
    first_gap4 = next((j for j in range(2, n) if blanks[j] >= 4), n)
    early = min(3, math.ceil(0.15 * n)) if n else 0  # i < early: i < 3 and i < 0.15 * n
    out = []
    for i, k in enumerate(kinds):
        j = i + 11  # line i in the padded prefix counts
        s = heads.get(k)
        if s is None:
            s = heads[k] = sum(map(operator.mul, head_terms, (1.0, k.author, k.stamp, k.control, k.says, k.byline,
                                                              k.slash, k.bullet, k.date, k.time, k.ago, k.pingback,
                                                              k.name)))
        last = i + 1 == n
        if k.name and not last and kinds[i + 1].stamp:
            s += w_name_then_stamp
        if k.chatty:
            s += w_chatty
        if lens[i] > 80 and texts[i][-1:] in SENTENCE_END_CHARS:
            s += w_long_sentence
        s += w_log_len * log_lens[i]
        b = blanks[i]
        if b >= 2:
            s += w_blank2
            if b >= 3:
                s += w_blank3
                if b >= 4:
                    s += w_blank4
        if indents[i] > 0:
            s += w_indented
        if i and indents[i] != indents[i - 1]:
            s += w_indent_change
        if meta_q[j + 4] != meta_q[j + 1]:
            s += w_meta_next3
        if meta_q[j] != meta_q[j - 3]:
            s += w_meta_prev3
        if i:
            s += w_position * (i / n)
        if meta[i] and shapes[line_shapes[i]] >= 2:
            s += w_repeated_shape
        if k.heading:
            s += w_heading
        if k.tail:
            s += w_tail
        if not last:
            g = blanks[i + 1]
            if g >= 3:
                s += w_gap_after3
                if g >= 4:
                    s += w_gap_after4
        if i < early:
            s += w_early
        if k.name:
            if names.get(texts[i], 0) >= 2:
                s += w_name_repeated
            if not last and lens[i + 1] > 60 and not meta[i + 1]:
                s += w_name_then_text
        c = meta_q[j + 11] - meta_q[j + 1]
        if c:
            s += w_meta_density_next10 * (c / 10.0)
        c = authors_all - authors_q[j]
        if c:
            s += w_authors_after * (_LOG1P_3[c] if c < _LOG_TABLE else math.log1p(c) / 3.0)
        c = names_q[j + 11] - names_q[j + 1]
        if c:
            s += w_name_density_next10 * (c / 10.0)
        c = short_q[j + 11] - short_q[j + 1]
        if c:
            s += w_short_density_next10 * (c / 10.0)
        if i >= widest_at:
            s += w_after_largest_gap
        if i >= first_gap4:
            s += w_after_gap4
        c = chatty_q[j + 10] - chatty_q[j]
        if c:
            s += w_chatty_density_next10 * (c / 10.0)
        c = meta_q[j] - meta_q[j - 10]
        if c:
            s += w_meta_density_prev10 * (c / 10.0)
        c = names_q[j] - names_q[j - 10]
        if c:
            s += w_name_density_prev10 * (c / 10.0)
        if over[i]:
            s += w_name_over_indented
        c = over_q[j + 10] - over_q[j]
        if c:
            s += w_name_over_indented_next10 * (c / 10.0)
        out.append(s)
    return out


def start_scores(lines: list[Line], kinds: list[Kind], lo: int, hi: int, weights) -> list[float]:
    """The boundary model's score of lines lo..hi-1 as the section's first line: the same floats as
    [_dot(weights, boundary_features(lines, kinds, j)) for j in range(lo, hi)] (tests/test_layout.py
    checks it), without building the rows: as in boundary_scores, each line's nonzero terms are added
    in BOUNDARY_FEATURES order onto the bias, as sum() adds them."""
    (w_bias, w_blank1, w_blank2, w_blank3, w_blank4, w_blank6, w_head, w_name_then_stamp, w_name_then_text,
     w_heading, w_prev_heading, w_prev_meta, w_prev_long_sentence, w_prev_short, w_indent_change, w_stamp,
     w_control, w_chatty) = weights
    n = len(lines)
    out = []
    for i in range(lo, hi):
        k = kinds[i]
        s = 0.0 + w_bias
        b = lines[i].blank_before
        if b >= 1:
            s += w_blank1
            if b >= 2:
                s += w_blank2
                if b >= 3:
                    s += w_blank3
                    if b >= 4:
                        s += w_blank4
                        if b >= 6:
                            s += w_blank6
        if k.author or k.says or k.bullet:
            s += w_head
        if k.name and i + 1 < n:
            if kinds[i + 1].stamp:
                s += w_name_then_stamp
            if len(lines[i + 1].text) > 60:
                s += w_name_then_text
        if k.heading:
            s += w_heading
        if i:
            prev = kinds[i - 1]
            if prev.heading:
                s += w_prev_heading
            if is_meta(prev):
                s += w_prev_meta
            t = lines[i - 1].text
            if len(t) > 80 and t[-1] in SENTENCE_END_CHARS:
                s += w_prev_long_sentence
            if 0 < len(t) <= 40:
                s += w_prev_short
            if lines[i].indent != lines[i - 1].indent:
                s += w_indent_change
        if k.stamp:
            s += w_stamp
        if k.control:
            s += w_control
        if k.chatty:
            s += w_chatty
        out.append(s)
    return out


WINDOW = 8  # lines either side of the rough boundary where the exact one is looked for


def best_boundary(lines: list[Line], kinds: list[Kind], model: dict) -> tuple[int | None, float]:
    """The line index where the comment section starts (None: no section), and the winning margin.

    The section is the suffix of lines whose summed line score is largest, if that sum beats the
    threshold; the exact first line is then chosen near it by adding the boundary model's score of
    each candidate line, so that a stray positive line above a real gap does not drag it up."""
    scores = boundary_scores(lines, kinds, model["weights"])
    n = len(scores)
    if n == 0:
        return None, 0.0 - model["threshold"]
    # suffix[k]: the sum of scores[k:], added from the end as a loop would; the first largest wins
    suffix = list(itertools.accumulate(reversed(scores), operator.add, initial=0.0))[::-1]
    best_k = suffix.index(max(suffix[:n]))
    if suffix[best_k] <= model["threshold"]:
        return None, suffix[best_k] - model["threshold"]
    lo, hi = max(0, best_k - WINDOW), min(n, best_k + WINDOW + 1)
    totals = [x + y for x, y in zip(suffix[lo:hi], start_scores(lines, kinds, lo, hi, model["boundary_weights"]))]
    k = lo + totals.index(max(totals))
    return k, suffix[best_k] - model["threshold"]
