"""run._ParquetSink: row groups (and shards) cut at the same rows however the records arrive — the
reason any number of workers writes the same bytes."""

from __future__ import annotations

import pyarrow.parquet as pq
from hypothesis import example, given, settings
from hypothesis import strategies as st

from builder.run import SHARD_NAME, _ParquetSink, _to_table
from builder.schema import SCHEMA_VERSION


def record(i: int, size: int) -> dict:
    return {"record_id": f"{i:016x}", "doc_id": f"d{i}", "type": "article", "text": "x" * size, "char_start": 0,
            "char_end": size, "parent_id": None, "depth": 0, "position": 0, "author": None, "speaker": None,
            "speaker_resolved": None, "title": None, "url": None, "domain": None, "encoding": "utf-8", "score": 1.0,
            "origin": "segmenter", "segmenter_version": "test", "schema_version": SCHEMA_VERSION}


def expected_groups(sizes: list[int], group_rows: int, group_text: int, shard_rows: int | None) -> list[list[int]]:
    """Per shard, its row groups' sizes: each group takes rows until it has group_rows (or the shard is
    full), or until its text reaches group_text (that row included)."""
    shards: list[list[int]] = [[]]
    i = 0
    while i < len(sizes):
        written = sum(shards[-1])
        room = group_rows if shard_rows is None else min(group_rows, shard_rows - written)
        n, text = 0, 0
        while n < room and i + n < len(sizes):
            text += sizes[i + n]
            n += 1
            if text >= group_text:
                break
        shards[-1].append(n)
        i += n
        if shard_rows is not None and sum(shards[-1]) >= shard_rows and i < len(sizes):
            shards.append([])
    return shards


@settings(max_examples=100, deadline=None)
@example(sizes=[1, 1, 1, 10, 10, 1], cuts=[], group_rows=3, group_text=15, shard_rows=None)  # rows, then text
@example(sizes=[5] * 9, cuts=[2, 2], group_rows=4, group_text=12, shard_rows=5)  # a shard ends inside a group
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=120), cuts=st.lists(st.integers(1, 30), max_size=40),
       group_rows=st.integers(1, 25), group_text=st.integers(1, 200), shard_rows=st.one_of(st.none(), st.integers(1, 60)))
def test_groups_depend_on_the_rows_only(tmp_path_factory, sizes, cuts, group_rows, group_text, shard_rows):
    records = [record(i, n) for i, n in enumerate(sizes)]
    tmp = tmp_path_factory.mktemp("sink")
    single = shard_rows is None
    out = tmp / "r.parquet" if single else tmp / "r"
    if not single:
        out.mkdir()
    sink = _ParquetSink(out, single, shard_rows or 10**9, row_group_rows=group_rows, row_group_text=group_text)
    start = 0
    for n in [*cuts, len(records)]:  # the records arrive in pieces of these sizes, then the rest
        sink.add(_to_table(records[start:start + n]))
        start += n
        if start >= len(records):
            break
    shards = sink.finish()
    paths = [out] if single else [out / SHARD_NAME.format(k) for k in range(len(shards))]
    got = [[pq.read_metadata(p).row_group(g).num_rows for g in range(pq.read_metadata(p).num_row_groups)]
           for p in paths]
    assert got == expected_groups(sizes, group_rows, group_text, shard_rows)
    assert [s["rows"] for s in shards] == [sum(g) for g in got]
