"""builder.staged runs the segmenter's steps over a batch, one step for every document before the next:
the same columns, failures and counts as builder.worker.segment_columns running segment() document by
document, the CPU-time limit kept per document, and no pyarrow in a worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.document import Document
from builder.run import _batch_runner, spec
from builder.segment import segment, segment_steps
from builder.staged import segment_columns as staged_columns
from builder.worker import SEGMENTER_ERROR, SEGMENTER_TIMEOUT, segment_columns
from tests.test_cli_segment import make_doc

_PIECES = st.sampled_from([
    "Title line\n\n", "A paragraph of article text. ", "“Quoted words,” she said. ", '"Straight," he added. ',
    "\n\n", "\n    • Someone\n\n      ", "\n  • Alice\n\n    ", "Reply\n", "John says:\nMay 1, 2012 at 9:26 am\n",
    "Check out my channel http://x.example ", "\r\n", "\t", "😀 ", "“unclosed ", "\x00",
])
_IDS = st.sampled_from(["a", "b/c", "é", "bad\ud800id", "\udfff"])  # ids that are no UTF-8 fail their document


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_IDS, st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=30)), max_size=6))
def test_same_columns_and_failures_as_document_by_document(docs):
    batch = [Document(f"{doc_id}{i}", "".join(parts)) for i, (doc_id, parts) in enumerate(docs)]
    assert staged_columns(segment_steps, batch, spec()) == segment_columns(segment, batch, spec())


def test_same_on_generated_pages():
    batch = [Document(f"g{i}", make_doc(i), url="https://www.example.org/x" if i % 2 else None) for i in range(12)]
    columns, failures, counts = staged_columns(segment_steps, batch, spec())
    assert (columns, failures, counts) == segment_columns(segment, batch, spec())
    assert failures == [None] * 12 and sum(counts) > 12


def test_a_document_whose_id_is_no_utf8_fails_as_it_did():
    # the same exception, met at the same place, whether the page has an article or not
    batch = [Document("x\ud800", make_doc(0)), Document("ok", make_doc(1)),
             Document("y\udfff", "• Ana\n\n    Thanks for this.\n\n• Ben\n\n    Agreed.\n")]
    staged = staged_columns(segment_steps, batch, spec())
    assert staged == segment_columns(segment, batch, spec())
    assert staged[1][0][0] == SEGMENTER_ERROR and "UnicodeEncodeError" in staged[1][0][1] and staged[1][1] is None


class _Steps:
    """Steps of a made-up segmenter: each spins `spin` CPU seconds, the `fail`-th raises; three steps."""

    def __init__(self, doc: Document, spin: float = 0.0, fail: int | None = None) -> None:
        self.doc, self.spin, self.fail, self.step, self.records = doc, spin, fail, 0, None

    def __iter__(self):
        return self

    def __next__(self):
        if self.step == 3:
            raise StopIteration
        if self.step == self.fail:
            raise ValueError(f"step {self.step} of {self.doc.doc_id}")
        end = time.process_time() + self.spin
        while time.process_time() < end:
            pass
        self.step += 1
        if self.step == 3:
            self.records = [_record(self.doc)]


def _record(doc: Document) -> dict:
    from builder.schema import FIELDS

    r = dict.fromkeys(FIELDS)
    r.update(record_id=doc.doc_id, doc_id=doc.doc_id, type="article", text=doc.text, char_start=0,
             char_end=len(doc.text), depth=0, position=0, score=1.0, encoding="utf-8", origin="segmenter",
             segmenter_version="t", schema_version="t")
    return r


def test_the_time_limit_is_per_document_over_all_its_steps():
    docs = [Document(f"d{i}", "text") for i in range(3)]
    # d1's steps take 0.15 s each: under the 0.3 s limit one by one, over it together; d0 and d2 are quick
    made = {"d1": 0.15}
    columns, failures, counts = staged_columns(lambda d: _Steps(d, spin=made.get(d.doc_id, 0.0)), docs, spec(), 0.3)
    assert failures[0] is None and failures[2] is None and counts == [1, 0, 1]
    assert failures[1][0] == SEGMENTER_TIMEOUT and "0.3 CPU seconds" in failures[1][1]


def test_a_step_that_raises_fails_only_its_document():
    docs = [Document(f"d{i}", "text") for i in range(3)]
    failures = staged_columns(lambda d: _Steps(d, fail=1 if d.doc_id == "d1" else None), docs, spec())[1]
    assert failures == [None, (SEGMENTER_ERROR, "ValueError: step 1 of d1"), None]


def test_the_local_engine_runs_the_default_segmenter_in_steps():
    assert _batch_runner(segment) == (staged_columns, segment_steps)
    custom = lambda doc: segment(doc)  # noqa: E731 - any other segmenter: document by document
    assert _batch_runner(custom) == (segment_columns, custom)


def test_steps_give_the_records_of_segment():
    doc = Document("s", make_doc(3))
    steps = segment_steps(doc)
    assert sum(1 for _ in steps) == 3 and steps.records == segment(doc)


def test_the_staged_worker_side_does_not_load_pyarrow():
    code = ("import sys, builder.staged, builder.segment; print([m for m in sys.modules if m.split('.')[0] in "
            "('pyarrow', 'pandas', 'datasets') or m == 'builder.run'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


def plain(doc: Document) -> list[dict]:
    """segment() as another object than the default: the engine runs it document by document."""
    return segment(doc)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_writes_what_it_wrote_document_by_document(tmp_path, monkeypatch, workers):
    from builder.run import segment_corpus

    monkeypatch.setattr("builder.run.BATCH_DOCS", 4)  # several batches (and with 2 workers, the pool)
    rows = [{"id": f"r{i}", "text": make_doc(i)} for i in range(10)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    segment_corpus([tmp_path / "rows.jsonl"], tmp_path / "staged.parquet", workers=workers)
    segment_corpus([tmp_path / "rows.jsonl"], tmp_path / "plain.parquet", workers=workers, segment=plain)
    assert (tmp_path / "staged.parquet").read_bytes() == (tmp_path / "plain.parquet").read_bytes()
    assert (tmp_path / "staged.quarantine.jsonl").read_text() == (tmp_path / "plain.quarantine.jsonl").read_text()



@pytest.mark.parametrize("where", ["parse_layout", "spam_probability", "find_quotes"])  # steps 0, 1, 2
def test_a_stopiteration_inside_a_step_fails_its_document_as_segment_raised_it(monkeypatch, where):
    # a bug's stray StopIteration (a next() without a default, say) on page "a" only: not taken for the end of
    # the steps (segment() returning None, then 'invalid_records: segment() returned a NoneType')
    import builder.segment

    real, armed = getattr(builder.segment, where), [False]

    def stray(*args, **kwargs):  # raises at its first call after being armed: in the batch's first document
        if armed[0]:
            armed[0] = False
            raise StopIteration("stray")
        return real(*args, **kwargs)

    def run(how, *args):
        armed[0] = True
        return how(*args)

    monkeypatch.setattr(f"builder.segment.{where}", stray)
    batch = [Document("a", make_doc(0)), Document("b", make_doc(0))]
    with pytest.raises(StopIteration, match="stray"):
        run(segment, batch[0])
    staged = run(staged_columns, segment_steps, batch, spec())
    assert staged == run(segment_columns, segment, batch, spec())
    assert staged[1] == [(SEGMENTER_ERROR, "StopIteration: stray"), None] and staged[2][1] > 0
