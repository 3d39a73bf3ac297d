"""The record schema, loaded once from schemas/record.v1.json (the single source of truth), and the
pyarrow schema and datasets Features derived from it.

pyarrow and datasets are imported by the functions that build those, not by this module: the
segmenter's worker processes need the schema's names and version only, and pyarrow (with the pandas
its conversions load) would add ~100 MB to each of them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

RECORD_SCHEMA_FILE = "record.v1.json"

# x-arrow name → pyarrow type constructor
_ARROW = {
    "string": "string",
    "int32": "int32",
    "int64": "int64",
    "float32": "float32",
    "float64": "float64",
    "bool": "bool_",
    "class_label": "int64",  # datasets stores ClassLabel as int64 class indices
}


def _scalar(name: str) -> pa.DataType:
    import pyarrow as pa

    return getattr(pa, _ARROW[name])()


def data_dir(name: str):
    """A top-level data folder of the project (`schemas`, `labels`): the checkout's own in a
    source or editable install, the copy packed as `builder._NAME` in a wheel."""
    here = Path(__file__).resolve().parent.parent / name
    if here.is_dir():
        return here
    return resources.files(f"builder._{name}")


@cache
def json_schema(name: str = RECORD_SCHEMA_FILE) -> dict:
    return json.loads(data_dir("schemas").joinpath(name).read_text(encoding="utf-8"))


def _nullable(prop: dict) -> bool:
    t = prop.get("type")
    return isinstance(t, list) and "null" in t


SCHEMA = json_schema()
SCHEMA_VERSION: str = SCHEMA["x-schema-version"]
FIELDS: tuple[str, ...] = tuple(SCHEMA["properties"])
TYPE_NAMES: tuple[str, ...] = tuple(SCHEMA["properties"]["type"]["enum"])
TYPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(TYPE_NAMES)}
ORIGINS: tuple[str, ...] = tuple(SCHEMA["properties"]["origin"]["enum"])


LABELS_SCHEMA = json_schema("labels.v1.json")
LABEL_STATUSES: tuple[str, ...] = tuple(LABELS_SCHEMA["properties"]["label_status"]["enum"])


def _arrow_type(prop: dict) -> pa.DataType:
    import pyarrow as pa

    if prop["x-arrow"] == "list_struct":
        item = prop["items"]["properties"]
        return pa.list_(pa.struct([pa.field(k, _scalar(v["x-arrow"])) for k, v in item.items()]))
    return _scalar(prop["x-arrow"])


def arrow_fields(schema: dict = SCHEMA) -> list[pa.Field]:
    import pyarrow as pa

    return [
        pa.field(name, _arrow_type(prop), nullable=_nullable(prop))
        for name, prop in schema["properties"].items()
    ]


def features(schema: dict = SCHEMA):
    """datasets.Features for a schema's columns (records by default; LABELS_SCHEMA for the label
    columns); `x-arrow: class_label` becomes a ClassLabel over the enum's names."""
    import datasets  # imported late: segmenting does not need it

    def feature(prop: dict):
        if prop["x-arrow"] == "class_label":
            return datasets.ClassLabel(names=[n for n in prop["enum"] if n is not None])
        if prop["x-arrow"] == "list_struct":
            item = prop["items"]["properties"]
            return datasets.List({k: datasets.Value(v["x-arrow"]) for k, v in item.items()})
        return datasets.Value(prop["x-arrow"])

    return datasets.Features({name: feature(prop) for name, prop in schema["properties"].items()})


def stored_fields(schema: dict = SCHEMA) -> list[pa.Field]:
    """The columns as files store them: every one nullable. datasets restores a column's features
    from the file's metadata only when the stored field is what the features imply, nullability
    included, and Features know no "not null": with a non-nullable `type`, `load_dataset("parquet",
    ...)` would give a plain int64 instead of the ClassLabel. Writers check non-null columns
    before writing instead."""
    return [f.with_nullable(True) for f in arrow_fields(schema)]


@cache
def arrow_schema() -> pa.Schema:
    """The pyarrow schema of record files, with the datasets features in its metadata (as
    `Features.arrow_schema` writes them), so ClassLabel names travel with every Parquet file."""
    import pyarrow as pa

    return pa.schema(stored_fields(), metadata=features().arrow_schema.metadata)
