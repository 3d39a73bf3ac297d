"""The schema is declared once (schemas/*.json) and derived twice (pyarrow, datasets): the three
must agree, and what the segmenter emits must validate against the declaration."""

from __future__ import annotations

import datasets
import jsonschema
import pyarrow as pa
import pytest

from builder.document import Document
from builder.run import storage_schema
from builder.schema import (
    FIELDS, LABELS_SCHEMA, SCHEMA, SCHEMA_VERSION, TYPE_NAMES, arrow_fields, arrow_schema, features,
)
from tests.helpers import SEED, need_shared

# JSON Schema type → the Arrow types an `x-arrow` may choose for it
_COMPATIBLE = {
    "string": {pa.string()},
    "integer": {pa.int32(), pa.int64()},
    "number": {pa.float32(), pa.float64()},
    "boolean": {pa.bool_()},
    "array": None,  # checked structurally below
}

# A document in the markup of the example (article, then a comment thread with "• name" replies)
# written for these tests.
THREAD_DOC = """Library Extends Weekend Hours

The county library will open on Sundays from next month, the board announced on Friday.

\u201cPeople asked for it for years,\u201d said director Ana Ruiz. \u201cNow the budget allows it.\u201d

The change costs about $40,000 a year, according to the board.


    Tom Baker, Finally some good news from the county. My kids will love this.

    \u2022 Mia Chen

      Agreed, Sunday afternoons are the only time we can go.

  \u2022 Cheap Meds Online

    Earn $500 a day from home!!! Visit http://cash-now.example/win to claim your bonus now
"""


def _json_types(prop: dict) -> list[str]:
    t = prop["type"]
    return [x for x in (t if isinstance(t, list) else [t]) if x != "null"]


@pytest.mark.parametrize("schema", [SCHEMA, LABELS_SCHEMA], ids=["record", "labels"])
def test_json_schema_arrow_and_features_agree(schema):
    props = schema["properties"]
    fields = arrow_fields(schema)
    feats = features(schema)
    assert [f.name for f in fields] == list(props) == list(feats)
    assert set(schema["required"]) == set(props), "every column is required (nullable ones may be null)"
    for f in fields:
        prop = props[f.name]
        (jtype,) = _json_types(prop)
        nullable = isinstance(prop["type"], list) and "null" in prop["type"]
        assert f.nullable == nullable, f"{f.name}: nullability differs between JSON Schema and Arrow"
        feat = feats[f.name]
        if prop["x-arrow"] == "class_label":
            names = [n for n in prop["enum"] if n is not None]
            assert isinstance(feat, datasets.ClassLabel) and feat.names == names, f.name
            assert f.type == pa.int64(), f"{f.name}: a ClassLabel is stored as int64 class indices"
        elif jtype == "array":
            item = prop["items"]["properties"]
            assert pa.types.is_list(f.type) and [c.name for c in f.type.value_type] == list(item)
        else:
            assert f.type in _COMPATIBLE[jtype], f"{f.name}: {jtype} stored as {f.type}"
            assert isinstance(feat, datasets.Value) and feat.pa_type == f.type, f.name
    # what datasets derives from the Features is the same Arrow type, column by column
    derived = feats.arrow_schema
    for f in fields:
        assert derived.field(f.name).type == f.type, f.name


def test_stored_schema_carries_the_features_that_datasets_restores():
    stored = storage_schema()
    assert stored.metadata == arrow_schema().metadata  # spelled out in builder.run, byte for byte
    assert stored.names == list(FIELDS)
    assert [f.type for f in stored] == [f.type for f in arrow_schema()]
    restored = datasets.Features.from_arrow_schema(stored)
    assert restored == features()
    assert restored["type"].names == list(TYPE_NAMES)


def test_record_type_names_and_version():
    assert TYPE_NAMES == ("article", "quote", "comment", "reply", "spam")
    assert SCHEMA["x-schema-version"] == SCHEMA_VERSION


def _validator():
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)
    return cls(SCHEMA, format_checker=cls.FORMAT_CHECKER)


def _check_records(records: list[dict]) -> None:
    v = _validator()
    assert records, "the segmenter found nothing to check"
    for r in records:
        errors = sorted(v.iter_errors(r), key=lambda e: list(e.path))
        assert not errors, f"{r['type']} record: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_validator_rejects_a_wrong_record():
    from builder.segment import segment

    rec = segment(Document("t", THREAD_DOC))[0]
    v = _validator()
    assert not list(v.iter_errors(rec))
    for change in [{"type": "headline"}, {"score": 1.5}, {"char_start": -1}, {"encoding": None}, {"extra": 1}]:
        assert list(v.iter_errors({**rec, **change})), change
    assert list(v.iter_errors({k: x for k, x in rec.items() if k != "depth"}))


def test_segmenter_records_validate_against_the_json_schema():
    from builder.segment import segment

    records = segment(Document("thread", THREAD_DOC, url="https://news.example/library"))
    _check_records(records)
    assert "article" in {r["type"] for r in records}


def test_segmenter_records_of_the_example_validate():
    from builder.segment import segment

    path = need_shared(SEED)
    _check_records(segment(Document(path.stem, path.read_text(encoding="utf-8"))))


def test_records_read_back_from_parquet_validate(tmp_path):
    """Through the whole local engine: the stored rows (type as a class index) are schema records."""
    import pyarrow.parquet as pq

    from builder.run import segment_corpus

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "thread.txt").write_text(THREAD_DOC, encoding="utf-8")
    segment_corpus([tmp_path / "in"], tmp_path / "r.parquet", workers=1)
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.schema.equals(storage_schema(), check_metadata=True)
    rows = table.to_pylist()
    for r in rows:
        r["type"] = TYPE_NAMES[r["type"]]
    _check_records(rows)
