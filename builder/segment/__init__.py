"""Raw document → records. `segment` is a pure function of the document (no I/O; its only global
state is read-only tables and models loaded at import, and small memo caches of pure functions,
which change no answer), so any engine can run it: the local worker
pool, Ray, or a notebook.

The work is split by concern, each module a pure function of the text:
  layout.py   where the title, the article and the comment section are; each comment's body span,
              author, depth and parent
  quotes.py   direct quotes inside a span, with their speakers
  spam.py     how likely a comment is spam
This module only assembles their answers into schema records.
"""

from __future__ import annotations

import re
from hashlib import blake2b as _blake2b

from builder.document import Document
from builder.schema import SCHEMA_VERSION  # the schema's names and version only: no pyarrow
from builder.segment.layout import parse_layout
from builder.segment.quotes import find_quotes
from builder.segment.spam import spam_probability

# changed whenever the records a document gives change (0.2.0: titles, nicknames and defined terms are
# not quotes, more speaker patterns, spam hooks for self-promotion and referral links; 0.3.0: a page
# ending on one short comment has it, lists and one-author listings are not threads, a colon clause
# after a partial quote introduces the next one; 0.3.1: a date in a link's path is no comment stamp)
SEGMENTER_VERSION = "0.3.1"
SPAM_THRESHOLD = 0.5

__all__ = ["SEGMENTER_VERSION", "segment", "segment_steps", "record_id", "collapse"]


def collapse(s: str) -> str:
    """Runs of whitespace → one space, ends stripped: how a record's `text` relates to its raw span.

    That is " ".join(s.split()), which makes a string of every word. Most texts need less: once
    their newlines are spaces, the space is their only whitespace character (every other one is
    unprintable: a control or a Unicode separator, so isprintable() says so), and a few passes of
    C code over the whole text give the same string (~30% less CPU on the bench corpus, where
    this runs over every character of every document). The rest take the split."""
    t = s.replace("\n", " ")
    if t.isprintable():
        return (_SPACES.sub(" ", t) if "  " in t else t).strip(" ")
    return " ".join(s.split())


_SPACES = re.compile("  +")


def record_id(doc_id: str, start: int, end: int, is_quote: bool) -> str:
    """Stable across runs and segmenter versions as long as the span is the same; a type change
    (comment → spam) keeps the id, so labels stay attached to it."""
    return _blake2b(f"{doc_id}\x1f{start}\x1f{end}\x1f{'q' if is_quote else 'b'}".encode(), digest_size=8).hexdigest()


def segment(doc: Document) -> list[dict]:
    """The records of one document, ordered by position, as dicts with every schema field."""
    steps = segment_steps(doc)
    while steps.records is None:  # not `for`: a StopIteration a step raises leaves here as it did (no None)
        next(steps)
    return steps.records


class segment_steps:
    """segment(doc) in three steps, one per `next()`: the layout; the spam scores of the comments; the
    quotes and the records (then `records` holds them and the iteration stops). A pure function
    still: each step runs what segment() runs, in the same order, on the same values.

    Why in steps: an engine may run each step over a whole batch of documents before the next step
    (builder.staged). The layout, spam and quote code run one after the other on every document
    evicts one another from the CPU's caches: each takes 7-12% less CPU run over a batch alone
    (128 bench documents at a time: 3.28 -> 2.97 s for the three over the 20 MB bench corpus). An
    iterator class, not a generator, so that an exception leaves a step as it was raised (a generator
    would turn a StopIteration into a RuntimeError); a StopIteration raised inside a step (a bug's) is
    told from the end by `records`, still None."""

    __slots__ = ("doc", "step", "layout", "scores", "records")

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.step = 0
        self.records: list[dict] | None = None

    def __iter__(self):
        return self

    def __next__(self) -> None:
        step = self.step
        if step == 0:
            self.layout = parse_layout(self.doc.text, has_title=self.doc.title is None)
        elif step == 1:
            # the comments' spam scores; and a doc_id that is no UTF-8 raises where segment() met it
            # first, making the first record's id: the article's, before any score, else the first
            # comment's, after its score (so a document's failure is the same either way)
            layout, text = self.layout, self.doc.text
            id_head = f"{self.doc.doc_id}\x1f"
            if layout.article is not None:
                id_head.encode()
            scores = self.scores = []
            for c in layout.comments:
                scores.append(spam_probability(text[c.start : c.end], c.author))
                if len(scores) == 1:
                    id_head.encode()
        elif step == 2:
            self.records = _records(self.doc, self.layout, self.scores)
            self.layout = self.scores = None  # what the records were made from: not kept past them
        else:
            raise StopIteration
        self.step = step + 1


def _records(doc: Document, layout, scores: list[float]) -> list[dict]:
    """The records of a document from its layout and its comments' spam scores (the quotes are found
    here, in the article and in each comment that is not spam)."""
    text = doc.text
    title = doc.title
    if title is None and layout.title is not None:
        title = collapse(text[layout.title[0] : layout.title[1]]) or None

    doc_id, url, domain, encoding = doc.doc_id, doc.url, doc.domain, doc.encoding
    # collapse() of each record's span, with its page-wide passes done once per page: the newlines made
    # spaces and the isprintable() test over the whole text, instead of over every span (the spans cover
    # the page about 1.4 times); a span of a page that fails the test takes collapse() itself
    flat = text.replace("\n", " ")
    printable = flat.isprintable()
    id_head = f"{doc_id}\x1f"  # record_id's input up to the offsets

    def make(kind: str, start: int, end: int, parent_id, depth, author, speaker, speaker_resolved, score) -> dict:
        # one dict display in the schema's field order (the document's fields as locals, not merged
        # from a dict per record: this runs for every record of the corpus); positional arguments: a
        # keyword call costs more. record_id and collapse, as their functions compute them
        if printable:
            t = flat[start:end]
            t = (_SPACES.sub(" ", t) if "  " in t else t).strip(" ")
        else:
            t = collapse(text[start:end])
        return {
            "record_id": _blake2b(f"{id_head}{start}\x1f{end}\x1f{'q' if kind == 'quote' else 'b'}".encode(),
                                  digest_size=8).hexdigest(),
            "doc_id": doc_id,
            "type": kind,
            "text": t,
            "char_start": start,
            "char_end": end,
            "parent_id": parent_id,
            "depth": depth,
            "position": 0,
            "author": author,
            "speaker": speaker,
            "speaker_resolved": speaker_resolved,
            "score": float(score),
            "title": title,
            "url": url,
            "domain": domain,
            "encoding": encoding,
            "origin": "segmenter",
            "segmenter_version": SEGMENTER_VERSION,
            "schema_version": SCHEMA_VERSION,
        }

    records: list[dict] = []
    containers: list[dict] = []
    if layout.article is not None:
        art = make("article", *layout.article, None, 0, None, None, None, layout.article_score)
        records.append(art)
        containers.append(art)

    comment_records: list[dict] = []
    for c, p in zip(layout.comments, scores):
        parent = comment_records[c.parent] if c.parent is not None else None
        if p >= SPAM_THRESHOLD:
            kind, score = "spam", p
        else:
            kind, score = ("reply" if parent is not None else "comment"), 1.0 - p
        rec = make(kind, c.start, c.end, parent["record_id"] if parent else None, c.depth, c.author, None, None,
                   score * c.score)
        comment_records.append(rec)
        records.append(rec)
        containers.append(rec)

    for box in containers:
        if box["type"] == "spam":
            continue  # a spam comment quoting someone is still spam; its "quotes" are bait, not statements
        for q in find_quotes(text, box["char_start"], box["char_end"]):
            records.append(make("quote", q.start, q.end, box["record_id"], box["depth"], None, q.speaker,
                                q.speaker_resolved, q.score))

    records.sort(key=lambda r: (r["char_start"], -r["char_end"], r["type"] == "quote"))
    for i, r in enumerate(records):
        r["position"] = i
    return records
