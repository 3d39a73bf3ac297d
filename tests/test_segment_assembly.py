"""segment() builds each record's id and text inline (page-wide passes done once per page): they must be
what record_id() and collapse() give for the record's span, on printable pages and on pages with tabs,
carriage returns, other Unicode whitespace or control characters (which take collapse() per span)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.document import Document
from builder.segment import collapse, record_id, segment

_PIECES = st.sampled_from([
    "Title line\n\n", "A paragraph of article text. ", "“Quoted words,” she said. ", '"Straight," he added. ',
    "\n\n", "\n    • Someone\n\n      ", "\n  • Alice\n\n    ", "Reply\n", "John says:\nMay 1, 2012 at 9:26 am\n",
    "  ", "\r\n", "\t", "\u00a0", "\u2028", "\x0c", "\x85", "\x01", "😀 ", "é",
])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=40), st.text(min_size=1, max_size=12))
def test_ids_and_texts_are_record_id_and_collapse(parts, doc_id):
    raw = "".join(parts)
    for r in segment(Document(doc_id=doc_id, text=raw)):
        s, e = r["char_start"], r["char_end"]
        assert r["text"] == collapse(raw[s:e])
        assert r["record_id"] == record_id(doc_id, s, e, r["type"] == "quote")
