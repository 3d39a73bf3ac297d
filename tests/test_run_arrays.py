"""run._array: the columns of records laid into Arrow without pa.array (whose first call imports
pandas) give exactly pa.array's arrays, and a value it does not lay out goes to pa.array, errors
included."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.run import _array

TYPES = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float32": pa.float32(),
         "float64": pa.float64()}


def same_array(values: list, arrow_type: pa.DataType) -> None:
    made = _array(values, arrow_type)
    want = pa.array(values, type=arrow_type)
    made.validate(full=True)
    assert made.type == want.type and len(made) == len(want) and made.null_count == want.null_count
    # equals() holds NaN unequal to itself: compare what a file would store, value by value and as bytes
    assert made.to_pylist() == want.to_pylist() or pa.types.is_floating(arrow_type)
    assert made.is_null().to_pylist() == want.is_null().to_pylist()
    if pa.types.is_floating(arrow_type):
        assert made.buffers()[1].to_pybytes() == want.buffers()[1].to_pybytes()


texts = st.one_of(st.none(), st.text(alphabet=st.characters(exclude_categories=["Cs"])))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(texts, max_size=40))
def test_strings_with_and_without_nulls(values):
    same_array(values, pa.string())


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.integers(-2**31, 2**31 - 1), max_size=40), name=st.sampled_from(["int32", "int64"]))
def test_integers(values, name):
    same_array(values, TYPES[name])


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(), max_size=40), name=st.sampled_from(["float32", "float64"]))
def test_floats_rounded_as_arrow_rounds_them(values, name):
    same_array(values, TYPES[name])


@pytest.mark.parametrize("values, name", [
    ([], "string"), ([None, None], "string"), (["é€😀", None, ""], "string"), ([], "int32"),
    ([-2**31, 2**31 - 1], "int32"), ([2**63 - 1, -2**63], "int64"), ([1e300, 3.4028235677973366e38], "float32"),
    ([b"bytes", "str"], "string"),  # not laid out (bytes): pa.array converts them
    ([1, 2.0], "float32"), ([1.0, 2], "int64"),  # an int in a float column and back: pa.array's
])
def test_edges(values, name):
    same_array(values, TYPES[name])


@pytest.mark.parametrize("values, name", [
    (["a\ud800"], "string"),  # a lone surrogate is no UTF-8
    ([2**31], "int32"), ([-2**31 - 1], "int32"), ([2**63], "int64"),  # past the type's range
    ([True, 1], "int64"), (["5"], "int32"), ([{"a": 1}], "string"), ([3], "string"),  # the wrong type
])
def test_a_value_arrow_refuses_raises_what_pa_array_raises(values, name):
    with pytest.raises(Exception) as want:
        pa.array(values, type=TYPES[name])
    with pytest.raises(want.type) as made:
        _array(values, TYPES[name])
    assert str(made.value) == str(want.value)


def test_the_writing_process_does_not_load_pandas(tmp_path):
    rows = [{"id": f"p{i}", "text": f"Title {i}\n\nA first paragraph, \u201cwith a quote,\u201d she said.\n\n"
                                    f"    Ana Moreau, a comment {i}.\n"} for i in range(5)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code = ("import sys; from builder.run import segment_corpus; "
            f"r = segment_corpus([{str(tmp_path / 'in.jsonl')!r}], {str(tmp_path / 'out.parquet')!r}, workers=1); "
            "print(r['records']['total'], 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) >= 10 and out[1] == "False"
