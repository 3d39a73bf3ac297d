"""Direct quotes inside a span of text (an article or a comment), with their speakers.

How a quote is found:
  marks      “…” and "…" are paired in order. A straight mark opens after a space, a line start or an
             opening bracket/dash and closes otherwise; a mismatched pair (“…") still pairs. An opening
             mark left unclosed at the end of its paragraph continues into the next paragraph when that
             one begins with an opening mark of the same style (the news convention for a quote running
             over several paragraphs): the whole run is one quote whose span includes the reopening
             marks. Otherwise the unclosed mark is dropped rather than run on. Single marks (‘…’) are
             never quotes: nested quotes, scare quotes or apostrophes. key="value" markup is skipped.
  span       the text between the marks, stripped of whitespace; punctuation inside the marks
             (“…law.”, “…forces,”) is kept, since it is inside the marks as written.
  halves     “…,” she said, “…” gives two quote records (each a contiguous span) with the same speaker.
  not quotes one- or two-word quotes with no speech verb and no named subject in their sentence (scare
             quotes); Title Case quotes of up to seven words right after a possessive (`his 1994 “…”`), a
             preposition, a sentence-opening `On`/`In` or a naming word (`on Channel 9’s “Sunday Ledger”`, `a show
             called “…”`, `titled “…”`), or next to a kind of work with no speech verb before them (`the
             reality show “…”`, `the “…” actress`, `“…” signs`): titles; a capitalized word or two inside a
             name (`Sen. R.J. “Dusty” Calloway`): nicknames; a short quote followed by its definition (`a “…,”
             which is defined as`, `“…,” the notion that`): a term.

How the speaker is found, first match wins:
  1. right after the closing mark: `,” X said`, `,” said X`, `” ― X` (a signed comment), `,” the
     statement read`, `,” X concludes`; after a quote that ends its sentence only `.” X said.`-like tails;
  2. later in the sentence when the speech verb ends it: `“…,” with …, the ministry said in a statement.`;
  3. in the sentence before the opening mark: `X said “…`, `X said that … “…”`, `according to X`,
     `asked by X`, `, says X,`, `…, saying “…` (an earlier subject), `X reiterated “…` (any verb right
     before the mark); a pronoun or an unnamed subject defers to a named subject of an earlier speech
     verb in the same sentence (`Ferrante says she … what she calls “…”`);
  4. an introduction ending in a colon just before the mark (`He said:` in the previous paragraph);
  5. a partial quote: the subject of its sentence (`Tolliver called Okonedo a “liar”`);
  6. carried forward: the previous quote of the same paragraph; the speaker of an earlier sentence of
     the paragraph; the previous quote of the previous paragraph; for a paragraph that is one quote,
     the named subject of the paragraph before.
`speaker` is as written (a name, a title, an organization or a pronoun). `speaker_resolved` turns a
pronoun or a document (`it`, `he`, `the statement`) into the nearest preceding named speaker, and a
generic reference (`the ministry`) into the nearest named speaker with the same head word (`the Veltrian
Foreign Ministry`); otherwise it equals `speaker`. `score` follows the rule that found the speaker.

Everything is regular expressions compiled at import and string scans around each quote mark; the
speech verbs are one trie-shaped alternation (a flat one of 300 words was the hot spot). Speed without
changing an answer: marks and sentence ends are found with str.find (re tries a class of non-Latin-1
characters at every position), a pattern anchored at the end of a text or needing a word is tried only when
the text can match it (each shortcut has a hypothesis test against its pattern), and the rules that are
pure functions of one sentence keep their last 2,048 answers (pages repeat sentences).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import islice
from typing import NamedTuple

__all__ = ["Quote", "find_quotes"]


class Quote(NamedTuple):  # a named tuple: a frozen dataclass paid a setattr per field, one Quote per quote
    start: int
    end: int
    speaker: str | None
    speaker_resolved: str | None
    score: float


OPENERS = "“„«‟"
CLOSERS = "”»"
STRAIGHT = '"'
_MARK = re.compile(r'["“”„‟«»]')
_MARKS = '"“”„‟«»'


# (the last document find_quotes saw, the mark characters in it): one tuple, replaced whole, so that threads
# sharing the module never read one document's marks for another
_present: list[tuple[str | None, str]] = [(None, "")]


def _mark_positions(text: str, start: int, end: int) -> list[int]:
    """Where _MARK matches in text[start:end], in order: one str.find scan per mark is ~15x faster than the
    regex, whose class of non-Latin-1 characters is tried at every position. The segmenter asks for each
    container of a document in turn: which marks the document has at all is found once."""
    seen, present = _present[0]
    if seen is not text:
        present = "".join(ch for ch in _MARKS if ch in text)
        _present[0] = (text, present)
    return _positions(text, present, start, end)


def _positions(text: str, chars: str, lo: int, hi: int) -> list[int]:
    """Where any of `chars` occurs in text[lo:hi], in order: a str.find scan per character."""
    found: list[int] = []
    for ch in chars:
        k = text.find(ch, lo, hi)
        while k >= 0:
            found.append(k)
            k = text.find(ch, k + 1, hi)
    found.sort()
    return found


# A straight mark opens after whitespace, start of text or an opening bracket/dash/slash.
_OPEN_BEFORE = set(" \t\n\r\xa0([{—–-/\u2009\u200b" + OPENERS)
# Inverse: a straight mark closes before whitespace, end of text or closing punctuation.
_CLOSE_AFTER = set(" \t\n\r\xa0)]}.,;:!?—–-/\u2009\u200b…" + CLOSERS)

SPEECH_VERBS = (
    "said|says|say|saying|added|adds|adding|told|tells|telling|tell|reiterated|reiterates|reiterating|stated|"
    "states|stating|wrote|writes|writing|noted|notes|noting|pointed out|points out|pointing out|explained|"
    "explains|explaining|asked|asks|asking|argued|argues|arguing|claimed|claims|claiming|declared|declares|"
    "declaring|insisted|insists|insisting|warned|warns|warning|continued|continues|tweeted|tweets|tweeting|"
    "posted|replied|replies|replying|responded|responds|responding|announced|announces|acknowledged|"
    "acknowledges|admitted|admits|suggested|suggests|recalled|recalls|recalling|remarked|observed|concluded|"
    "quipped|joked|jokes|shouted|shouts|yelled|urged|urges|predicted|predicts|promised|promises|vowed|vows|"
    "conceded|concedes|countered|counters|charged|complained|complains|contended|contends|emphasized|"
    "emphasised|emphasizes|stressed|stresses|boasted|boasts|mocked|thundered|cautioned|cautions|"
    "confirmed|confirms|denied|denies|testified|testifies|demanded|demands|asserted|asserts|"
    "maintained|maintains|proclaimed|proclaims|announced|exclaimed|added|chimed in|went on|"
    "read|reads|reported|reports|recounted|recounts|remembered|described|describes|called|calls|"
    "answered|answers|agreed|agrees|began|begins|interjected|retorted|snapped|sniffed|scoffed|"
    "wondered|mused|marveled|lamented|laments|acknowledged|cited|opined|pleaded|pledged|pledges|"
    "admitted|surmised|reasoned|whispered|screamed|sang|sings|chanted|chants|texted|emailed|"
    "repeated|repeats|summed up|put it|puts it|wrote in|elaborated|offered|insisted|blasted|slammed|shot back|fired back|"
    "hit back|pushed back|weighed in|spoke|speaks|quoted|"
    "accused|accuses|praised|praises|criticized|criticizes|dismissed|thanked|hailed|touted|"
    "conceded|acknowledging|explaining|predicting|promising|vowing|calling|describing|suggest|add|write|"
    "argue|insist|warn|ask|explain|declare|admit|acknowledge|respond|concede|predict"
)


def _trie_pattern(words: list[str]) -> str:
    """One regex alternation shaped as a trie: the engine rejects a position after a character or
    two instead of trying every word (a flat alternation of 300 verbs is the segmenter's hot spot)."""
    tree: dict = {}
    for w in sorted(set(words)):
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return emit(tree)


_VERB_ALT = _trie_pattern(SPEECH_VERBS.split("|"))
_VERB = re.compile(r"(?<![\w-])" + _VERB_ALT + r"\b")  # not the "called" of "so-called"
# Verbs that need the thing read or reported: "the statement read", not "she read a book".
_WEAK_VERBS = {"read", "reads", "reported", "reports", "called", "calls", "calling", "described", "describes",
               "describing", "began", "begins", "offered", "cited", "accused", "accuses", "praised", "praises",
               "criticized", "criticizes", "dismissed", "thanked", "hailed", "touted", "blasted", "slammed",
               "agreed", "agrees", "answered", "answers", "continued", "continues", "went on", "repeated",
               "repeats", "posted", "confirmed", "confirms", "denied", "denies"}
_DOCUMENTS = re.compile(
    r"\b((?:the|a|an|its|his|her|their|that|this)\s+(?:[\w’'-]+\s+){0,3}?"
    r"(?:statement|letter|post|tweet|message|release|note|memo|report|email|e-mail|text|filing|complaint|"
    r"lawsuit|ruling|order|sign|caption|headline|banner|ad|advertisement|video|clip|website|page|document|"
    r"petition|editorial|column|announcement|transcript|book|article|story|poster|placard|card|notice))\s+"
    r"(?:also\s+)?(read|reads|said|says|stated|states|added|adds|noted|notes|declared|declares|warned|warns)\b",
    re.I)
_DOC_NOUNS = ("statement letter post tweet message release note memo report email e-mail text filing complaint "
              "lawsuit ruling order sign caption headline banner ad advertisement video clip website page document "
              "petition editorial column announcement transcript book article story poster placard card notice")
_DOC_NOUN = re.compile(r"\b" + _trie_pattern(_DOC_NOUNS.split()) + r"\b", re.I)  # as _DOCUMENTS


def _documents(ctx: str) -> list[re.Match]:
    return list(_DOCUMENTS.finditer(ctx)) if _may_hold_document(ctx) and _DOC_NOUN.search(ctx) else []


# re.I lets ı and İ match i, and ſ match s, beside each letter's cases (checked on every code point): once
# lowered and those folded, a text an re.I pattern matches holds the pattern's words in lowercase ASCII.
_FOLD = str.maketrans({"ſ": "s", "ı": "i", "\u0307": None})  # "İ".lower() is i + U+0307
_DOC_VERBS = ("read", "said", "says", "state", "add", "note", "declare", "warn")  # every _DOCUMENTS match has one


def _folded(s: str) -> str:
    """s as an re.I pattern's lowercase ASCII words must appear in it, if it matches."""
    t = s.lower()
    if not t.isascii() and ("ſ" in t or "ı" in t or "\u0307" in t):
        t = t.translate(_FOLD)
    return t


def _may_hold_document(s: str) -> bool:
    """Whether s holds one of _DOC_VERBS once folded (spelled out: it runs on most sentences)."""
    t = _folded(s)
    return ("said" in t or "says" in t or "read" in t or "state" in t or "add" in t or "note" in t or "warn" in t
            or "declare" in t)


_ACCORDING = re.compile(r"\baccording\s+to\s+", re.I)
_DASH_SIGN = re.compile(r"^[\s\xa0]*[―—–-]{1,2}[\s\xa0]*(?=[A-Z@])")
_WORD = re.compile(r"[^\W_][\w’'.\-&]*|[,;:()\[\]—–―]")
_SENT_END = re.compile(r"[.!?…]+[\"”’)]*(?=[\s\xa0]+[\"“‘(]?[A-Z0-9])|[\n]")
_ABBREVS = ("Mr|Mrs|Ms|Dr|Sen|Rep|Reps|Gov|Gen|Lt|Col|Capt|Sgt|Prof|Rev|St|Jr|Sr|Inc|Corp|Co|Ltd|No|vs|Vol|"
            "Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec|Ft|Mt|Pres|Atty|Supt|Cmdr|Adm|Maj|Sens|Govs|Mass|Calif|Fla|"
            "Ariz|Ill|Mich|Penn|Wis|Minn|Tenn|Ky|Va|Ga|Ala|Miss|Conn|Colo|Nev|Ore|Wash|Del|Md|Okla|Neb|Kan|Ark|"
            "La|Tex|Ind|Mo|Mont|Wyo|Del|R|D|I")
_ABBREV = re.compile(r"(?:\b(?:" + _ABBREVS + r")|\b[A-Z]|\b(?:[A-Z]\.)+[A-Z])$")
# Every _ABBREV match ends in an ASCII letter, and in a lowercase one only as one of these words.
_ABBREV_LOWER_END = tuple(a for a in _ABBREVS.split("|") if a[-1].islower())
_ABBREV_LOWER_LAST2 = frozenset(a[-2:] for a in _ABBREV_LOWER_END)  # all are two letters or longer


def _abbrev_before(text: str, lo: int, k: int) -> bool:
    """_ABBREV.search(text, max(lo, k - 8), k): an abbreviation ends right before the full stop at k. The
    pattern is tried only when the word before k ends as one can (most full stops follow ordinary words)."""
    a = max(lo, k - 8)
    j = k - 1 if k > a and text[k - 1] == "\n" else k  # `$` also matches before a last newline
    if j > a:
        c = text[j - 1]
        if "a" <= c <= "z":
            if text[j - 2: j] not in _ABBREV_LOWER_LAST2 or not text.endswith(_ABBREV_LOWER_END, a, j):
                return False
        elif not "A" <= c <= "Z":
            return False
    return _ABBREV.search(text, a, k) is not None


PRONOUNS = {"he", "she", "it", "they", "we", "i", "you"}
_DETERMINERS = {"the", "a", "an", "another", "one", "his", "her", "its", "their", "our", "my", "your", "this",
                "that", "these", "those", "some", "several", "many", "two", "three", "both", "each", "other"}
# Lowercase words that can sit inside a speaker's noun phrase.
_NP_LINKS = {"of", "for", "at", "de", "la", "van", "von", "da", "del", "bin", "al", "and", "’s", "'s"}
# Words between a subject and its speech verb: "he also said", "the mayor has repeatedly said".
_AUX = {"also", "later", "earlier", "then", "further", "previously", "repeatedly", "recently", "once", "has",
        "had", "have", "will", "would", "could", "might", "may", "did", "does", "do", "again", "simply",
        "just", "flatly", "publicly", "privately", "quickly", "immediately", "often", "frequently", "reportedly",
        "allegedly", "angrily", "bluntly", "was", "is", "once", "finally", "even", "still", "only",
        "first", "last", "never", "always", "has", "then-", "herself", "himself", "openly", "already", "even",
        "subsequently", "separately", "specifically", "pointedly", "famously", "candidly", "directly",
        "similarly", "likewise", "ultimately", "eventually", "quietly", "loudly", "tersely", "jokingly"}
# Words that end a backwards scan for a subject: clause starters, prepositions, verbs of being.
_STOP = {"that", "which", "who", "whom", "whose", "and", "but", "or", "nor", "while", "as", "when", "because",
         "if", "after", "before", "since", "than", "so", "to", "is", "was", "were", "are", "be", "been", "in",
         "on", "with", "by", "from", "into", "about", "where", "what", "how", "why", "not", "no", "also", "we",
         "over", "under", "during", "through", "against", "among", "until", "unless", "though", "although",
         "yet", "whether", "per", "via", "like", "upon", "onto", "across", "behind", "after", "toward", "towards"}
_GENERIC_HEADS = {"ministry", "statement", "department", "agency", "spokesman", "spokeswoman", "spokesperson",
                  "official", "officials", "campaign", "company", "group", "organization", "government", "office",
                  "committee", "party", "letter", "report", "post", "tweet", "source", "sources", "aide", "aides",
                  "candidate", "nominee", "president", "senator", "governor", "court", "judge", "lawyer",
                  "attorney", "union", "firm", "administration", "ad", "video", "clip", "release", "memo",
                  "website", "secretary", "minister", "chairman", "chairwoman", "leader", "team", "network",
                  "paper", "newspaper", "magazine", "council", "board", "commission", "authorities", "police",
                  "foundation", "institute", "center", "agency", "white", "house", "senate", "congress",
                  "spokesmen", "representative", "ambassador", "embassy", "military", "army", "kremlin",
                  "pentagon", "the", "a", "an", "its", "his", "her", "their"}


def _is_opener(text: str, i: int, start: int, end: int) -> bool:
    """Whether the straight mark at i opens a quote, judged by its neighbours."""
    before = text[i - 1] if i > start else " "
    after = text[i + 1] if i + 1 < end else " "
    if before in _OPEN_BEFORE and after not in " \t\n\r\xa0":
        return True
    return False


# A line ending in one of these ends its paragraph even without a blank line after it.
_PARA_END = set(".!?:;\"”’)…")


def _pairs(text: str, start: int, end: int, marks: list[int] | None = None) -> list[tuple[int, int, bool]]:
    """(position of the opening mark, position of the closing mark, continued over paragraphs)."""
    found: list[tuple[int, int, bool]] = []
    open_at = -1  # position of the pending opening mark, -1 when none
    multi = False
    scan_from = start  # line breaks before this position have been judged for the pending mark
    skip_to = -1
    for i in (_mark_positions(text, start, end) if marks is None else marks):
        if i <= skip_to:
            continue
        ch = text[i]
        if ch == STRAIGHT and i > start and text[i - 1] == "=":
            j = text.find(STRAIGHT, i + 1, end)  # a markup attribute: key="value"
            nl = text.find("\n", i + 1, end)
            skip_to = j if j >= 0 and (nl < 0 or j < nl) else i
            continue
        if open_at >= 0:
            reopen = False
            blank = False
            nl = text.find("\n", scan_from, i)
            while nl >= 0:
                ls = nl + 1
                le = text.find("\n", ls, end)
                le = end if le < 0 else le
                line = text[ls:le]
                rest = line.lstrip(" \t\r\xa0\u200b")
                if not rest:
                    blank = True
                else:
                    first = le - len(rest)
                    fc = text[first]
                    opens = fc in OPENERS or fc == STRAIGHT and _is_opener(text, first, start, end)
                    k = nl - 1
                    while k > open_at and text[k] in " \t\r\xa0":
                        k -= 1
                    if opens and first == i and (fc == STRAIGHT) == (text[open_at] == STRAIGHT):
                        reopen = multi = True  # a quote running on into this paragraph
                    elif opens or blank or text[k] in _PARA_END:
                        open_at, multi = -1, False  # unclosed at the end of its paragraph
                        break
                    blank = False
                nl = text.find("\n", ls, i)
            scan_from = i + 1
            if reopen:
                continue
        if ch in OPENERS:
            is_open = True
            if open_at >= 0 and not _is_opener(text, i, start, end):
                is_open = False  # “…“ typed with two opening marks
        elif ch in CLOSERS:
            is_open = open_at < 0 and _is_opener(text, i, start, end) and not (
                i + 1 < end and text[i + 1] in _CLOSE_AFTER)
        elif open_at < 0:
            is_open = _is_opener(text, i, start, end) or (i + 1 < end and text[i + 1] not in _CLOSE_AFTER)
        else:
            is_open = False  # inside “…”, a nested "…" is rare; a straight mark closes
        if is_open:
            open_at, multi, scan_from = i, False, i + 1
        elif open_at >= 0:
            found.append((open_at, i, multi))
            open_at, multi = -1, False
    return found


def _strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _sent_starts(text: str, lo: int, hi: int) -> list[int]:
    """Where a _SENT_END match can start in text[lo:hi] (a . ! ? … or line break), in order."""
    return _positions(text, ".!?…\n", lo, hi)


def _sent_ends(text: str, lo: int, hi: int, starts: list[int] | None = None):
    """_SENT_END.finditer(text, lo, hi): every match starts with one of .!?…⏎, so the regex is tried only
    there (found by str.find) instead of at every position, which was a third of the time on long paragraphs.
    `starts`: _sent_starts over a span that holds [lo, hi), found once for all the quotes of a paragraph."""
    if starts is None:
        starts, n = _sent_starts(text, lo, hi), 0
    else:
        n = bisect_left(starts, lo)
    resume = lo  # matches do not overlap: the next one is looked for after the end of the last
    for k in islice(starts, n, None):
        if k >= hi:
            break
        if k >= resume:
            m = _SENT_END.match(text, k, hi)
            if m:
                resume = m.end()
                yield m


def _sentence_start(text: str, lo: int, i: int, starts: list[int] | None = None) -> int:
    """Start of the sentence that holds position i, not before lo (a paragraph start)."""
    s = lo
    # the lookahead needs the characters at i; a match starting past the paragraph's `starts` would end after i
    for m in _sent_ends(text, lo, i + 3, starts):
        if m.end() > i:
            break
        if m.group() == "\n":
            s = m.end()
            continue
        if _abbrev_before(text, lo, m.start()):
            continue
        s = m.end()
    return s


def _sentence_end(text: str, i: int, hi: int, starts: list[int] | None = None) -> int:
    for m in _sent_ends(text, i, hi, starts):
        if m.group() == "\n":
            return m.start()
        if _abbrev_before(text, i, m.start()):
            continue
        return m.end()
    return hi


def _tokens(s: str) -> list[str]:
    return _WORD.findall(s)  # callers pop from it: a fresh list each time


def _clean(words: list[str]) -> str | None:
    while words and words[-1] in {",", ";", ":", "(", "—", "–", "―", "and"}:
        words.pop()
    while words and words[0] in {",", ";", ":", ")", "—", "–", "―"}:
        words.pop(0)
    if not words:
        return None
    out = " ".join(words).replace(" ,", ",").replace("( ", "(").replace(" )", ")")
    if out[-1:] == "." and not _KEEP_DOT.search(out):
        out = out.rstrip(".")
    return out or None


_KEEP_DOT = re.compile(r"\b[A-Z]\.$|\b(?:Jr|Sr|Inc|Co|Corp)\.$")


def _looks_like_np(words: list[str]) -> bool:
    if not words:
        return False
    low = words[0].lower()
    if len(words) == 1 and low in PRONOUNS:
        return True
    rest = [w for w in words if w.lower() not in _DETERMINERS]
    if not rest:
        return False
    return low in _DETERMINERS or any(w[:1].isupper() or w.lower() in _GENERIC_HEADS or w.lower().endswith(_AGENT)
                                      for w in rest)


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_TRAIL_ADVERBIAL = re.compile(
    r"(?:[\s\xa0,]+(?:(?:on|last|this|earlier|later|in|at|during|late|early|over|next)[\s\xa0]+"
    r"(?:the[\s\xa0]+|a[\s\xa0]+|an[\s\xa0]+)?(?:past|time|morning|afternoon|evening|night|weekend|week|month|year|"
    r"day|" + _DAYS + "|" + _MONTHS + r"|recent[\s\xa0]+\w+|\d+\w*)(?:[\s\xa0]+(?:morning|night|afternoon|evening|"
    r"\d+\w*))?|" + _DAYS + r"|today|yesterday|tonight|recently|again|previously|once|now|then|(?:[’']s)|"
    r"(?:less than[\s\xa0]+|more than[\s\xa0]+|about[\s\xa0]+|nearly[\s\xa0]+)?(?:[\w-]+[\s\xa0]+){1,3}ago)"
    r"|[\s\xa0]*\([^()]{1,40}\))+[\s\xa0]*$")
_RELATIVE = {"who", "which", "that"}
# The words a _TRAIL_ADVERBIAL match can end in (besides `(…)`, a number like `5th` and `recent <anything>`).
_TRAIL_LAST = frozenset(("past time morning afternoon evening night weekend week month year day today yesterday "
                         "tonight recently again previously once now then ago s").split()
                        + _DAYS.split("|") + _MONTHS.split("|"))


def _trail_adverbial(s: str) -> re.Match | None:
    """_TRAIL_ADVERBIAL.search(s), without its scan of every position when the last word of s cannot end
    a match (the common case: a subject's noun)."""
    t = s.rstrip()
    if not t:
        return None  # a match holds at least one word or `(…)`
    if t[-1] != ")":
        k = len(t)
        while k and (t[k - 1].isalnum() or t[k - 1] == "_"):  # the last run of \w characters
            k -= 1
        last = t[k:]
        if last not in _TRAIL_LAST and not last[:1].isdecimal() and "recent" not in t:
            return None
    return _TRAIL_ADVERBIAL.search(s)


@lru_cache(maxsize=2048)
def _subject_before(s: str) -> str | None:
    """The noun phrase that ends s (the subject of a speech verb that follows s)."""
    m = _trail_adverbial(s)
    if m and m.start() > 0:
        s = s[: m.start()]
    words = _tokens(s)
    # auxiliaries and adverbs between subject and verb
    while words and (words[-1].lower() in _AUX or words[-1].lower().endswith("ly") and words[-1].islower()):
        words.pop()
    if len(words) >= 3 and words[-1].lower() in _RELATIVE and words[-2] == ",":
        return _subject_before(" ".join(words[:-2]))  # `Brannock, who has described …` → Brannock
    if words and words[-1] in {",", "—", "–", ")"}:
        return _appositive_head(words)
    np: list[str] = []
    while words:
        w = words[-1]
        low = w.lower()
        if low in PRONOUNS and not np:
            return w
        if w in {",", ";", ":", "(", ")", "—", "–", "―"}:
            break
        if low in _STOP and not (low == "and" and np and words[-2:-1] and words[-2][:1].isupper()):
            break
        if w[:1].islower() and low not in _NP_LINKS and low not in _DETERMINERS and low not in _GENERIC_HEADS:
            if not (low.endswith(_AGENT) or _det_within(words)):
                break
        np.insert(0, words.pop())
        if low in _DETERMINERS and not (low in ("two", "three") and len(np) == 1 and words and words[-1] == "of"):
            break  # but `the father of two`
        if len(np) >= 9:
            break
    if len(words) >= 3 and words[-1] in _PARTICIPLE_LINKS and words[-2].endswith("ing") and words[-2].islower() \
            and words[-2] not in _ING_NOUNS:
        # `Workers walking out of the plant chanted`: the noun before the participle phrase
        sp = _subject_before(" ".join(words[:-2]))
        if sp:
            return sp
    while np and np[0] in _NP_LINKS:  # exact case: "al" links a name, "Al" is one
        np.pop(0)
    if not _looks_like_np(np):
        return None
    return _clean(np)


_PARTICIPLE_LINKS = {"through", "to", "in", "on", "at", "from", "into", "outside", "inside", "near", "with", "for"}
# -ing words that are nouns (`a town hall meeting in Dunmore`), not participles
_ING_NOUNS = {"meeting", "building", "hearing", "briefing", "morning", "evening", "wedding", "gathering", "spring",
              "thing", "nothing", "something", "anything", "everything", "king", "ring", "string", "wing", "ceiling",
              "bombing", "shooting", "killing", "funding", "ruling", "filing", "training", "housing", "spending",
              "polling", "landing", "opening", "ending", "setting", "painting", "offering", "reading",
              "listening", "swearing", "signing", "screening", "fundraising", "campaigning", "timing", "standing"}


_AGENT = ("s", "er", "or", "ist", "ian", "ant", "ent", "man", "woman", "person", "one", "body")


def _det_within(words: list[str], n: int = 3) -> bool:
    """A determiner among the n words before the last one, with nothing clause-like between."""
    for w in reversed(words[-n - 2:-1]):
        low = w.lower()
        if low in _DETERMINERS:
            return True
        if w == ",":
            continue  # `the soft-spoken, 64-year-old surveyor`
        if low in _STOP or not w[:1].isalnum() or "’" in w or "'" in w or _VERB.fullmatch(low):
            return False
    return False


def _appositive_head(words: list[str]) -> str | None:
    """`X, the director of Y, said`: the head X, first chunk of the clause before the verb."""
    while words and words[-1] in {",", "—", "–", ")"}:
        words.pop()
    # walk back to the clause start: the previous comma-chunk boundary that is not inside the appositive
    chunks: list[list[str]] = [[]]
    for w in words:
        if w in {",", "—", "–", "(", ")", ";", ":"}:
            chunks.append([])
        else:
            chunks[-1].append(w)
    chunks = [c for c in chunks if c]
    if not chunks:
        return None
    # the appositive is the last chunk; the head is the chunk before it (or the last if only one).
    # `the treasurer, Ingrid Solberg, said`: when only the appositive is a name, it is the better speaker
    cand = chunks[-2] if len(chunks) >= 2 else chunks[-1]
    head = _subject_before(" ".join(cand))
    if head and not _named(head) and len(chunks) >= 2:
        name = _subject_before(" ".join(chunks[-1]))
        if name and _named(name) and all(w[:1].isupper() for w in name.split()):
            return name
    if head:
        return head
    return _subject_before(" ".join(chunks[-1]))


@lru_cache(maxsize=2048)
def _np_after(s: str) -> str | None:
    """The noun phrase that starts s (the subject of an inverted attribution: `said X`)."""
    return _np_first(_tokens(s))


def _np_first(words: list[str]) -> str | None:
    """_np_after on the words of s (read, not changed)."""
    np: list[str] = []
    for i, w in enumerate(words):
        low = w.lower()
        if w in {",", ";", ":", "(", ")", "—", "–", "―"}:
            break
        if low in _STOP and np and not (w[:1].isupper() and np[-1][:1].isupper()):
            break  # but `Teodor From`: a capitalized word inside a name is part of it
        if low in _STOP and not np:
            return None
        if w[:1].islower() and low not in _NP_LINKS and low not in _DETERMINERS and low not in _GENERIC_HEADS \
                and not np:
            if low in PRONOUNS:
                return w
        if w[:1].islower() and np and low not in _NP_LINKS and low not in _GENERIC_HEADS and not (
                np[-1].lower() in _DETERMINERS) and not (
                not any(x[:1].isupper() for x in np) and _name_ahead(words, i)):
            break
        np.append(w)
        if len(np) >= 9:
            break
    while np and (np[-1] in _NP_LINKS or np[-1].lower() in _DETERMINERS):
        np.pop()
    if not _looks_like_np(np):
        return None
    return _clean(np)


_ADVERBIAL_START = {"in", "on", "at", "during", "after", "before", "speaking", "asked", "later", "earlier", "then",
                    "meanwhile", "still", "but", "and", "however", "yesterday", "today", "last", "this", "first",
                    "second", "now", "instead", "indeed", "finally", "again", "also", "based", "according", "since",
                    "while", "when", "as", "by", "for", "from", "with", "without", "despite", "under", "over",
                    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "so", "yet",
                    "thus", "moreover", "furthermore", "separately", "similarly", "likewise", "elsewhere", "here",
                    "there", "nonetheless", "nevertheless", "of", "if", "although", "though", "because", "once",
                    "to", "unlike", "like", "amid", "following", "throughout", "within", "across", "among",
                    "which", "who", "where", "whose", "whom", "that", "not", "including", "especially", "even",
                    "each", "every", "beyond", "besides", "outside", "inside", "just", "only", "perhaps", "maybe"}
# `HALBERTON, Dec. 4 (UPI) —`, `Halberton (AFP) –`, `ELMSBY, N.D. -`: a dateline is not a subject
_DATELINE = re.compile(r"^[\s\xa0]*[A-Z][\w.’' ]{1,30}(?:,[^—–\n]{1,25})?[\s\xa0]*(?:\([A-Za-z. ]{1,20}\))?[\s\xa0]*[—–-]+[\s\xa0]+")


def _dash_space(s: str) -> bool:
    """A dash followed by whitespace, which every _DATELINE match holds: without one the pattern's nested
    repeats are not tried."""
    for ch in "—–-":
        k = s.find(ch)
        while k >= 0:
            if s[k + 1: k + 2].isspace():
                return True
            k = s.find(ch, k + 1)
    return False


def _name_ahead(words: list[str], i: int) -> bool:
    """`widow Nell Arbogast`, `state Del. Rufus Penn`: a capitalized name within two words."""
    for w in words[i + 1: i + 3]:
        if w[:1].isupper():
            return True
        if not w[:1].isalpha() or w.lower() in _STOP:
            return False
    return False


# What follows an opening past participle or adverb (`Asked about …,`, `Hastily, …`); a name that merely ends like
# one is followed by its verb (`Bransted continued by saying, “…`).
_OPENER_NEXT = {",", "about", "by", "to", "with", "for", "from", "in", "on", "at", "after", "before", "over", "into",
                "through", "during", "the", "a", "an", "his", "her", "their", "its", "this", "that", "up", "out", "off",
                "as", "under", "against", "upon", "outside", "inside", "near", "since"}


def _sentence_subject(s: str) -> str | None:
    """The subject that opens a clause (for `…, saying “…”`)."""
    m = _DATELINE.match(s) if _dash_space(s) else None
    if m:
        s = s[m.end():]
    words = _tokens(s)
    # skip opening adverbials: "In a statement, X said" / "On Monday, after the vote, X"
    while "," in words[:12] and words:
        w = words[0].lower()
        if w in _ADVERBIAL_START or words[0][:1].isupper() and (w.endswith("ing") or w.endswith(("ly", "ed")) and (
                words[1].lower() in _OPENER_NEXT)) or words[0][:1].isdigit() \
                or words.index(",") == 1 and "." in words[0]:  # `…, Vt., Brannock said`
            words = words[words.index(",") + 1:]
        else:
            break
    return _np_first(words)  # the words of " ".join(words) are words: no second tokenizing


_PREP_TAIL = re.compile(r"[\s\xa0]*(?:[,.;:!?]|$|(?:in|on|at|to|of|during|after|before|about|with|from|for|"
                        r"while|when|as|last|this|on|earlier|later|yesterday|today|tonight|again|afterward|"
                        r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|reporters|CNN|Fox|NBC|ABC|"
                        r"CBS|MSNBC|him|her|them|me|us)\b)")


@lru_cache(maxsize=2048)
def _tight_after(ctx: str, new_sentence: bool, whole: bool = True) -> str | None:
    """`,” X said` / `,” said X` / `” ― X` / `,” the statement read` right after the closing mark.
    `whole`: the quote opens its sentence, so `” ― X` signs it (after a partial quote it is a byline)."""
    m = _DASH_SIGN.match(ctx) if whole else None
    if m:
        return None if _VERB.match(ctx, m.end()) else _np_after(ctx[m.end():])
    lead = ctx.lstrip(" ,\xa0\t")
    v = _VERB.match(lead)
    if v:
        if new_sentence or v.group() in _WEAK_VERBS and v.group() not in _INVERTED_OK or v.group().endswith("ing"):
            return None
        return _np_after(lead[v.end():])
    d = _DOCUMENTS.match(lead) if _may_hold_document(lead) else None
    if d:
        return d.group(1)
    v = _VERB.search(lead, 0, 120)
    if v is None or v.group().endswith("ing") or v.group() in _WEAK_VERBS and v.group() not in _ADJACENT_OK:
        return None
    head = lead[: v.start()]
    if _SUBORDINATE.search(head):
        return None  # `“…” Friday, hours after the treasurer was arrested`: another clause, not an attribution
    if head.split()[:1] and head.split()[0].lower() in _CONTINUING and v.group() not in _TAKES_OBJECT \
            and _comma_end(head):
        sp = _np_after(lead[v.end():])  # inverted after the rest of the quote's sentence: `“…” for the city, said X`
        if sp and sp[:1].isupper():
            return sp
    if len(head.split()) > 12 or "," in head and not head.rstrip().endswith(",") and new_sentence:
        return None
    if head[:1].islower() and head.split()[0].lower() not in PRONOUNS and head.split()[0].lower() not in _DETERMINERS \
            and not any(w[:1].isupper() for w in head.split()[1:4]):
        return None  # `,” and then …` — but `,” panel Chairman X said` is an attribution
    if new_sentence and (_CLAUSE_NEXT.match(lead, v.end()) or len(head.split()) > 6 or not (
            _PREP_TAIL.match(lead, v.end()) or v.group() in _TAKES_OBJECT)):
        return None  # `.” The agency said North Korea had …`: a new sentence of reported speech
    sp = _subject_before(head)
    if sp and new_sentence and not sp[:1].isupper():
        return None
    return sp


# A word that carries the quote's sentence on past the closing mark (`“…” for the city, said X`).
_CONTINUING = _STOP | {"for", "of", "at"}
_INVERTED_OK = {"read", "reads", "continued", "continues", "answered", "agreed", "repeated"}
_SUBORDINATE = re.compile(r"\b(?:after|before|when|while|because|if|that|which|until|since|although|though|where|"
                          r"whether|unless|than)\b")
_TAKES_OBJECT = {"told", "tells", "asked", "asks"}
_ADJACENT_OK = {"continued", "continues", "went on", "reported", "reports", "posted", "answered", "answers",
                "agreed", "agrees", "repeated", "repeats", "confirmed", "confirms"}
# After a quote that ended its sentence, `X said it would…` starts reported speech, not an attribution.
_CLAUSE_NEXT = re.compile(r"[\s\xa0]+(?:that|it|he|she|they|we|I|there|this|these|those|his|her|their|its)\b")


_COMMA_TAIL = re.compile(r"^[\s\xa0]*((?:[A-Z][\w’'.\-]*[\s\xa0]+){1,4}|(?:he|she|they|it|we|I)[\s\xa0]+)"
                         r"(?:also[\s\xa0]+)?[a-z]{3,}(?:s|ed)\b")


def _comma_tail(ctx: str) -> str | None:
    """`“…,” Penhaligon concludes`: a name and any verb after a quote that ends in a comma."""
    m = _COMMA_TAIL.match(ctx)
    return _clean(m.group(1).split()) if m else None


@lru_cache(maxsize=2048)
def _loose_after(ctx: str) -> str | None:
    """A speech verb later in the sentence: `“…,” with …, the ministry said in a statement.`"""
    for v in _VERB.finditer(ctx):
        verb = v.group()
        if verb in _WEAK_VERBS or verb.endswith("ing"):
            continue
        if verb not in _TAKES_OBJECT and _comma_end(ctx[: v.start()]):
            sp = _np_after(ctx[v.end():])  # inverted: `“…” about the decision, said Rosa Diaz, director of …`
            if sp and sp[:1].isupper():
                return sp
        tail = ctx[v.end():].split()
        if len(tail) > 8 or "that" in tail or len(tail) > 4 and not _PREP_TAIL.match(ctx, v.end()):
            continue  # `… “…” that he said would cost …`: a clause of its own, not the attribution
        sp = _subject_before(ctx[: v.start()])
        if sp:
            return sp
    docs = _documents(ctx)
    if docs:
        return docs[0].group(1)
    a = _ACCORDING.search(ctx) if "according" in _folded(ctx) else None
    if a:
        return _np_after(ctx[a.end():])
    return None


_STRONG_BEFORE_WEAK = {"read", "reads", "reported", "reports", "posted", "continued", "continues", "went on",
                       "began", "begins", "offered", "agreed", "agrees", "answered", "answers", "repeated",
                       "repeats", "confirmed", "confirms", "denied", "denies"}


@lru_cache(maxsize=2048)
def _verbs(ctx: str) -> tuple[re.Match, ...]:
    """The speech verbs of ctx (each sentence before a mark is searched by several rules)."""
    return tuple(_VERB.finditer(ctx))


@lru_cache(maxsize=2048)
def _before_attribution(ctx: str) -> str | None:
    """Speaker in the sentence before an opening mark."""
    a = None
    if "according" in _folded(ctx):
        for a in _ACCORDING.finditer(ctx):
            pass
    verbs = _verbs(ctx)
    d = None
    if verbs:  # a document only matters as the subject of one of the verbs
        docs = _documents(ctx)
        d = docs[-1] if docs else None
    after_participle = False
    for v in reversed(verbs):
        verb = v.group()
        if a and a.start() > v.start():
            break
        if d and d.start() <= v.start() < d.end():
            return d.group(1)
        rest = ctx[v.end():]
        if verb in _STRONG_BEFORE_WEAK and rest.strip(" ,:\xa0"):
            continue
        if after_participle and verb not in _CORE_VERBS:
            continue  # `X shared a class called “…” on Facebook, writing “…`: not the class
        by = _BY.match(rest)
        if by:  # `Kastellan was asked by host Dana Kwiatek, “…`
            sp = _np_after(rest[by.end():])
            if sp:
                return sp
        before = ctx[: v.start()]
        if _closed_before(before) and not verb.endswith("ing"):
            # `“…,” said X, urging them to “…`: inverted after an earlier quote
            sp = _np_after(rest)
            if sp:
                return sp
            continue
        if verb.endswith("ing") and verb != "according":
            if not _comma_end(before):
                sp = _subject_before(before)  # `footage of Ferrante asking, “…`
                if sp and _named(sp):
                    return sp
            after_participle = True
            continue  # `X did Y, saying “…`: the speaker is an earlier subject
        if _comma_end(before) and not verb.endswith("ing") and verb not in _TAKES_OBJECT:
            m = _PARENTHETICAL_NAME.match(rest)  # `The trouble, says Ines Lindqvist, a geologist, is that “…`
            if m:
                return m.group(1)
        sp = _subject_before(before)
        if sp and sp.lower() in PRONOUNS:
            # `Ferrante says she … what she calls “…`: the pronoun stands for the named subject before it
            named = _named_subject_before(before)
            if named is None and _WHAT_PRONOUN.search(before):
                named = _sentence_subject(before)  # `Oyelaran condemned what he called “…`
                named = named if _named(named) else None
            return named or sp
        if sp and not _named(sp):
            # `Dovrin said the wave of closures demands “…`: a named speaker earlier in the sentence
            return _named_subject_before(before) or sp
        if sp:
            return sp
        if before.rstrip().endswith(("and", "but")) and _AND_END.search(before):
            # `Quillon campaigned on Friday and says he voted “…`
            sp = _sentence_subject(before)
            if sp:
                return sp
        # inverted: `Said Tolliver: “…` / `, said X, “…`
        sp = _np_after(rest)
        if sp and rest.strip(" ,:\xa0") and sp[:1].isupper():
            return sp
    if a:
        return _np_after(ctx[a.end():])
    m = _NAME_COLON.search(ctx) if ctx.rstrip().endswith(":") else None
    if m:  # `… - Sunniva K. Thessaly: “…` (a roundup's source line)
        return m.group(1)
    if after_participle:
        return None  # the sentence subject is the better guess, and the caller tries it next
    # an unknown verb right before the mark: `Karvosk reiterated “…`
    m = _LOOSE_INTRO.search(ctx) if _loose_intro_end(ctx) else None
    if m:
        sp = _subject_before(ctx[: m.start(1)])
        if sp and (_named(sp) or sp.lower() in PRONOUNS):
            return sp
    return None


_NAME_COLON = re.compile(r"(?:^|[—–-][\s\xa0]|[.!?][\s\xa0])[\s\xa0]*((?:[A-Z][\w.’'-]*[\s\xa0]+(?:and[\s\xa0]+)?){0,4}"
                         r"[A-Z][\w.’'-]*)[\s\xa0]*:[\s\xa0]*$")
_WHAT_PRONOUN = re.compile(r"\b(?:what|whom)[\s\xa0]+(?:he|she|it|they)[\s\xa0]*$", re.I)


@lru_cache(maxsize=2048)
def _named_subject_before(ctx: str) -> str | None:
    """The named subject of an earlier speech verb in the same sentence, if any."""
    for v in reversed(_verbs(ctx)):
        if v.group() in _WEAK_VERBS or v.group().endswith("ing"):
            continue
        sp = _subject_before(ctx[: v.start()])
        if sp and _named(sp):
            return sp
    return None


_CORE_VERBS = {"said", "says", "told", "tells", "added", "adds", "wrote", "writes", "stated", "declared", "explained",
               "argued", "insisted", "noted", "asked", "replied", "responded", "tweeted", "continued"}
_BY = re.compile(r"[\s\xa0]+by[\s\xa0]+(?=[A-Z]|(?:host|moderator|reporter|anchor|the|a|an)\b)")
_CLOSED_BEFORE = re.compile(r"[,.!?]?[”\"][\s\xa0]*$")
_PARENTHETICAL_NAME = re.compile(r"[\s\xa0]+((?:[A-Z][\w.’'-]*[\s\xa0]+){0,3}[A-Z][\w.’'-]*)[\s\xa0]*[,:]")
_COMMA_END = re.compile(r"[,;(—–][”\"’]?[\s\xa0]*$")
_AND_END = re.compile(r"\b(?:and|but)[\s\xa0]*$")
# The patterns above end in `…[\s\xa0]*$`, and re's \s is str.isspace: their ending is checked on s.rstrip() first,
# so the pattern is not tried at every position of a sentence that cannot match.


def _comma_end(s: str) -> bool:
    t = s.rstrip()
    return bool(t) and t[-1] in ",;(—–”\"’" and _COMMA_END.search(s) is not None


def _closed_before(s: str) -> bool:
    t = s.rstrip()
    return bool(t) and t[-1] in "”\"" and _CLOSED_BEFORE.search(s) is not None


def _loose_intro_end(s: str) -> bool:
    """Whether s ends as a _LOOSE_INTRO match must: `…ed`, `…s` or an object pronoun, then `,` or `:`."""
    t = s.rstrip()
    if t[-1:] in (",", ":"):
        t = t[:-1].rstrip()
    return t.endswith(("s", "ed", "him", "her", "them", "me"))


_LOOSE_INTRO = re.compile(r"\b([a-z]{3,}(?:ed|es|s))(?:[\s\xa0]+(?:him|her|them|us|me|reporters))?"
                          r"[\s\xa0]*[,:]?[\s\xa0]*$")


@lru_cache(maxsize=2048)
def _subject_fallback(ctx: str) -> str | None:
    """The subject that opens the sentence of a partial quote (`Tolliver called Okonedo a “liar”`)."""
    sp = _sentence_subject(ctx)
    if not sp or _NOT_A_SUBJECT.match(sp):
        return None
    if _named(sp) or sp.lower() in PRONOUNS or sp.split()[0].lower() in _DETERMINERS:
        return sp
    return None


_NOT_A_SPEAKER = re.compile(
    r"(?:According|Based|Asked|Speaking|Meanwhile|However|Also|Still|Later|Earlier|Then|In|On|At|After|Before|"
    r"During|Since|While|When|As|If|Although|Though|Because|For|From|With|Without|Despite|Under|Over)\b")


@lru_cache(maxsize=2048)
def _not_a_speaker(speaker: str) -> bool:
    return _NOT_A_SPEAKER.match(speaker) is not None


# Capitalized only because they open the sentence: contractions, imperatives, question words.
_NOT_A_SUBJECT = re.compile(
    r"(?:[A-Z]\w*[’'](?:t|m|re|ve|ll|d)\b|(?:It|That|There|What|Here|He|She|Who)[’']s\b|"
    r"(?:I|Read|Wanna|Let|Please|See|Check|Note|Click|Here|There|This|That|These|Those|What|Why|How|When|Where|"
    r"If|Just|Imagine|Remember|Think|Look|Yes|No|Oh|Well|So|And|But)$)")


@lru_cache(maxsize=2048)
def _named(s: str | None) -> bool:
    if not s:
        return False
    ws = [w for w in _tokens(s) if w.lower() not in _DETERMINERS]
    return any(w[:1].isupper() for w in ws) and not (len(ws) == 1 and ws[0].lower() in PRONOUNS)


_DOCUMENT_HEADS = {"statement", "letter", "post", "tweet", "message", "release", "note", "memo", "report", "email",
                   "filing", "complaint", "ruling", "order", "ad", "video", "clip", "website", "announcement"}


def _resolve(speaker: str, named: list[str]) -> str:
    """A pronoun or a generic reference → the nearest preceding named speaker it can refer to."""
    if _named(speaker) or not named:
        return speaker
    words = [w.lower() for w in _tokens(speaker) if w.lower() not in _DETERMINERS]
    if not words:
        return speaker
    head = words[-1]
    if head in PRONOUNS or head in _DOCUMENT_HEADS:
        return named[-1]  # "it added", "the statement read": whoever spoke last
    for n in reversed(named):
        if head in n.lower():
            return n  # "the ministry" → "the Veltrian Foreign Ministry"
    return speaker


_TITLE_WORD = re.compile(r"^(?:[A-Z0-9][\w’'.\-&!?:]*|of|the|a|an|and|in|on|for|to|at|with|from|by|or|is|&)$")


def _is_title_case(s: str) -> bool:
    """Every word capitalized but the small ones, up to seven words: `Sunday Ledger`, `12th`,
    `Rivertown 2: The Flood Returns!`."""
    ws = s.strip(" .,!?;:").split(maxsplit=7)  # an eighth item: more than seven words
    return 0 < len(ws) <= 7 and all(_TITLE_WORD.match(w.strip(",.!?;:")) for w in ws) and (ws[0][:1].isupper() or ws[0][:1].isdigit())


def _colon_intro(text: str, lo: int, o: int) -> str | None:
    """`He said:` ending the text just before the opening mark (same or previous paragraph)."""
    k = o - 1
    while k >= lo and text[k].isspace():
        k -= 1
    if k < lo or text[k] != ":":
        return None
    para_lo = text.rfind("\n", lo, k) + 1 or lo
    sent_lo = _sentence_start(text, max(lo, para_lo), k)
    ctx = text[sent_lo:k]
    return _before_attribution(ctx + " ") or _subject_fallback(ctx)


def find_quotes(text: str, start: int, end: int) -> list[Quote]:
    """Direct quotes inside text[start:end], in order of position."""
    out: list[Quote] = []
    named: list[str] = []
    prev: tuple[str | None, str | None, int] | None = None  # speaker, resolved, end of its paragraph
    marks = _mark_positions(text, start, end)
    if not marks:
        return out
    para_starts: dict[tuple[int, int], list[int]] = {}  # sentence-end candidates of each paragraph with quotes
    for o, c, _multi in _pairs(text, start, end, marks):
        qs, qe = _strip_span(text, o + 1, c)
        if qe - qs < 2:
            continue
        para_lo = max(start, text.rfind("\n", start, o) + 1)
        para_hi = text.find("\n", c, end)
        para_hi = end if para_hi < 0 else para_hi
        starts = para_starts.get((para_lo, para_hi))
        if starts is None:
            # A match starting past para_hi would end after o (the start's scan breaks there) and lie past the
            # end's scan: the paragraph's candidates are all the two scans need.
            starts = para_starts[para_lo, para_hi] = _sent_starts(text, para_lo, para_hi)
        sent_lo = _sentence_start(text, para_lo, o, starts)
        after_hi = _sentence_end(text, c + 1, para_hi, starts)
        k = bisect_right(marks, c)
        if k < len(marks) and marks[k] < after_hi:
            after_hi = marks[k]  # the next mark
        after = text[c + 1: after_hi]
        before = text[sent_lo:o]
        inner = text[qs:qe]
        n_words = inner.count(" ") + 1
        tail = after.lstrip(" \xa0\t")
        new_sentence = inner[-1:] in ".!?…" and (tail[:1].isupper() or not tail)
        starts_sentence = not before.strip()

        route = "tight"
        speaker = None
        verbs_before = () if starts_sentence else _verbs(before)
        verb_before = bool(verbs_before)
        tried_before = False  # _before_attribution(before) gave None already (it is a pure function)
        if verb_before and inner[-1:] not in ",?!":
            # `Dovrin said that he will “try …” and insisted …`: a partial quote belongs to the verb before
            # it; a clause after it is usually someone else's (`… “a fair judge” after the treasurer was …`)
            speaker, route = _before_attribution(before), "before"
            tried_before = speaker is None
        # `After Voss said that … at “…,” Marek said: “…”`: a clause after a partial quote that ends on a
        # colon introduces the next quote; the speaker of this one is before it, where a speech verb is
        # (without one, `Asked about it, “…,” the mayor said: “…”`, the clause after is the only speaker)
        intro_next = verb_before and after.rstrip(" \xa0\t").endswith(":")
        if speaker is None and not intro_next:
            route = "tight"
            speaker = _tight_after(after, new_sentence, starts_sentence)
            if speaker is None and inner[-1:] == ",":
                speaker = _comma_tail(after)
            if speaker is None and inner[-1:] in ",!?":
                m = _INVERTED_ANY.match(after)  # `“This is splendid!” beamed Oskar Lind`
                speaker = _np_after(after[m.end():]) if m else None
            if speaker is None and not new_sentence:
                speaker, route = _loose_after(after), "loose"
        if speaker is not None and speaker.lower() in PRONOUNS and not starts_sentence:
            # `Ferrante said she worried … because “…,” she said`: the named subject of the sentence
            subject = _named_subject_before(before)
            if subject is None and before.rstrip().endswith(":"):
                subject = _before_attribution(before)  # `Sen. Ann Lee scolded him: “…,” she said`
                subject = subject if _named(subject) else None
            speaker = subject or speaker
        if speaker is None:
            speaker, route = (None if tried_before else _before_attribution(before)), "before"
        if speaker is None and starts_sentence:
            speaker, route = _colon_intro(text, start, o), "colon"
        if speaker is None and not starts_sentence:
            speaker, route = _subject_fallback(before), "subject"
        resolved = None
        if speaker is None and prev is not None and prev[0] is not None and prev[2] == para_hi:
            speaker, resolved, route = prev[0], prev[1], "same_para"
        if speaker is None and starts_sentence and sent_lo > para_lo:
            speaker, route = _last_speaker(text[para_lo:sent_lo]), "last_speaker"
        if speaker is None and prev is not None and prev[0] is not None and not text[para_lo:o].strip() \
                and _adjacent(text, prev[2], o):
            speaker, resolved, route = prev[0], prev[1], "adjacent"
        if speaker is None and not text[para_lo:o].strip() and _QUOTE_PARA.match(text, o, para_hi):
            # a paragraph that is one quote, after a paragraph about someone: `Penhaligon praised …¶“We need …”`
            speaker, route = _previous_paragraph_speaker(text, start, para_lo), "prev_para"
        if speaker is not None and _not_a_speaker(speaker):
            speaker, resolved = None, None  # `According …`, `Based on …`: a sentence opener, not a name
        if speaker is None:
            route = "none"
        if n_words <= 2 and not (route in ("tight", "loose", "before", "colon") or verb_before
                                 or route == "subject" and _named(speaker)):
            continue  # a scare quote
        if _naming(before) or _is_title_case(inner) and (_TITLE_CONTEXT.search(before) or (
                not verb_before and (_WORK_BEFORE.search(before) or _WORK_AFTER.match(after)))):
            continue  # a title of a work, a show or a slogan: `a show called “…”`, `on Channel 9’s “Sunday Ledger”`,
            # `the reality show “…”`, `the “…” actress`, `his 1994 “…”`
        if n_words <= 2 and _NICKNAME.match(inner) and _NAME_END.search(before) and _NAME_NEXT.match(after):
            continue  # a nickname inside a name: `Sen. R.J. “Dusty” Calloway`
        if n_words <= 4 and _DEFINED_AFTER.match(after) and not verb_before:
            continue  # a term being defined: `a “priority repair zone,” which is defined as …`
        if speaker is not None and resolved is None:
            resolved = _resolve(speaker, named)
            if _named(speaker):
                named.append(speaker)
        out.append(Quote(qs, qe, speaker, resolved, _SCORE[route, n_words <= 3]))
        prev = (speaker, resolved, para_hi)
    return out


_ROUTE_SCORE = {"tight": 0.95, "loose": 0.9, "before": 0.9, "colon": 0.9, "subject": 0.75, "same_para": 0.85,
                "last_speaker": 0.75, "adjacent": 0.8, "prev_para": 0.7, "none": 0.6}
# a quote's score: its route's, 0.2 less for three words or fewer, kept in [0.05, 1]
_SCORE = {(route, short): round(max(0.05, min(1.0, score - 0.2 if short else score)), 3)
          for route, score in _ROUTE_SCORE.items() for short in (False, True)}
_NAMING = re.compile(r"(?:\b(?:titled|entitled|dubbed|headlined|nicknamed|labeled|labelled|known as|billed as|"
                     r"branded)|\b(?:a|an|the|its|his|her|their)[\s\xa0]+(?:[\w-]+[\s\xa0]+)?(?:called|named))"
                     r"[\s\xa0]*[,:]?[\s\xa0]*$")
_NAMING_WORDS = ("titled", "dubbed", "headlined", "nicknamed", "labeled", "labelled", "known as", "billed as", "branded",
                 "called", "named")  # every _NAMING match ends in one ("entitled" in "titled")


def _naming(before: str) -> bool:
    """_NAMING.search(before), without its scan of every position when before does not end in one of its
    words (every match does, but for spaces and a comma or colon)."""
    tail = before.rstrip()
    if tail[-1:] in (",", ":"):
        tail = tail[:-1].rstrip()
    return tail.endswith(_NAMING_WORDS) and _NAMING.search(before) is not None


_TITLE_CONTEXT = re.compile(r"(?:[’']s|\b(?:on|of|in|at|from|to|for|with|by|read|watch|watched|see|saw|its|his|her|"
                            r"their|our|my|your)(?:[\s\xa0]+\d{4})?|^[\s\xa0]*(?:On|In))[\s\xa0]*$")
# Kinds of works and of the things a title or slogan is printed on: a title-case quote next to one is a name.
_WORKS = ("show|shows|program|programme|podcast|series|sitcom|movie|movies|film|films|documentary|thriller|drama|"
          "comedy|play|musical|memoir|book|novel|album|song|songs|anthem|hit|classic|magazine|column|episode|reboot|"
          "sequel|biopic|special|segment|star|stars|actress|actor|host|co-host|theme|nickname|pseudonym|tour|bag|"
          "shirt|shirts|t-shirt|t-shirts|hat|hats|sign|signs|button|buttons|sticker|stickers|poster|banner|summit|"
          "rally|reception|brunch|party|festival|conference|forum|letter|letters")
_WORK_BEFORE = re.compile(r"\b(?:" + _WORKS + r")[\s\xa0]*,?[\s\xa0]*$", re.I)
_WORK_AFTER = re.compile(r"[\s\xa0,]*(?:" + _WORKS + r")\b")
_NICKNAME = re.compile(r"[A-Z][\w’'-]*(?:[\s\xa0]+[A-Z][\w’'-]*)?$")
_NAME_END = re.compile(r"(?:^|[\s\xa0])(?:[A-Z][\w’'-]*\.?|(?:[A-Z]\.)+)[\s\xa0]*$")
# the surname after the nickname; a headline's capitalized small word (`Stayed “Hopeful” As A Rookie`) is not one
_NAME_NEXT = re.compile(r"[\s\xa0]+(?!(?:As|To|In|Of|On|At|For|And|Or|The|A|An|By|With|From|Is|Are)\b)[A-Z][^\W\d_]")
_DEFINED_AFTER = re.compile(
    r"[\s\xa0]*,?[\s\xa0]*(?:(?:which|that)[\s\xa0]+(?:(?:is|are|was|were)[\s\xa0]+(?:defined|known|meant|used|understood)|"
    r"means|refers)\b|meaning\b|\((?:the|a|an|or|i\.e\.|meaning)\b|the[\s\xa0]+(?:notion|idea|term|concept|practice|"
    r"belief|theory|name)\b)")


_QUOTED = re.compile(r'["“][^"“”]*["”]')


def _last_speaker(ctx: str) -> str | None:
    """The subject of the last speech verb in ctx (earlier sentences of the paragraph)."""
    ctx = _QUOTED.sub(" ; ", ctx)
    for v in reversed(list(_VERB.finditer(ctx))):
        if v.group() in _WEAK_VERBS:
            continue
        lo = max(0, max(ctx.rfind(". ", 0, v.start()), ctx.rfind("\n", 0, v.start())) + 1)
        if v.group().endswith("ing"):
            continue
        sp = _subject_before(ctx[lo: v.start()])
        if sp:
            return sp
        sp = _np_after(ctx[v.end():])
        if sp and sp[:1].isupper():
            return sp
    return None


_INVERTED_ANY = re.compile(r"[\s\xa0]*,?[\s\xa0]*[a-z]{3,}ed[\s\xa0]+(?=[A-Z])")
# a paragraph that is nothing but a quote (and perhaps trailing space)
_QUOTE_PARA = re.compile(r"[“\"][^\n]*[”\"][\s\xa0\u200b]*$")


def _previous_paragraph_speaker(text: str, lo: int, para_lo: int) -> str | None:
    """Who the paragraph before para_lo is about: the subject of its last speech verb, else the named
    subject of its first sentence."""
    k = para_lo - 1
    while k > lo and text[k].isspace():
        k -= 1
    if k <= lo:
        return None
    p_lo = max(lo, text.rfind("\n", lo, k) + 1)
    prev = text[p_lo: k + 1]
    if prev.lstrip()[:1] in OPENERS + STRAIGHT + CLOSERS:
        return None  # the previous paragraph is itself a quote without a speaker
    sp = _last_speaker(prev)
    if sp and _named(sp):
        return sp
    sp = _sentence_subject(prev[: _sentence_end(prev, 0, len(prev))])
    return sp if sp and _named(sp) else None


def _adjacent(text: str, prev_para_end: int, o: int) -> bool:
    """Whether the quote opening at o is in the paragraph of the previous quote or the one after it."""
    gap = text[prev_para_end:o]
    if "\n" not in gap:
        return True
    lines = gap.split("\n")
    return not any(ln.strip() for ln in lines[1:-1])
