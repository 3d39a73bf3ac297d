"""The record schema, loaded once from schemas/record.v1.json (the single source of truth), and the
pyarrow schema and datasets Features derived from it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa

RECORD_SCHEMA_FILE = "record.v1.json"

_ARROW = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "class_label": pa.int64(),  # datasets stores ClassLabel as int64 class indices
}


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


def arrow_fields(schema: dict = SCHEMA) -> list[pa.Field]:
    return [
        pa.field(name, _ARROW[prop["x-arrow"]], nullable=_nullable(prop))
        for name, prop in schema["properties"].items()
    ]


def features(schema: dict = SCHEMA):
    """datasets.Features for the record columns; `type` is a ClassLabel over the schema's enum."""
    import datasets  # imported late: segmenting does not need it

    out = {}
    for name, prop in schema["properties"].items():
        if prop["x-arrow"] == "class_label":
            out[name] = datasets.ClassLabel(names=list(prop["enum"]))
        else:
            out[name] = datasets.Value(prop["x-arrow"])
    return datasets.Features(out)


@cache
def arrow_schema() -> pa.Schema:
    """The pyarrow schema of record files, with the datasets features in its metadata (as
    `Features.arrow_schema` writes them), so ClassLabel names travel with every Parquet file."""
    return pa.schema(arrow_fields(), metadata=features().arrow_schema.metadata)
