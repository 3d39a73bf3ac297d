"""The local engine's worker side (builder.worker): what a worker process loads, and the columns it
hands back, which the writing process turns into the same Arrow table as the records themselves."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from builder.document import Document

# Only light imports at the top: the pool's workers import this module to run loaded_in_worker, and
# must not get pyarrow from it. The rest is imported by each test.

HEAVY = ("pyarrow", "pandas", "datasets", "builder.run")


def test_the_segmenter_and_the_worker_side_do_not_load_pyarrow():
    code = ("import sys, builder.worker, builder.segment, builder.segment.layout, builder.segment.spam, "
            "builder.segment.quotes; print([m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'pandas', "
            "'datasets') or m == 'builder.run'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.replace("'", '"')) == []


def loaded_in_worker(doc: Document) -> list[dict]:
    """The real segmenter, failing (so the document is quarantined with the reason) in a process
    that has loaded any of HEAVY: run by the pool's workers, it says what they import."""
    from builder.segment import segment

    heavy = sorted(m for m in sys.modules if m in HEAVY)
    if heavy:
        raise RuntimeError(f"the worker loaded {heavy}")
    return segment(doc)


def test_pool_workers_load_only_the_segmenter(tmp_path, monkeypatch):
    from builder.run import segment_corpus
    from tests.test_cli_segment import make_doc

    monkeypatch.setattr("builder.run.BATCH_DOCS", 4)  # several batches, so the pool runs
    rows = [{"id": f"w{i}", "text": make_doc(i)} for i in range(12)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = segment_corpus([tmp_path / "rows.jsonl"], tmp_path / "r.parquet", workers=2, segment=loaded_in_worker)
    assert (tmp_path / "r.quarantine.jsonl").read_text() == ""
    assert report["documents"]["segmented"] == 12 and report["records"]["total"] > 12


def test_columns_give_the_table_of_the_records():
    from builder import schema
    from builder.run import _to_table, segment_batch, spec, storage_schema
    from builder.segment import segment
    from builder.worker import records_to_columns, segment_columns
    from tests.test_cli_segment import make_doc

    docs = [Document(f"c{i}", make_doc(i), url="https://www.example.org/x" if i % 2 else None) for i in range(8)]
    columns, failures, counts = segment_columns(segment, docs, spec())
    records = [r for d in docs for r in segment(d)]
    assert failures == [None] * 8 and counts == [len(segment(d)) for d in docs] and sum(counts) == len(records)
    assert columns == records_to_columns(records, spec())
    table, _, _ = segment_batch(segment, docs)
    assert table.schema == storage_schema().remove_metadata()
    assert table.equals(_to_table(records))
    # the values as stored: type as its class index, the score a float32
    assert table.to_pylist() == [r | {"type": schema.TYPE_INDEX[r["type"]], "score": pytest.approx(r["score"], rel=1e-6)}
                                 for r in records]


def test_a_value_arrow_refuses_costs_only_its_document():
    from builder.run import segment_batch
    from tests.test_cli_segment import flaky_segment, make_doc

    docs = [Document(f"j{i}", make_doc(i)) for i in range(14, 20)]  # j15: a span past the text; j17, j19: bad values
    table, failures, counts = segment_batch(flaky_segment, docs)
    kinds = {d.doc_id: f and f[0] for d, f in zip(docs, failures)}
    assert kinds == {"j14": None, "j15": "invalid_records", "j16": None, "j17": "invalid_records", "j18": None,
                     "j19": "invalid_records"}
    assert "int" in failures[3][1] and "str" in failures[5][1]
    assert counts[1] == counts[3] == counts[5] == 0 and table.num_rows == sum(counts)
    assert set(table.column("doc_id").to_pylist()) == {"j14", "j16", "j18"}


@pytest.mark.parametrize("bad", [[], [{}]])
def test_no_records_give_an_empty_table_of_the_schema(bad):
    import pyarrow as pa

    from builder.run import segment_batch, storage_schema

    table, failures, counts = segment_batch(lambda doc: bad, [Document("e", "text")])
    assert table.num_rows == 0 and table.schema == storage_schema().remove_metadata()
    assert (failures[0] is None) == (bad == []) and counts == [0]
    assert isinstance(table, pa.Table)


def test_a_segmenter_that_refills_one_list_gives_each_document_its_records():
    # the records are checked and laid out once the whole batch is done: each document's answer as it was returned
    from builder.run import spec
    from builder.segment import segment
    from builder.worker import records_to_columns, segment_columns
    from tests.test_cli_segment import make_doc

    one: list[dict] = []

    def refilling(doc: Document) -> list[dict]:
        one[:] = segment(doc)
        return one

    docs = [Document(f"f{i}", make_doc(i)) for i in range(3)]
    columns, failures, counts = segment_columns(refilling, docs, spec())
    records = [r for d in docs for r in segment(d)]
    assert failures == [None] * 3 and counts == [len(segment(d)) for d in docs]
    assert columns == records_to_columns(records, spec())
