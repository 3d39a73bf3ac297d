"""builder.run reads text lengths and type counts from Arrow buffers (not pyarrow.compute, which a
--workers 1 run would import only for them): the same answers as pyarrow.compute's, on sliced,
chunked and empty columns."""

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.run import _text_lengths, _type_counts
from builder.schema import TYPE_NAMES

TABLE = pa.table({"type": pa.array([0, 1, 1, 2, 4, 3, 0], pa.int64()),
                  "text": pa.array(["a", "bbé", "", "ccc", "x" * 70_000, "€ and ✓", "y"])})


@pytest.mark.parametrize("table", [TABLE, TABLE.slice(2), TABLE.slice(1, 3), TABLE.slice(0, 0),
                                   pa.concat_tables([TABLE.slice(3), TABLE.slice(0, 0), TABLE])])
def test_buffers_agree_with_compute(table):
    assert _text_lengths(table.column("text")) == pc.binary_length(table.column("text")).to_pylist()
    expected = [0] * len(TYPE_NAMES)
    counted = pc.value_counts(table.column("type"))
    for t, c in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()):
        expected[t] += c
    assert _type_counts(table.column("type")) == expected


def test_a_run_imports_neither_compute_nor_the_pool(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "A title\\n\\nSome text of an article.\\n"}\n', encoding="utf-8")
    code = ("import sys; from builder.run import segment_corpus; "
            f"segment_corpus([{str(src)!r}], {str(tmp_path / 'out.parquet')!r}, workers=1); "
            "print(sorted(m for m in ('pyarrow.compute', 'multiprocessing', 'concurrent.futures') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# run._strings lays a column of one repeated value, and an ASCII column, out in one piece: the same arrays as
# pa.array (and, for a value that is no UTF-8, the same error), with and without nulls
_REPEATED = ["segmenter", "", "é€😀", "utf-8"]


@pytest.mark.parametrize("values", [
    ["segmenter"] * 5, [""] * 3, ["é€😀"] * 4, [None, "utf-8", None, "utf-8"], [None] * 3, ["a", "a", "b"],
    ["plain ascii", "and more", ""], ["ascii", None, "but one “curly”"], ["x" * 100_000, "y"],
])
def test_strings_in_one_piece(values):
    from tests.test_run_arrays import same_array

    same_array(values, pa.string())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(_REPEATED), st.text(alphabet=st.characters(max_codepoint=127))),
                max_size=30))
def test_repeated_and_ascii_columns(values):
    from tests.test_run_arrays import same_array

    same_array(values, pa.string())


def test_a_repeated_value_that_is_no_utf8_raises_as_pa_array_does():
    from builder.run import _array

    with pytest.raises(Exception) as want:
        pa.array(["a\ud800"] * 3, type=pa.string())
    with pytest.raises(want.type) as made:
        _array(["a\ud800"] * 3, pa.string())
    assert str(made.value) == str(want.value)


def test_a_non_ascii_column_is_not_copied_whole_to_be_told_so():
    # ~2 MB of UTF-8 whose one emoji per value makes a joined copy of the column 4 bytes a character (8 MB): the
    # ASCII test reads each value's flag instead of joining the column; what is left is the encoded values, joined
    import tracemalloc

    from builder.run import _strings

    values = [f"{i} 😀 " + "a" * 1000 for i in range(2000)]
    size = sum(len(v.encode()) for v in values)
    tracemalloc.start()
    try:
        made = _strings(values, pa.string())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert made.equals(pa.array(values, pa.string()))
    assert peak < 3 * size, f"peak {peak:,} bytes for {size:,} bytes of text"
