"""How likely a comment is spam: `spam_probability(text, author)` in [0, 1]; ≥ 0.5 types it `spam`.

Two parts, added as log-odds:
  - a logistic regression over the character 4-grams of the comment with its disguises undone and
    links, amounts and digits replaced by placeholders (spam_features.analyze), trained on real
    YouTube comments by scripts/train_spam.py and loaded once, read-only, from models/spam_ngram.json;
  - fixed rules (spam_rules.py) for what that data has too little of to learn: money offers ($97
    per hour, earned $11752 in four weeks), words spelled with separators (Goo-g-le, p-e-r), letters
    strewn among symbols (♥♥p♥♥♥c♥), an author name that is an ad, and whether the comment gives
    the reader anything to act on at all (a link, "subscribe", "check out my ...").

Pure and fast: the 4-grams of a comment of 40+ characters are looked up all at once with numpy
(their exact integer keys, spam_features.gram_key, in one sorted table of the model's and the
phrase lists' 4-grams, spam_features.GramTable), a short one's in a dict; compiled patterns behind
cheap tests; no I/O after import. Weights are summed as whole numbers (they are stored to 4
decimals; here in units of 1e-4), which is exact, so both ways give the same score, and it does not
depend on the order of a set of strings.
"""

from __future__ import annotations

import json
import math
import re
from itertools import repeat
from pathlib import Path

import numpy as np

from builder.segment.spam_features import NGRAM, analyze, gram_table, lookup
from builder.segment.spam_rules import rule_logit

MODEL_FILE = Path(__file__).resolve().parent / "models" / "spam_ngram.json"

__all__ = ["spam_probability", "spam_logit", "ngram_logit", "rule_logit", "MODEL_INFO"]


def _load(path: Path) -> tuple[float, dict[str, float], dict]:
    model = json.loads(path.read_text(encoding="utf-8"))
    weights = model.pop("weights")
    if model.get("ngram") != NGRAM or not isinstance(weights, dict):
        raise RuntimeError(f"{path}: a model for {model.get('ngram')}-grams; the featurizer makes {NGRAM}-grams. "
                           "Retrain with scripts/train_spam.py")
    return float(model["bias"]), weights, model


_BIAS, _WEIGHTS, MODEL_INFO = _load(MODEL_FILE)
_UNIT = 10_000  # the model's weights have 4 decimals
# The weights as integers, by 4-gram string and, for numpy, by gram_key in the table analyze looks
# a long comment's 4-grams up in (with the phrase starts, in the same search).
_TABLE = gram_table({g: round(w * _UNIT) for g, w in _WEIGHTS.items()})


def _logit(total: int, n: int) -> float:
    return _BIAS + total / _UNIT / math.sqrt(n) if n else _BIAS


def ngram_logit(grams: frozenset[str] | np.ndarray) -> float:
    """The n-gram model's log-odds: bias + the weights of the distinct 4-grams / sqrt(their number);
    grams as analyze gives them (strings, or their sorted keys)."""
    if isinstance(grams, frozenset):
        return _logit(sum(map(_TABLE.weights.get, grams, repeat(0))), len(grams))
    return _logit(lookup(grams, _TABLE)[0], len(grams))


_HEADER_MAX = 160  # a header line is short; a long first line naming the author is the body
# A line of comment metadata: a date or time, "says:", "Reply", a vote count.
_META_LINE = re.compile(
    r"(?i)^[\s•*#|—–-]*(?:\d+\s*)?(?:(?:on\s)?(?:\w+\s)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\.?\s\d|"
    r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d\d-\d\d|\d{1,2}:\d\d|(?:says|said|wrote)\s*:?\s*$|reply\s*$)"
)


def _body(text: str, author: str | None) -> str:
    """The comment without its header: a layout may hand over the `• NAME` line, the date line or
    `NAME says:` with the body. The model was trained on bodies alone; a header is no evidence, and a
    commenter's home-page link in it would count as a link drop."""
    if not author:
        return text
    name = author.strip().casefold()
    lines = text.lstrip().split("\n", 4)
    drop = 0
    for line in lines[:-1]:
        if not line.strip():
            drop += 1
            continue
        if len(line) <= _HEADER_MAX and (name in line.casefold() or _META_LINE.match(line)):
            drop += 1
            continue
        break
    return "\n".join(lines[drop:]) if drop else text


def spam_logit(text: str, author: str | None) -> float:
    a = analyze(_body(text, author), author, _TABLE)
    return _logit(a.weight, len(a.grams)) + rule_logit(a.signals)


def spam_probability(text: str, author: str | None) -> float:
    """Probability that a comment is spam, from its raw body (whitespace as on the page) and its
    author as the page shows it (None when it shows none)."""
    z = spam_logit(text, author)
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
