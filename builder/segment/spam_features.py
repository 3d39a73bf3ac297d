"""Comment text → what the spam scorer looks at. Shared by the scorer (spam.py) and its training
script (scripts/train_spam.py), so the model is always fed exactly what it was trained on.

`analyze(text, author)` gives, in one pass:
  norm     the text with the spammer's disguises undone (`Goo-g-le` → `google`, ♥-interleaved
           letters dropped) and what varies from one spam to the next replaced by one placeholder
           character each (links, e-mail addresses, money amounts; digits → 0), lowercased, spaces
           collapsed, padded with one space each side
  grams    the distinct character 4-grams of norm: the n-gram model's input (presence, not counts),
           as a frozenset of strings for a short text, and for one of KEYS_FROM+ characters as their
           sorted integer keys (gram_keys: uint32 of the bytes of ASCII text, else uint64 of the
           UTF-16 code units), which numpy makes at a third of the cost; the same set either way
  signals  counts of the tell-tale patterns the YouTube training data has too few of to learn
           (money offers, obfuscated words, symbol noise, an author name that is an ad) and of
           "hooks", things a spam comment wants the reader to act on
  weight   with a GramTable (spam.py passes the model's): the sum of its weights over grams, found
           in the same numpy search as the phrase marks

Speed matters (the segmenter must do ≥ 1,000 pages/s per core): every costly pattern runs only
after a cheap test shows it can match, and keyword lists are checked against the 4-gram set first.
Pure functions over compiled patterns; no I/O, no state.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import repeat
from typing import NamedTuple

import numpy as np
import regex

# Placeholders: private-use characters, so no real text produces them, and each is one character
# of an n-gram.
URL = "\ue000"
MONEY = "\ue001"
NOISE = "\ue002"
EMAIL = "\ue003"

NGRAM = 4  # one order only: 2–5-grams together gained 0.1 and 0.9 F1 points across videos, at 4x the cost

_TLDS = r"(?:com|net|org|info|biz|ly|co|io|me|tk|us|uk|ru|de|tv|gl|gd|to|cc|xyz|online|site|club|shop|store|top)"
# Cheap test first: a scheme, www, or a dot followed by a TLD or by a short name and a path.
_LINK_HINT = re.compile(rf"\.(?:{_TLDS}\b|[a-z]{{2,3}}/)|https?:|www\.")
# Whether to look for hints at all: "http" in s, "www." in s, or the dot alternative alone, whose
# leading "." the regex engine scans for quickly (half the cost of the three-way pattern).
_DOT_HINT = re.compile(rf"\.(?:{_TLDS}\b|[a-z]{{2,3}}/)")
# Then the whitespace-delimited word around each hint is a link if it is one of these.
_LINK = re.compile(
    r"(?:https?://|www\.)\S+"  # an explicit link
    rf"|[\w-]+(?:\.[\w-]+)*\.{_TLDS}(?:[/:?#]\S*)?"  # a bare domain, bit.ly/x
    r"|[\w-]+(?:\.[\w-]+)*\.[a-z]{2,3}/\S*"  # any domain followed by a path
)
# Words that introduce a cited source.
_CITE = re.compile(
    r"\b(?:source|sources|according|report|study|studies|article|paper|data|evidence|thread|wiki\w*|see|read|"
    r"reading|posted|post|here is|here's|right there|details|explained|explains|covered|published|link to|linked|"
    r"e\.g|i\.e|cf|via|refer to|more on)\b"
)
_OWN = re.compile(r"\b(?:my|our|me|us)\b")
# A referral id in a link's query (?ref=4604617, &r=…, ?aff_id=…) or path (/ref/name): each visit
# pays whoever posted it. Not a shop's own tracking in the path (amazon's /ref=sr_1_1). Also a
# link wrapped in a redirect (…/url?…&url=http…, ?u=https…), which hides where it goes from filters.
_REFERRAL = re.compile(r"[?&](?:ref|ref_id|refid|aff|aff_id|affid|affiliate|referral|referrer|r)=[^&#\s]|/ref/[^/\s]"
                       r"|[?&](?:url|u)=(?:https?|www)")
_LEAD, _TRAIL = "(<[\"'“‘", ".,;:!?)>]\"'”’"
_SCHEME = re.compile(r"^(?:https?://)?(?:www\.)?")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# _MONEY's cheap test (written out in analyze, as an `or` chain costs less than any() over a tuple):
# $ £ € dollar usd buck euro pound
_MONEY = re.compile(
    r"[$£€]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|million|thousand|grand)\b)?"
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:k\s)?(?:dollars|usd|bucks|euros?|pounds)\b"
)
# Letters interleaved with symbols (♥♥p♥♥♥c♥j♥♥b…): at least five symbol-separated single letters.
# Dashes and punctuation are not symbols here: "d-d-d-drop" is a stutter, "u.s.a." a name.
_NOISY = r"[^\p{L}\p{N}\s\p{Pd}.,;:'’\"!?()]"
_SYMBOL = re.compile(r"[^\w\s.,;:'’\"!?()\-–—“”‘…]")  # the cheap test: any symbol at all
_NOISE_HINT = regex.compile(rf"{_NOISY}\p{{L}}{_NOISY}+\p{{L}}{_NOISY}")
_NOISE = regex.compile(rf"(?:{_NOISY}+\p{{L}}){{5,}}{_NOISY}*")
# Cheaper still, and first: the hint's shape with classes that hold every noisy character and every
# letter, told apart by ASCII alone (no Unicode tables): a noisy one is never an ASCII letter, digit,
# space or the punctuation above, a letter never another ASCII character. What the hint matches,
# this matches; ordinary text does not (tests/test_spam.py checks both classes over all of Unicode).
_NOISE_ANY = r"[^a-zA-Z0-9 .,;:'’\"!?()\-]"
_LETTER_ANY = r"[^\x00-\x40\x5b-\x60\x7b-\x7f]"
_NOISE_SHAPE = re.compile(f"{_NOISE_ANY}{_LETTER_ANY}{_NOISE_ANY}+{_LETTER_ANY}{_NOISE_ANY}")
# A word spelled with hyphens inside it where some piece is one letter: goo-g-le, p-e-r, w-i-th.
# Ordinary hyphenated words (well-known, de-facto) have no one-letter piece.
_SPLIT_WORD = re.compile(r"(?<![\w-])[^\W\d_]+(?:-[^\W\d_]+)+(?![\w-])")
_SEP = re.compile(r"-")
# The cheap test first: a disguise has a one-letter piece, so a hyphen with a lone letter before it
# (a word boundary before the letter) or after it (a boundary after). Led by the literal "-", which
# the engine scans for quickly; most hyphens (well-known, " - ") fail it.
_ONE_LETTER_PIECE = re.compile(r"-(?:(?<=\b[^\W\d_]-)|[^\W\d_]\b)")
_LEGIT_SPLIT = frozenset("e-mail e-mails t-shirt t-shirts x-ray x-rays u-turn a-list b-list e-book e-books "
                         "e-commerce u-s u-k u-n e-u a-ha uh-oh".split())
_DIGITS = re.compile("[1-9]")
_DIGITS_ASCII = bytes.maketrans(b"123456789", b"000000000")  # the same for ASCII text, at half the cost

# Earnings claims. A rate ($97 per hour), a brag or a promise (earned $11752, you can make $500),
# or a sum over a short period ($11752 in four weeks). "The company made $2 billion" matches too;
# alone it is weak evidence (spam_rules), strong only with an offer or disguised words.
_RATE = r"(?:per|an|a|/|every|each)\s?(?:hour|hr|day|week|wk|month|mo)\b"
_EARN = (r"(?:earned|made|received|cashed\s?out|got\s?paid|was\s?paid|am\s?making|i\s?make|i\s?earn|"
         r"(?:i|we)\s(?:just\s)?got|pay\s?check\sof|"
         r"you\s(?:can|could|will)\s(?:\w+\s)?(?:earn|make|get)|start\s(?:earning|making)|(?:earn|make)\s(?:up\s)?to)")
_SPAN = r"[^.!?\n]{0,40}?"
_PERIOD = r"(?:hours?|days?|weeks?|months?)"
_EARNINGS = re.compile(
    rf"{MONEY}\s?{_RATE}"  # $97 per hour
    rf"|\b{_EARN}\s(?:\S+\s){{0,3}}?{MONEY}"  # earned $11752 / you can make over $5000
    rf"|{MONEY}{_SPAN}\b(?:in|within|over|for|this|the)\s(?:the\s)?(?:last\s|past\s|first\s)?(?:\w+\s){{0,2}}{_PERIOD}"
    rf"|{MONEY}\s(?:a|an|per|every)\s(?:\w+\s)?{_PERIOD}"
)


def _keys(phrases: str) -> tuple[str, ...]:
    """Phrases, one a line, as they read after normalization. One listed twice counts twice."""
    out = tuple(p.strip() for p in phrases.strip().splitlines())
    assert all(len(p) >= NGRAM for p in out), out
    return out


# What a spam comment cannot do without: something for the reader to act on. A comment with none
# of these is judged ham unless the n-gram model is very sure; this is what keeps ordinary long
# news comments, unlike anything in the YouTube training data, from drifting to spam.
_HOOKS = _keys("""
    check out my
    check out our
    check out this
    check out these
    check out the link
    check out \ue000
    check it out
    check this out
    check them out
    check 'em
    check my
    check this link
    check me out
    check us out
    checked out my
    checked out some of my
    come check
    plz check
    pls check
    check out mah
    subscribe to my
    subscribe to me
    subscribe to our
    subscribe my
    subscribe me
    subscribe and
    and subscribe
    please subscribe
    subscribe!
    subscribe plz
    subscribe pls
    subscribe please
    subscribe like
    subscribe thx
    subscribe thanks
    subscribe back
    plz subscribe
    pls subscribe
    you subscribed
    some subs
    on youtube
    youtube/
    on itunes
    search "
    hit me up
    look me up
    look my name up
    look her name up
    look his name up
    subscribers
    sucscri
    sub to my
    sub to me
    sub me
    sub 0 sub
    sub0sub
    subs back
    my channel
    our channel
    youtube channel
    this channel
    follow me
    follow my
    follow us
    follow back
    follow 0 follow
    follow for follow
    like 0 like
    like for like
    gift card
    giftcard
    paypal
    pay pal
    like my
    like our
    visit my
    visit our
    see my
    watch my
    view my
    hear me rap
    hear me sing
    listen to my
    search my
    google my
    add me
    share my
    try my
    my video
    my vid
    my page
    my blog
    my music
    my song
    my mixtape
    my profile
    my account
    my instagram
    my twitter
    my facebook
    my site
    my website
    my playlist
    my stuff
    my rap
    my cover
    my app
    my track
    my album
    my band
    my shop
    my store
    my new video
    my new song
    my new channel
    my new music
    click here
    click this
    click on
    click the
    giveaway
    whatsapp
    watsapp
    contact me
    message me
    inbox me
    email me
    e-mail me
    text me
    please help
    please like
    please share
    please vote
    please support
    please visit
    please watch
    please check
    please listen
    please view
    please donate
    please join
    please come
    please subscribe
    please follow
    thumbs up if
    vote for
    vote daily
    earn money
    earn cash
    earn real
    earn extra
    free money
    free cash
    free gift
    free iphone
    free followers
    free likes
    free views
    new youtuber
    small youtuber
    email us
    contact us
    contact him
    contact her
    call us
    text us
    we offer
    need a loan
    need of a loan
    loan offer
    promo code
    discount code
    use code
    coupon code
    telegram
    dm me
    call now
    order now
    buy now
    shop now
    limited offer
    limited time offer
    free trial
    download now
    install now
    you have won
    you won a
    claim your
    new artist
    new rapper
    gaming channel
    made a channel
    started a channel
    a cover of
    did a cover
    some covers
    because i rap
    i'm a rapper
    i am a rapper
    please look up
    just look up
    take 0 second
    take a second to
    take a minute to
    buy here
    download here
    get it here
    delete spaces
    delete the spaces
    remove spaces
    remove the spaces
    without spaces
    without the spaces
""")
# A call to act on an offer: with an earnings claim, the classic work-from-home spam.
_OFFERS = _keys("""
    you can also
    you can do
    you can get
    you can earn
    you can make
    you can start
    you can try
    you can avail
    you can join
    check it
    click here
    visit my
    visit this
    go to this
    go to my
    sign up
    apply now
    apply here
    join now
    join us
    work from home
    working from home
    work at home
    home based
    home-based
    online job
    online work
    online business
    no experience
    weekly payout
    full info
    more info
    this site
    this link
    this website
    started this job
    this job
    my boss
    paycheck
    pay check
""")
# Self-promotion: with a link it is a link drop for one's own channel or page.
_PROMOS = _keys("""
    check out my
    check my
    subscribe
    sub to me
    sub me
    my channel
    my video
    my page
    my blog
    my site
    my website
    my music
    my song
    my mixtape
    follow me
    like my
    please check
    please visit
    please watch
    please like
    please share
""")


_LISTS = (_HOOKS, _OFFERS, _PROMOS)
_PHRASES = sorted(frozenset().union(*_LISTS))
# The 4-grams that begin or end a phrase ("marks"): the comment's 4-grams find the few phrases worth
# looking for, those whose first and last 4-grams it has both (under 1 a comment; the first alone:
# 11), and one search per phrase counts it for every list.
_MARKS = frozenset(p[:NGRAM] for p in _PHRASES) | frozenset(p[-NGRAM:] for p in _PHRASES)

# An author name that is an ad: an offer or a product rather than a person. One word of the first
# kind is enough; the second kind also appears in names (Rich, Sale, Free), so it takes two.
_AD_AUTHOR_STRONG = re.compile(
    r"\b(?:viagra|cialis|casino|seo|loans?|payday|escorts?|bitcoin|crypto|forex|replica|backlinks?|hookup|"
    r"weight\s?loss|work\s?from\s?home|followers|essays?|pharmacy|pills)\b",
    re.IGNORECASE,
)
# A home page in the name field is common for bloggers (`Ines Lindqvist http://…`, `Mirela @ MirelaBakes.net`):
# not an ad, and not a hook by itself.
_AUTHOR_LINK = re.compile(r"https?://|www\.|\.(?:com|net|org|info|biz|co\.uk)\b", re.IGNORECASE)
_AD_AUTHOR_WEAK = re.compile(
    r"\b(?:buy|cheap|free|earn|money|cash|likes|deals?|discount|promo|coupons?|jobs?|online|invest\w*|insurance|"
    r"dating|diet|income|profit|rich|bonus|offers?|sale|shop|store|marketing|traffic|download|hack|generator|best)\b",
    re.IGNORECASE,
)
# Case-insensitive patterns are tried at every position of a name (~4 us for "Maya Tanaka", most names being new to
# _author's cache), so an ASCII name, the usual kind, gets a cheap test first. A match of either ad pattern is whole
# words (\b…\b; an ASCII name's \w is [A-Za-z0-9_]): one of these runs of the lowercased name (a two- or three-word
# one begins with one, invest\w* with "invest"), so a name with none of them skips both patterns. A home page needs a
# '.' or a ':'. tests/test_spam.py holds each test to its pattern.
_AD_STRONG_RUNS = frozenset(b"viagra cialis casino seo loan loans payday escort escorts bitcoin crypto forex replica "
                            b"backlink backlinks hookup weight weightloss work workfrom workfromhome followers essay "
                            b"essays pharmacy pills".split())
_AD_WEAK_RUNS = frozenset(b"buy cheap free earn money cash likes deal deals discount promo coupon coupons job jobs "
                          b"online insurance dating diet income profit rich bonus offer offers sale shop store "
                          b"marketing traffic download hack generator best".split())  # and invest\w*
_RUNS = bytes(c if chr(c).isalnum() and c < 128 or c == 95 else 32 for c in range(256))  # word bytes kept, others a space


class Signals(NamedTuple):
    """Counts of the tell-tale patterns in one comment."""

    links: int  # links, bare domains and e-mail addresses
    earnings: int  # earnings claims: $97 per hour, earned $11752 in four weeks
    offers: int  # calls to act on an offer: you can get this, check it, work from home
    promos: int  # self-promotion: check out my channel, subscribe
    obfuscated: int  # words with hyphens inside and a one-letter piece: goo-g-le, p-e-r
    noise: int  # runs of symbol-interleaved letters
    ad_author: bool
    hooks: int  # things for the reader to act on: links, "check out my", "subscribe", ...
    chars: int  # length of the normalized text
    author_link: bool  # a home page in the author field
    referrals: int = 0  # links with a referral id (?ref=…, /ref/…), paying the poster, or wrapped in a redirect


class Analysis(NamedTuple):
    norm: str
    grams: frozenset[str] | np.ndarray  # distinct 4-grams: strings, or their sorted keys (gram_keys)
    signals: Signals
    weight: int = 0  # the sum of the table's weights over grams (analyze's table argument)


_BRACKETED_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\]")


def _is_citation(s: str, a: int, word: str) -> bool:
    """Whether the link at s[a:] cites a source rather than drops a link: it is in brackets (also
    how some sites print a link's domain), or the words just before it name a source."""
    if word[:1] in "([" or word[-1:] in ")]":
        return True
    # a forum printing a posted link's domain after it, "http://x.org/a/b [x.org]": a page's
    # rendering of a reference, which no one types
    after = a + len(word)
    if s.startswith(" [", after) and _BRACKETED_DOMAIN.match(s, after + 2):
        return True
    before = s[max(0, a - 40) : a]
    cut = max(before.rfind(". "), before.rfind("! "), before.rfind("? "))
    m = _CITE.search(before[cut + 1 :])
    # "see my new video:" promotes; "see the report:" cites
    return bool(m) and not _OWN.search(before[cut + 1 + m.end() :])


def _links(s: str) -> tuple[str, int, int, int]:
    """s (single-spaced) with each link replaced by the placeholder and the link without its
    scheme (host and path words tell a video share (youtu.be/…) from a referral (?ref=) or a
    shop); how many links, how many of them cite a source, how many carry a referral id."""
    out, pos, n, cites, refs = [], 0, 0, 0, 0
    for m in _LINK_HINT.finditer(s):
        if m.start() < pos:
            continue  # inside the word just replaced
        # a scheme or www starts the link even when glued to a word ("you!https://…")
        a = m.start() if m.group()[0] != "." else s.rfind(" ", 0, m.start()) + 1
        b = s.find(" ", m.end())
        b = len(s) if b < 0 else b
        word = s[a:b]
        core = word.lstrip(_LEAD).rstrip(_TRAIL)
        if _LINK.fullmatch(core):
            lead = len(word) - len(word.lstrip(_LEAD))
            out += [s[pos : a + lead], f" {URL}{_SCHEME.sub('', core)} "]
            pos = a + lead + len(core)
            n += 1
            cites += _is_citation(s, a, word)
            if ("?" in core or "&" in core or "/ref/" in core) and _REFERRAL.search(core):  # the cheap test first
                refs += 1
    return ("".join(out) + s[pos:], n, cites, refs) if n else (s, 0, 0, 0)


def _unsplit(word: str) -> str | None:
    """The word without its hyphens if it is a disguise, else None."""
    pieces = _SEP.split(word)
    if min(map(len, pieces)) > 1 or "-".join(pieces) in _LEGIT_SPLIT:
        return None
    return "".join(pieces)


def _unsplit_all(s: str) -> tuple[str, int]:
    """s (single-spaced) with disguised words joined, and how many there were. Only the words
    around a hyphen are looked at; most comments have none or a few."""
    out, pos, n = [], 0, 0
    i = s.find("-")
    while i >= 0:
        a = s.rfind(" ", 0, i) + 1
        b = s.find(" ", i)
        b = len(s) if b < 0 else b
        for m in _SPLIT_WORD.finditer(s, a, b):
            joined = _unsplit(m.group())
            if joined is not None:
                out += [s[pos : m.start()], joined]
                pos = m.end()
                n += 1
        i = s.find("-", b)
    return ("".join(out) + s[pos:], n) if n else (s, 0)


# Slices for the 4-grams of texts up to this long, made once; longer texts make their own.
_SLICES = [slice(i, i + NGRAM) for i in range(20_000)]


def ngrams(norm: str) -> frozenset[str]:
    n = len(norm) - NGRAM + 1
    if n <= len(_SLICES):
        return frozenset(map(norm.__getitem__, _SLICES[: max(n, 0)]))
    return frozenset(norm[i : i + NGRAM] for i in range(n))


# From this length on, numpy lists and looks up the 4-grams faster than a frozenset of slices and a
# dict (its fixed cost is ~8 µs; measured break-even ~40 characters).
KEYS_FROM = 40
_KEY_DTYPE = np.dtype("<u8")
_ASCII_KEY_DTYPE = np.dtype("<u4")


def gram_key(gram: str) -> int:
    """A 4-gram of BMP characters as one integer: its four UTF-16 code units, little-endian. Exact
    (no hashing), so a key stands for exactly one 4-gram."""
    return int.from_bytes(gram.encode("utf-16-le", "surrogatepass"), "little")


def ascii_key(gram: str) -> int:
    """A 4-gram of ASCII characters as a 32-bit integer: its four bytes, little-endian. Among ASCII
    4-grams, ordered as gram_key orders them; half the width, so sorting and searching cost less."""
    return int.from_bytes(gram.encode("ascii"), "little")


def gram_keys(norm: str) -> np.ndarray | None:
    """The distinct 4-grams of norm as sorted keys: uint32 (ascii_key) when norm is ASCII, as most
    comments are, else uint64 (gram_key); None when norm has a character outside the BMP (an
    emoji), whose UTF-16 form is two units."""
    n = len(norm) - NGRAM + 1
    if norm.isascii():
        b, dtype, step = norm.encode("ascii"), _ASCII_KEY_DTYPE, 1
    else:
        b, dtype, step = norm.encode("utf-16-le", "surrogatepass"), _KEY_DTYPE, 2
        if len(b) != 2 * len(norm):
            return None
    if n <= 0:
        return np.empty(0, dtype)
    # 4 or 8 bytes starting at every code unit: each window of four read as one integer
    k = np.ndarray((n,), dtype, b, 0, (step,)).copy()
    k.sort()
    first = np.empty(n, np.bool_)
    first[0] = True
    np.not_equal(k[1:], k[:-1], out=first[1:])
    return k[first]


def distinct_grams(norm: str) -> frozenset[str] | np.ndarray:
    """norm's distinct 4-grams in the cheaper form for its length (see Analysis.grams)."""
    if len(norm) >= KEYS_FROM:
        keys = gram_keys(norm)
        if keys is not None:
            return keys
    return ngrams(norm)


_MARK_LIST = sorted(_MARKS, key=gram_key)
_MARK = {g: i for i, g in enumerate(_MARK_LIST, 1)}  # a mark's id; 0 is none


def _by_first() -> list[tuple[tuple[str, int, tuple[int, ...]], ...]]:
    """By mark id: the phrases that begin with that mark, each with its last mark's id and how many
    times each of _LISTS has it."""
    out: list[list] = [[] for _ in range(len(_MARK_LIST) + 1)]
    for phrase in _PHRASES:
        out[_MARK[phrase[:NGRAM]]].append((phrase, _MARK[phrase[-NGRAM:]], tuple(x.count(phrase) for x in _LISTS)))
    return [tuple(v) for v in out]


_BY_FIRST = _by_first()


class GramTable(NamedTuple):
    """What a comment's 4-grams are looked up for, all in one numpy search: the n-gram model's weight
    of each (integers, in the units spam.py gives them) and whether it begins or ends a phrase of the
    lists (a mark).
    The bounds are every listed key k and k + 1, sorted: searchsorted(side="right") puts a listed key
    in an interval of its own and any other key in one whose values are 0, so no equality test is
    needed. The weights are whole numbers stored as float64 so that a dot product sums them; every
    partial sum is a whole number below 2**53, so it is exact in any order."""

    bounds: np.ndarray  # sorted uint64 (gram_key)
    weight: np.ndarray  # float64 per interval (len(bounds) + 1)
    mark: np.ndarray  # int16 per interval: the key's mark id (_MARK), 0 for none
    weights: dict[str, int]  # the same weights by 4-gram string, for a short text's frozenset
    ascii: tuple[np.ndarray, np.ndarray, np.ndarray]  # bounds (uint32, ascii_key), weight, mark of the ASCII 4-grams


def _keys_of(grams: list[str], dtype: np.dtype) -> np.ndarray:
    """gram_key (uint64) or ascii_key (uint32) of each 4-gram, all at once: one encoding of them all."""
    text = "".join(grams)
    b = text.encode("ascii") if dtype == _ASCII_KEY_DTYPE else text.encode("utf-16-le", "surrogatepass")
    if len(b) != dtype.itemsize * len(grams):
        raise ValueError("a 4-gram that is not four characters of the Basic Multilingual Plane")
    return np.frombuffer(b, dtype).astype(dtype.newbyteorder("="))


def _intervals(grams: list[str], values: list[int], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bounds, weight and mark arrays (read-only: every call shares them) for the weights of grams
    (values) and the marks among grams of that key width."""
    marks = [g for g in _MARK if dtype == _KEY_DTYPE or g.isascii()]
    keys, mark_keys = _keys_of(grams, dtype), _keys_of(marks, dtype)
    every = np.concatenate([keys, mark_keys])
    if len(every) and every.max() == np.iinfo(every.dtype).max:
        raise ValueError("a key without a successor")
    bounds = np.unique(np.concatenate([every, every + 1]))
    weight = np.zeros(len(bounds) + 1, np.float64)  # interval i + 1 is [bounds[i], bounds[i + 1])
    weight[bounds.searchsorted(keys) + 1] = values
    mark = np.zeros(len(bounds) + 1, np.int16)
    mark[bounds.searchsorted(mark_keys) + 1] = [_MARK[g] for g in marks]
    out = (bounds, weight, mark)
    for a in out:
        a.flags.writeable = False
    return out


def gram_table(weights: dict[str, int]) -> GramTable:
    """The lookup table for integer weights by 4-gram (strings of BMP characters)."""
    if sum(map(abs, weights.values())) >= 2**53:
        raise ValueError("weights too large to sum exactly in float64")
    narrow = [g for g in weights if g.isascii()]
    return GramTable(*_intervals(list(weights), list(weights.values()), _KEY_DTYPE), dict(weights),
                     _intervals(narrow, [weights[g] for g in narrow], _ASCII_KEY_DTYPE))


PHRASES = gram_table({})  # the marks alone (no model): what analyze looks up by default
_ONES = np.ones(20_000 - NGRAM + 1)  # a dot product with these sums; longer texts make their own


def lookup(keys: np.ndarray, table: GramTable) -> tuple[int, list[int]]:
    """The sum of table weights of the sorted distinct keys (as gram_keys gives them), and the mark
    ids among them."""
    bounds, weight, mark = table.ascii if keys.dtype == _ASCII_KEY_DTYPE else table[:3]
    i = bounds.searchsorted(keys, "right")
    w = weight.take(i)
    total = w.dot(_ONES[: len(w)] if len(w) <= len(_ONES) else np.ones(len(w)))
    s = mark.take(i)
    return int(total), s[s.nonzero()].tolist()


def _marks(keys: np.ndarray) -> list[str]:
    """The phrase-beginning and -ending 4-grams among the sorted gram keys."""
    return [_MARK_LIST[j - 1] for j in lookup(keys, PHRASES)[1]]


def _phrase_counts(ids: list[int], norm: str) -> tuple[int, int, int]:
    """How many phrases of _HOOKS, _OFFERS and _PROMOS norm has; ids: the mark ids of its 4-grams."""
    hooks = offers = promos = 0
    have = frozenset(ids)
    for i in ids:
        for phrase, last, (h, o, p) in _BY_FIRST[i]:
            if last in have and phrase in norm:
                hooks, offers, promos = hooks + h, offers + o, promos + p
    return hooks, offers, promos


_FANCY = re.compile("[\uff21-\uff3a\uff41-\uff5a\U0001d400-\U0001d7ff\u24b6-\u24e9\U0001f130-\U0001f189]")  # fullwidth, math, circled
_INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_DASHES = ("\u2010", "\u2011")  # hyphens that are not "-"


def analyze(text: str, author: str | None, table: GramTable = PHRASES) -> Analysis:
    """See the module's docstring; table: the model weights to sum over the 4-grams (Analysis.weight)."""
    s = text
    if not s.isascii() and _FANCY.search(s):
        # Fancy letters to plain ones: 𝓬𝓱𝓮𝓬𝓴 and ｃｈｅｃｋ are "check", a disguise. Only then:
        # NFKC on all text would also rewrite what ordinary pages use (…, ², ﬁ).
        s = unicodedata.normalize("NFKC", s)
    s = s.lower()
    if not s.isascii():
        for ch in _INVISIBLE:  # zero-width characters: page artifacts, or spam splitting words
            if ch in s:
                s = s.replace(ch, "")
        for ch in _DASHES:
            if ch in s:
                s = s.replace(ch, "-")
    s = " ".join(s.split())
    links = cites = referrals = 0
    if "http" in s or "www." in s or _DOT_HINT.search(s):  # as _LINK_HINT.search(s), or a false alarm
        s, links, cites, referrals = _links(s)
    if "@" in s:
        s, k = _EMAIL.subn(f" {EMAIL} ", s)
        links += k
    if "$" in s or "£" in s or "€" in s or "dollar" in s or "usd" in s or "buck" in s or "euro" in s or "pound" in s:
        s = _MONEY.sub(MONEY, s)
    noise = 0
    if _NOISE_SHAPE.search(s) and _SYMBOL.search(s) and _NOISE_HINT.search(s):
        s, noise = _NOISE.subn(f" {NOISE} ", s)
    obfuscated = 0
    if "-" in s and _ONE_LETTER_PIECE.search(s):
        s, obfuscated = _unsplit_all(s)
    if links or noise or "@" in text:
        s = " ".join(s.split())  # the placeholders brought spaces
    if s.isascii():
        norm = " " + s.encode("ascii").translate(_DIGITS_ASCII).decode("ascii") + " "
    else:
        norm = " " + _DIGITS.sub("0", s) + " "
    grams = distinct_grams(norm)
    # the model's weights, and the 4-grams that begin or end a phrase of some list (usually a few)
    if isinstance(grams, frozenset):
        weight = sum(map(table.weights.get, grams, repeat(0))) if table.weights else 0
        ids = list(map(_MARK.__getitem__, grams & _MARKS))
    else:
        weight, ids = lookup(grams, table)
    hooks, offers, promos = _phrase_counts(ids, norm)
    earnings = len(_EARNINGS.findall(norm)) if MONEY in norm else 0
    ad_author, author_link = _author(author) if author else (False, False)
    # positional, in Signals' order (keywords cost a third of the call)
    signals = Signals(links, earnings, offers, promos, obfuscated, noise, ad_author, links - cites + hooks,
                      len(norm), author_link, referrals)
    return Analysis(norm, grams, signals, weight)


@lru_cache(maxsize=4096)  # a page shows the same names many times
def _author(author: str) -> tuple[bool, bool]:
    """Whether an author name is an ad (Signals.ad_author), and whether it holds a home page."""
    link = ("." in author or ":" in author) and _AUTHOR_LINK.search(author) is not None
    if author.isascii():
        low = author.encode("ascii").lower()
        runs = low.translate(_RUNS).split()
        if _AD_STRONG_RUNS.isdisjoint(runs) and _AD_WEAK_RUNS.isdisjoint(runs) and b"invest" not in low:
            return False, link
    ad = bool(_AD_AUTHOR_STRONG.search(author)) or len(_AD_AUTHOR_WEAK.findall(author)) >= 2
    return ad, link
