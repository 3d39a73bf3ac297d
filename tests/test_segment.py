"""The segmenter as a whole: the example document's expected records, and the invariants every record
of every document keeps (offsets are provenance, threads are consistent, ids are stable)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.document import Document
from builder.segment import SEGMENTER_VERSION, collapse, segment
from builder.schema import SCHEMA_VERSION
from tests.helpers import SAMPLES, SEED, check_invariants, need_shared


@pytest.fixture(scope="module")
def seed():
    raw = need_shared(SEED).read_text(encoding="utf-8")
    return raw, segment(Document(doc_id=SEED.stem, text=raw))


def test_example_has_the_thirteen_records(seed):
    raw, recs = seed
    assert Counter(r["type"] for r in recs) == {"article": 1, "quote": 7, "comment": 2, "reply": 2, "spam": 1}
    check_invariants(raw, recs)


def test_example_title_and_article(seed):
    raw, recs = seed
    (article,) = [r for r in recs if r["type"] == "article"]
    assert article["title"] == raw.splitlines()[0].strip()
    assert article["text"].startswith("Russia’s Foreign Ministry has demanded")
    assert article["text"].endswith("the ministry added.")
    assert article["title"] not in article["text"], "the title is metadata, not article text"
    assert all(r["title"] == article["title"] for r in recs)
    assert all(r["segmenter_version"] == SEGMENTER_VERSION and r["schema_version"] == SCHEMA_VERSION for r in recs)


def test_example_thread(seed):
    raw, recs = seed
    thread = [r for r in recs if r["type"] in {"comment", "reply", "spam"}]
    assert [(r["type"], r["author"], r["depth"]) for r in thread] == [
        ("comment", None, 0),
        ("spam", "Adele", 1),
        ("reply", "nullifyNWO", 1),
        ("reply", "all in all", 2),
        ("comment", "amewhoricansRdisgustingpeople", 0),
    ]
    carol, adele, nullify, allinall, last = thread
    assert carol["text"].startswith("Carol Adl, Why don’t you get your facts right?")
    assert adele["parent_id"] == carol["record_id"], "a spam reply stays in its thread"
    assert nullify["parent_id"] == carol["record_id"]
    assert allinall["parent_id"] == nullify["record_id"] and allinall["text"].endswith("all in all well said")
    assert last["parent_id"] is None and last["text"].endswith("rightly so")
    assert "Goo-g-le is paying $97 p-e-r hour" in adele["text"]
    for r in thread:  # a comment's span is the comment as the page shows it: its author line, then its body
        assert r["author"] is None or r["text"].count(r["author"]) == 1
    for a, b in zip(thread, thread[1:]):
        assert b["author"] is None or b["author"] not in a["text"], "an author line belongs to one comment only"


def test_example_quotes_and_speakers(seed):
    raw, recs = seed
    (article,) = [r for r in recs if r["type"] == "article"]
    quotes = [r for r in recs if r["type"] == "quote"]
    assert all(q["parent_id"] == article["record_id"] for q in quotes)
    starts = ["the need to respect", "de-facto occupied", "The training of militants", "hermetically closed",
              "We demand the lifting", "bears full responsibility", "unconvincing and can’t withstand"]
    assert [q["text"][: len(s)] for q, s in zip(quotes, starts)] == starts
    speakers = [q["speaker"] for q in quotes]
    assert "Moscow" in speakers[0]
    assert "Foreign Ministry" in speakers[1]
    assert speakers[2].lower() == "it" and "inistry" in quotes[2]["speaker_resolved"]
    assert "statement" in speakers[3].lower()
    assert "ministry" in speakers[4].lower() and "ministry" in speakers[6].lower()
    assert speakers[5].lower() == "it" and "inistry" in quotes[5]["speaker_resolved"]
    assert not any("border" == q["text"].strip("‘’'") for q in quotes), "a scare quote is not a quote"
    for q in quotes:  # the span holds the words, not the marks
        assert raw[q["char_start"]] not in "“”\"" and raw[q["char_end"] - 1] not in "“”\""


def test_record_ids_are_deterministic(seed):
    raw, recs = seed
    again = segment(Document(doc_id=SEED.stem, text=raw))
    assert again == recs
    other = segment(Document(doc_id="another-doc", text=raw))
    assert not {r["record_id"] for r in recs} & {r["record_id"] for r in other}


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.txt")), ids=lambda p: p.name)
def test_every_sample_keeps_the_invariants(path):
    raw = path.read_text(encoding="utf-8")
    recs = segment(Document(doc_id=path.stem, text=raw))
    assert recs, f"{path.name} gave no records"
    check_invariants(raw, recs)


_pieces = st.sampled_from([
    "Title line\n\n", "A paragraph of article text. ", "“Quoted words,” she said. ", '"Straight," he added. ',
    "\n\n", "\n    • Someone\n\n      ", "\n  • Alice\n\n    ", "Reply\n", "John says:\nMay 1, 2012 at 9:26 am\n",
    "Check out my channel http://x.example ♥♥♥ ", "\r\n", "\t", "😀 ", "‘scare’ ", "“unclosed ", "”", "-", "\u00a0",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_pieces, st.text(max_size=30)), max_size=40))
def test_invariants_hold_on_arbitrary_text(parts):
    raw = "".join(parts)
    recs = segment(Document(doc_id="fuzz", text=raw))
    check_invariants(raw, recs)


_WHITESPACE = [c for c in map(chr, range(0x110000)) if c.isspace()]


def test_every_whitespace_but_the_space_is_unprintable():
    # what collapse's quick way rests on: after the newlines, isprintable() finds any other whitespace
    assert len(_WHITESPACE) == 29 and " " in _WHITESPACE
    assert [c for c in _WHITESPACE if c != " " and c.isprintable()] == []


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_WHITESPACE), st.sampled_from(["  ", "\n\n", " \n ", "word", "“é”", "\x00"]),
                          st.text(max_size=8)), max_size=30))
def test_collapse_is_split_and_join(parts):
    s = "".join(parts)
    assert collapse(s) == " ".join(s.split())
