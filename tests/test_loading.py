"""A release loads with one line in `datasets` (three splits, the declared features, `type` a
ClassLabel), and with pyarrow, polars and duckdb in a process that never imports the builder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from builder import release
from builder.schema import TYPE_NAMES
from tests.test_release_data import corpus, labels_row, write_labels, write_records


@pytest.fixture(scope="module")
def rel(tmp_path_factory):
    work = tmp_path_factory.mktemp("loading")
    rows = corpus(30)
    records = write_records(rows, work / "records", shards=3)
    labels = write_labels(work / "labels", [labels_row(r["record_id"], [("ann-a", TYPE_NAMES[r["type"]])])
                                            for r in rows[:12]])
    return release.publish(records, labels, name="news", version="1.0.0", out=work / "releases", max_file_rows=40)


def test_load_dataset_gives_three_splits_with_the_declared_features(rel):
    import datasets

    ds = datasets.load_dataset(str(rel))
    assert isinstance(ds, datasets.DatasetDict)
    assert sorted(ds) == ["test", "train", "validation"]
    m = release.read_manifest(rel)
    for split in release.SPLITS:
        assert ds[split].num_rows == m["splits"][split]["rows"]
        assert ds[split].features == release.release_features()
    feat = ds["train"].features
    assert isinstance(feat["type"], datasets.ClassLabel) and feat["type"].names == list(TYPE_NAMES)
    assert isinstance(feat["label"], datasets.ClassLabel)
    row = next(r for r in ds["train"] if r["label_status"] == "unlabeled")
    assert row["label"] is None and row["annotator_labels"] == [] and row["n_annotators"] == 0
    labeled = [r for s in release.SPLITS for r in ds[s] if r["label_status"] == "single"]
    assert len(labeled) == 12 and all(r["label"] == r["type"] for r in labeled)


def test_each_split_is_memory_mapped_not_copied(rel, tmp_path):
    """load_dataset converts the Parquet files once into Arrow files in its cache and maps them: a
    split's table is a MemoryMappedTable over files on disk, not rows copied into memory."""
    import datasets
    from datasets.table import MemoryMappedTable

    ds = datasets.load_dataset(str(rel), cache_dir=str(tmp_path))
    for split in release.SPLITS:
        assert isinstance(ds[split].data, MemoryMappedTable), split
        files = [f["filename"] for f in ds[split].cache_files]
        assert files and all(f.startswith(str(tmp_path)) and f.endswith(".arrow") for f in files)


def test_data_files_loaded_without_the_card_keep_the_class_names(rel):
    """A researcher who points `datasets` at the Parquet files themselves (no card) still gets the
    ClassLabels: the files' own metadata carries the features."""
    import datasets

    files = sorted(str(p) for p in (rel / "data").glob("train-*.parquet"))
    feat = datasets.load_dataset("parquet", data_files={"train": files})["train"].features
    assert isinstance(feat["type"], datasets.ClassLabel) and feat["type"].names == list(TYPE_NAMES)
    assert isinstance(feat["label"], datasets.ClassLabel) and feat == release.release_features()


def test_the_card_shows_the_one_liner(rel):
    assert 'load_dataset("path/to/news/1.0.0")' in (rel / "README.md").read_text()


def test_load_with_pyarrow_polars_duckdb_without_the_builder(rel):
    pytest.importorskip("polars", reason="polars is in the test extra: pip install '.[test]'")
    pytest.importorskip("duckdb", reason="duckdb is in the test extra: pip install '.[test]'")
    m = release.read_manifest(rel)
    total = sum(s["rows"] for s in m["splits"].values())
    script = textwrap.dedent(f"""
        import json, sys
        import pyarrow.dataset as pads, polars as pl, duckdb
        d = {str(rel / "data")!r}
        t = pads.dataset(d, format="parquet").to_table()
        p = pl.read_parquet(d + "/train-*.parquet")
        q = duckdb.sql(f"SELECT count(*), count(DISTINCT doc_id) FROM '{{d}}/*.parquet'").fetchall()[0]
        names = json.loads(t.schema.metadata[b"huggingface"])["info"]["features"]["type"]["names"]
        print(json.dumps({{"pyarrow": t.num_rows, "polars_train": p.height, "duckdb": q[0], "names": names,
                          "builder_imported": "builder" in sys.modules}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd="/")
    got = json.loads(out.stdout)
    assert got["pyarrow"] == got["duckdb"] == total
    assert got["polars_train"] == m["splits"]["train"]["rows"]
    assert got["names"] == list(TYPE_NAMES)
    assert got["builder_imported"] is False
