"""Where a page's title, article and comment section are, and each comment's span, author, depth and
parent.

How it decides, in order:
  1. Title: with `has_title`, the first line when it reads as a headline (short, not a sentence).
  2. Comment section: every line gets a score from a small logistic model over what it looks like
     (date/time stamps, "X says:" and "by X" author lines, "Reply" controls, a name above a stamp,
     blank-line gaps, indentation, the same header template repeated down the page — see lines.py),
     and the section starts at the line that maximises the summed score of everything after it. A
     page whose best sum stays under the model's threshold has no comment section: prose alone never
     grows one. The weights are `models/layout_boundary.json`, trained by scripts/train_layout.py on
     the Dragnet pages (reported figures come from pages held out by file). Around the model:
     a section does not start inside a bulleted list; a byline-and-date footer is no section; a
     page whose score stays under the threshold but which ends on markup no article ends on (a
     pingback, a dated "X said:" header, a "Posted by: X | date at time" footer) has one short
     section (see _trailing_section); three or more entries by one author are a listing, not a
     thread.
  3. Boilerplate tails are cut off the end of the article and of the comment section (see Tails).
  4. Comments: the section is cut at author lines. When the section opens with an author line, each
     author line (with the stamp/controls next to it) heads a comment; when authors come as footers
     after the text ("Posted by: X at …", "by X on … ."), each footer closes one. Text before the
     first header is a comment without author line. A deeper-indented paragraph with no author line
     (a block quote) stays inside its comment.
  5. Nesting: a comment's indentation is that of its author line (a headerless comment: its text's
     indentation less the usual header-to-text step on the page); a comment indented deeper than the
     one before answers it, and depth follows the indentation steps.

Span decision: a comment's span runs from its header (author line, stamp, avatar) through its text
to its trailing controls ("Reply", vote counts); with footer-style pages, from its text to its footer.
Measured with scripts/train_layout.py on the Dragnet pages, held out by file: body-only spans
(`--body-only`) give comment-region F1 0.933 (recall 0.879), spans with headers 0.991 (recall
0.987), at the same precision (0.995-0.996) — the header is part of what a page shows as the comment, and annotators need it to
tell who answers whom. Each author line lies in exactly one comment's span, so an author appears in
one record's text once (its own header), never again in a neighbour's. A comment that has only a
header ("X says:" with nothing under it) keeps the header as its span, so nothing is dropped.

Tails: share buttons, "Related …", "You may also like", "Add your two cents", "Leave a reply",
"Tags: …" and a trailing run of short lines after them are in no record — neither article nor comment.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import compress, islice
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from builder.segment.lines import (
    AVATAR,
    BULLET_CHARS,
    BOUNDARY_FEATURES,
    FEATURES,
    MONTHS,
    Kind,
    Line,
    best_boundary,
    classify,
    is_meta,
    shape,
    split_lines,
    strip_meta,
    _has_digit,
    _led,
)

__all__ = ["Comment", "Layout", "parse_layout", "MODEL"]

MODEL_FILE = Path(__file__).parent / "models" / "layout_boundary.json"


def _load_model(path: Path) -> dict | None:
    """The shipped model; None while scripts/train_layout.py makes a new one (a missing file, or one
    trained on other features), so that the script can import this module; parse_layout then refuses."""
    if not path.exists():
        return None
    model = json.loads(path.read_text(encoding="utf-8"))
    if tuple(model["features"]) != FEATURES or tuple(model["boundary_features"]) != BOUNDARY_FEATURES:
        return None
    return model


MODEL = _load_model(MODEL_FILE)
MARGIN_SCALE = 5.0  # a section's margin is a sum over many lines: scaled before it becomes a confidence


class Comment(NamedTuple):
    """One comment: its span, author, depth and parent (an index into the page's comments). A named
    tuple, as lines.Line and lines.Kind: a page makes one per comment, built by tuple.__new__ (a
    frozen dataclass costs a setattr per field)."""

    start: int
    end: int
    author: str | None
    depth: int
    parent: int | None
    score: float


@dataclass(frozen=True, slots=True)
class Layout:
    title: tuple[int, int] | None
    article: tuple[int, int] | None
    article_score: float
    comments: list[Comment]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def is_title(line: Line, kind: Kind) -> bool:
    """A first line that reads as a headline: short, not a sentence, not a comment header."""
    t = line.text
    return (len(t) <= 160 and len(t.split()) <= 25 and not t.endswith((".", ",", ";", ":"))
            and not (kind.says or kind.byline or kind.bullet))


def _cut_tail(lines: list[Line], kinds: list[Kind], lo: int, hi: int) -> int:
    """The end (exclusive) of lines[lo:hi] once a trailing boilerplate block is removed: from the
    first tail line ("Share this", "Related", …) after which only short lines follow."""
    end = hi
    i = hi - 1
    while i >= lo:
        if kinds[i].tail:
            end = i
        elif len(lines[i].text) > 100:
            break
        i -= 1
    return end


# led (lines._led): each behind a lookahead on the characters its matches can start with
_AUTHOR_CUT = _led(r"\s", r"\s+(?:says|said|wrote|writes|commented|replied|responded|asks|added)\b.*$", re.I)
_BY = _led("pwscb", r"\b(?:posted\s+by|written\s+by|submitted\s+by|comment(?:ed)?\s+by|by)\s*:?\s+(.+)", re.I)
_BY_END = _led(r"\s|(<,", r"\s+(?:on|at)\s+.*$|\s*[|(<,].*$|\s+[-–—]\s.*$", re.I)
_NOISE = _led(r"\soapb\d#\-–—/|·•▪►◦:,.@",
              r"^(?:on|at|posted|by|\d+\.?|#\d+|[-–—/|·•▪►◦:,.@]+)\s+|\s+(?:on|at|[-–—/|·:,@]+)$", re.I)
_EDGE = _led(r"\s\-–—/|·•▪►◦:,.#(", r"^[\s\-–—/|·•▪►◦:,.#(]+|[\s\-–—/|·•:,(]+$")
_SCORE = _led(r"\s", r"\s+[+-]?\d+\s+(?:pts|points?|likes?|votes?)$", re.I)
_URL = re.compile(r"^https?://\S+\s+")
_IDS = _led("(<a", r"\(\d+\)|\(#\d+\)|<[^>]*>|\bat\b\s*$")  # Slashdot ids, e-mail tags, a trailing "at"
_NOT_NAMES = {"posted", "by", "on", "at", "said", "says", "wrote", "reply", "anonymous said"}
# Cheap tests in front of patterns that most author lines cannot match (each regex call costs
# 0.2-0.7 us even when it finds nothing; a page has one author line per comment). Each is a
# condition without which its pattern cannot match, so the name stays what the patterns alone give
# (tests/test_layout.py holds _author to the ungated code):
#   _BY: every alternative ends in "by" (re.I folds nothing else to b or y);
#   _URL: starts with "http://" or "https://" (no re.I); _IDS: "(", "<" or "at" (no re.I);
#   _SCORE: a digit, and a last character its words can end with (re.I: ſ is s; or a final newline,
#   as $ allows);
#   _NOISE and _EDGE: a stripped name matches neither unless its first character can start a
#   match (a letter of on/at/posted/by, a digit, a mark) or its last one can end one (n, t, a mark):
#   such a name is only stripped, also the one a round of trimming leaves (no round to confirm it).
_SCORE_END = frozenset("tseTSEſ\n")
_TRIM_FIRST = frozenset("oOaApPbB#-–—/|·•▪►◦:,.@(")  # and any digit (\d: str.isdecimal)
_TRIM_LAST = frozenset("nNtT-–—/|·•:,@(")


def _author(line: Line, kind: Kind) -> str | None:
    t = line.text
    if kind.bullet:
        t = t[1:]
    elif (kind.byline or not kind.says) and "by" in t.lower() and (m := _BY.search(t)):
        t = _BY_END.sub("", m.group(1))
    elif kind.says:
        t = _AUTHOR_CUT.sub("", t)
    t = strip_meta(t)
    if t.startswith(("http://", "https://")):
        t = _URL.sub("", t)
    if t[-1:] in _SCORE_END and _has_digit(t):
        t = _SCORE.sub("", t)
    if "(" in t or "<" in t or "at" in t:
        t = _IDS.sub(" ", t)
    while True:  # trim until nothing changes; a name neither pattern can match is only stripped
        s = t.strip()
        if s[:1] in _TRIM_FIRST or s[-1:] in _TRIM_LAST or s[:1].isdecimal():
            s = _EDGE.sub("", _NOISE.sub("", s))
        if s == t:
            break
        t = s
    t = " ".join(t.split())
    if not t or len(t) > 60 or not any(map(str.isalpha, t)):
        return None
    low = t.lower()
    if low in _NOT_NAMES or low.rstrip(".") in MONTHS:
        return None
    return t


def _split_comments(lines: list[Line], kinds: list[Kind], lo: int, hi: int, section_score: float,
                    with_headers: bool) -> list[Comment]:
    if lo >= hi:
        return []
    sure = _sigmoid(section_score / MARGIN_SCALE)
    scores = (round(sure * 0.9, 4), round(sure * 0.7, 4))  # a comment's with a header line, and without
    # header lines: author lines; where a page has (almost) none, a name-like line directly above a
    # time stamp, or a name that recurs down the section
    head = [False] * hi
    meta = [False] * hi
    meta[lo:hi] = map(is_meta, kinds[lo:hi])
    head[lo:hi] = [k.author and not k.control for k in kinds[lo:hi]]
    if sum(head[lo:hi]) < 2:
        names: dict[str, int] = {}
        for i in range(lo, hi):
            if kinds[i].name:
                names[lines[i].text] = names.get(lines[i].text, 0) + 1
        for i in range(lo, hi):
            k = kinds[i]
            if k.name and not head[i] and i + 1 < hi and (
                (kinds[i + 1].stamp and not kinds[i + 1].author and lines[i + 1].blank_before <= 1)
                or (names[lines[i].text] >= 2 and not meta[i + 1])
                or (lines[i + 1].indent > lines[i].indent and not meta[i + 1])  # a name over indented text
            ):
                head[i] = meta[i] = True
    # The two passes below visit only the header lines (compress: their indices, in C; most lines are
    # none). Taken up front, the list is what each pass's loop over all lines would meet: a pass
    # changes head[i] or head[i - 1] at line i only, after the loop has passed them.
    # a stamp glued under an author line belongs to that header, not to a new comment
    for i in compress(range(lo + 1, hi), head[lo + 1:hi]):
        if head[i - 1] and lines[i].blank_before <= 1 and not kinds[i].bullet and (
            kinds[i].stamp and not kinds[i].says and not kinds[i].byline
        ):
            head[i] = False
    # an author line without a name ("Posted March 3 at 4:12 pm") under a name line: the name heads it
    for i in compress(range(lo + 1, hi), head[lo + 1:hi]):
        if not head[i - 1] and kinds[i - 1].name and lines[i].blank_before == 0 and _author(
                lines[i], kinds[i]) is None:
            head[i - 1] = meta[i - 1] = True
            head[i] = False
    starts = [i for i in compress(range(lo, hi), head[lo:hi])
              if not (i > lo and head[i - 1] and lines[i].blank_before <= 1
                      and not kinds[i].bullet and not kinds[i - 1].stamp)]
    # an avatar line glued above a header belongs to that header's comment (the regex asked last)
    starts = [i - 1 if lines[i].blank_before == 0 and i - 1 >= lo and AVATAR.search(lines[i - 1].text) else i
              for i in starts]
    if not starts:
        only = _one(lines, kinds, meta, lo, hi, None, 0, None, scores, with_headers)
        return [only] if only is not None else []

    # footer style: authors close their comments (text above, footer below); a header-style section
    # does not end on an author line
    footer = head[hi - 1] or (not head[lo] and meta[hi - 1] and any(head[j] for j in range(max(lo, hi - 3), hi)))
    blocks: list[tuple[int, int, int | None]] = []  # (first line, end line, header line)
    if footer:
        prev = lo
        for s in starts:
            e = s + 1
            while e < hi and meta[e] and not head[e] and lines[e].blank_before <= 1:
                e += 1
            if s > prev or e > prev:
                blocks.append((prev, e, s))
            prev = e
        if prev < hi:
            if blocks:
                b = blocks[-1]
                blocks[-1] = (b[0], hi, b[2]) if all(meta[j] for j in range(prev, hi)) else b
            if not blocks or blocks[-1][1] < hi:
                blocks.append((prev, hi, None))
    else:
        if starts[0] > lo:
            blocks.append((lo, starts[0], None))
        for a, b in zip(starts, starts[1:] + [hi]):
            blocks.append((a, b, a + 1 if a + 1 < b and AVATAR.search(lines[a].text) else a))

    # the usual step from a header's indentation to its text's, to place headerless comments
    steps = []
    for a, b, h in blocks:
        if h is not None and not footer:
            body = next((j for j in range(h + 1, b) if not meta[j]), None)
            if body is not None:
                steps.append(lines[body].indent - lines[h].indent)
    step = sorted(steps)[len(steps) // 2] if steps else 0

    out: list[Comment] = []
    stack: list[tuple[int, int]] = []  # (indentation, comment index) of the open thread
    for a, b, h in blocks:
        if h is not None:
            indent = lines[h].indent
        else:
            body = next((j for j in range(a, b) if not meta[j]), a)
            indent = lines[body].indent - step
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else None
        depth = out[parent].depth + 1 if parent is not None else 0
        c = _one(lines, kinds, meta, a, b, h, depth, parent, scores, with_headers)
        if c is None:
            continue
        stack.append((indent, len(out)))
        out.append(c)
    return out


def _one(lines, kinds, meta, a, b, h, depth, parent, scores, with_headers) -> Comment | None:
    """One comment of lines a..b-1 with header line h (or None); scores: its score with a header and without."""
    if with_headers:
        # the span is all of a..b-1 less leading headings: only its ends are needed, not its lines
        if h is None and all(meta[a:b]):
            return None  # a "N Comments" heading or a stray control: no one's comment
        first = a
        while first < b and kinds[first].heading:
            first += 1
        if first >= b:
            return None
        last = b - 1
    else:
        body = [j for j in range(a, b) if not meta[j] and j != h]
        if h is None and not body:
            return None
        span = body or list(range(a, b))
        while span and kinds[span[0]].heading:
            span = span[1:]
        if not span:
            return None
        first, last = span[0], span[-1]
    author = None
    if h is not None:
        author = _author(lines[h], kinds[h])
    return _new(Comment, (lines[first].start, lines[last].end, author, depth, parent, scores[h is None]))


_new = tuple.__new__
_BULLET = attrgetter("bullet")
_AUTHOR = attrgetter("author")


def _bullet_thread(lines: list[Line], kinds: list[Kind], k: int | None) -> int | None:
    """The example document's markup: indented "• author" lines, each over text indented two more.
    Its thread starts at the first such line, or above it at indented text without a bullet (a
    top-level comment without author line); the learned model does not know this markup."""
    first = next((i for i in compress(range(len(lines) - 1), map(_BULLET, kinds))  # bullet lines only, in C
                  if lines[i].indent > 0 and lines[i + 1].indent >= lines[i].indent + 2), None)
    if first is None or (k is not None and k <= first):
        return k
    low = min(lines[i].indent for i in range(first, len(lines)) if kinds[i].bullet)
    while first > 1 and lines[first - 1].indent >= low > 0 and not kinds[first - 1].bullet:
        first -= 1
    return first


def _same_template_above(lines: list[Line], kinds: list[Kind], k: int) -> int:
    """The section's start moved up over comments the model left in the article: an author line a
    few lines above the start, written in the same template (shape) as the section's author lines,
    is the section's first comment (short pages give the model little to go on)."""
    shapes = {shape(lines[i].text) for i in compress(range(k, len(lines)), map(_AUTHOR, islice(kinds, k, None)))}
    if len(shapes) == 0:
        return k
    j = k - 1
    while j >= max(1, k - 8):
        if kinds[j].author and shape(lines[j].text) in shapes:
            k = j
        j -= 1
    return k


def _past_list(lines: list[Line], k: int) -> int | None:
    """A section that starts inside a bulleted list (the line above is an item with the same bullet
    and indentation, no blank line between) starts after the list: a list of items is the article's,
    and a thread in bullets ("• author" over its text) has text between its bullets."""
    def item_of_list(i: int) -> bool:
        a, b = lines[i - 1], lines[i]
        return (b.blank_before == 0 and a.indent == b.indent and a.text[:1] == b.text[:1]
                and a.text[:1] in _LIST_BULLETS)
    if k == 0 or not item_of_list(k):
        return k
    while k < len(lines) and item_of_list(k):
        k += 1
    return k if k < len(lines) else None


_LIST_BULLETS = BULLET_CHARS + "*-–"  # the author-line bullets and plain-text list marks
_PINGBACK_LINE = re.compile(r"\W*(?:pingback|trackback)\b", re.I)
_LAST_LINES = 8  # how near the page's end a lone comment's header must be
_FOOTER_BY = re.compile(r"\W*posted\s+by:\s", re.I)  # a comment's footer: "Posted by: X | June 8, 2012 at 2:29 PM"


def _trailing_section(lines: list[Line], kinds: list[Kind]) -> int | None:
    """The comment section of a page whose model score found none but whose last lines are comment
    markup no article ends on: one comment is too little for the summed score.
      - pingbacks ("Pingback: …", "[…] excerpt […]", "Trackback by …", with their stamps); at least
        one must say it is a pingback, since an excerpt with "[…]" alone may be the article quoting;
      - an "X says:" header among the last lines, dated ("X on May 2 at 8:02 am said:"), or after
        the article's own tail ("Related: …"): an undated one may lead in to a statement the
        article quotes ("The council said:");
      - a "Posted by: X | date at time" footer (with the colon, a date and a time: an article's
        byline is "Posted by X on …" or "Posted by: X" alone), closing the comment above it."""
    n = len(lines)
    if n < 2:
        return None
    j = n
    while j > 0 and (kinds[j - 1].pingback or kinds[j - 1].stamp or kinds[j - 1].control):
        j -= 1
    if any(_PINGBACK_LINE.match(lines[i].text) for i in range(j, n)):
        while j < n and not kinds[j].pingback:
            j += 1  # a section starts at a pingback, not at a stray stamp above it
        return j
    tail = next((i for i in range(n - 1, 0, -1) if kinds[i].tail), 0)
    for i in range(max(1, n - _LAST_LINES), n):
        kd = kinds[i]
        if kd.says and kd.author and (i > tail > 0 or kd.date or kd.time):
            return i
    last = n - 1
    while last > 0 and kinds[last].control:
        last -= 1
    kd = kinds[last]
    if last > 1 and kd.byline and kd.date and kd.time and _FOOTER_BY.match(lines[last].text):
        return _footer_start(lines, last)
    return None


def _one_author_listing(comments: list[Comment]) -> bool:
    """Three or more "comments" all by one named author are a listing, not a thread: an author's
    archive ("May 2, 2013 — Ann Lee" over each teaser) or trackbacks that each say "Tracked on …".
    Text above the first of them (the section's headerless first "comment") is the listing's lead-in
    ("More by Ann Lee:"). A thread has more than one voice; a page's author who answers lists the
    readers too."""
    first = next((i for i, c in enumerate(comments) if c.author is not None), None)
    return (first is not None and len(comments) - first >= 3
            and all(c.author == comments[first].author for c in comments[first:]))


def _only_footer(kinds: list[Kind]) -> bool:
    """Whether what follows the text reads as the article's own footer: short lines only (a byline,
    a date, a tag line) and no "X says:" header, and no short line between two dates: that is two
    posts ("hot" / "November 12, 2012 7:07 PM" / "psst..." / "November 12, 2012 7:08 PM"). A
    "said:" header is a comment's, whatever short line follows it."""
    seen_stamp = between = False
    for kd in kinds:
        if kd.says or not (is_meta(kd) or kd.name):
            return False
        if kd.stamp:
            if between:
                return False
            seen_stamp = True
        elif seen_stamp:
            between = True
    return True


def _ends_on_author(kinds: list[Kind]) -> bool:
    tail = [kd for kd in kinds[-3:] if not kd.control]
    return bool(tail) and tail[-1].author


def _footer_start(lines: list[Line], k: int) -> int:
    """When authors are footers and the section was found at the first footer, its text is above:
    back to the last gap of two or more blank lines (at most 12 lines up), else one paragraph."""
    for j in range(k, max(0, k - 12), -1):
        if lines[j].blank_before >= 2 and j < k:
            return j
    return k - 1


def parse_layout(text: str, has_title: bool) -> Layout:
    """The page's layout; see the module docstring for how each part is found."""
    if MODEL is None:
        raise RuntimeError(f"{MODEL_FILE} is missing or stale; run scripts/train_layout.py --write")
    return layout_with(text, has_title, MODEL)


def layout_with(text: str, has_title: bool, model: dict, *, with_headers: bool = True) -> Layout:
    """parse_layout with given model weights (training and held-out evaluation use other ones), and
    optionally header lines inside comment spans (to measure that choice)."""
    lines = split_lines(text)
    kinds = [classify(ln.text) for ln in lines]
    first = 0
    title = None
    if has_title and len(lines) > 1 and is_title(lines[0], kinds[0]):
        title = (lines[0].start, lines[0].end)
        first = 1
    while first < len(lines) and kinds[first].tail:
        first += 1  # junk right under the title ("… Add your two cents.") is no more article than a tail
    body_lines, body_kinds = lines[first:], kinds[first:]
    k, margin = best_boundary(body_lines, body_kinds, model)
    if k is not None:
        k = _past_list(body_lines, k)
    n = len(lines)
    if k is not None and (_only_footer(body_kinds[k:])
                          or len(body_kinds) - k < 3 and not any(kd.author or kd.stamp for kd in body_kinds[k:])):
        # only a byline or a date after the text (an article's own footer), or a line or two with no
        # comment markup at all ("Follow X on Twitter"): no comments
        k = None
    if k is None:
        k = _trailing_section(body_lines, body_kinds)
    k = _bullet_thread(body_lines, body_kinds, k)
    if k is not None:
        k = _same_template_above(body_lines, body_kinds, k)
    if k is not None and k > 0 and body_kinds[k].author and not body_kinds[k].bullet and _ends_on_author(body_kinds):
        k = _footer_start(body_lines, k)
    cut = n if k is None else first + k
    art_end = _cut_tail(lines, kinds, first, cut)
    article = (lines[first].start, lines[art_end - 1].end) if art_end > first else None
    comments: list[Comment] = []
    if k is not None:
        com_end = _cut_tail(lines, kinds, cut, n)
        comments = _split_comments(lines, kinds, cut, com_end, margin, with_headers)
        if _one_author_listing(comments):
            comments = []  # the article still ends where the listing starts: like a tail, in no record
    # how sure the article's end is right: how far the section's score clears the threshold, or how
    # far below it the best candidate stays when there is no section
    article_score = 0.5 + 0.5 * _sigmoid((margin if k is not None else -margin) / MARGIN_SCALE)
    return Layout(title, article, round(article_score, 4), comments)
