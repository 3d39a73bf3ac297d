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
# after a partial quote introduces the next one)
SEGMENTER_VERSION = "0.3.0"
SPAM_THRESHOLD = 0.5

__all__ = ["SEGMENTER_VERSION", "segment", "record_id", "collapse"]


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
    text = doc.text
    layout = parse_layout(text, has_title=doc.title is None)
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
    for c in layout.comments:
        parent = comment_records[c.parent] if c.parent is not None else None
        p = spam_probability(text[c.start : c.end], c.author)
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
