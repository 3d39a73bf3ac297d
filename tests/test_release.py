"""builder.release: the layout, determinism, immutability, splits without leakage, labels, verify,
diff and changelog, on a corpus written for these tests (tests/test_release_data.py)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from builder import card, release
from builder.errors import BuilderError, InputError, SchemaError
from builder.schema import TYPE_INDEX, TYPE_NAMES
from tests.test_release_data import corpus, doc_records, labels_row, write_labels, write_records


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("release")


@pytest.fixture(scope="module")
def rows():
    return corpus(40)


@pytest.fixture(scope="module")
def records(work, rows) -> Path:
    return write_records(rows, work / "records.parquet")


@pytest.fixture(scope="module")
def labels_dir(work, rows) -> Path:
    """Labels for some records: single, agreed, disputed; one label for a record that is not released."""
    out = []
    for i, r in enumerate(rows[:30]):
        true = TYPE_NAMES[r["type"]]
        if i % 3 == 0:
            out.append(labels_row(r["record_id"], [("ann-a", true)]))
        elif i % 3 == 1:
            out.append(labels_row(r["record_id"], [("ann-a", true), ("ann-b", true), ("ann-c", "spam")]))
        else:
            out.append(labels_row(r["record_id"], [("ann-a", "comment"), ("ann-b", "reply")]))
    out.append(labels_row("gone-record", [("ann-a", "comment")]))
    return write_labels(work / "labels", out)


@pytest.fixture(scope="module")
def v1(work, records, labels_dir) -> Path:
    return release.publish(records, labels_dir, name="news", version="1.0.0", out=work / "releases")


# --- layout and manifest -------------------------------------------------------------------------


def test_layout_and_manifest(v1, rows):
    m = json.loads((v1 / "manifest.json").read_text())
    assert sorted(p.name for p in v1.iterdir()) == ["CHANGELOG.md", "README.md", "chart.png", "croissant.json",
                                                     "data", "manifest.json"]
    assert [f["path"] for f in m["files"]] == [f"data/{s}-00000-of-00001.parquet" for s in release.SPLITS]
    assert sum(s["rows"] for s in m["splits"].values()) == len(rows)
    for f in m["files"]:
        assert f["sha256"] == release.sha256_file(v1 / f["path"])
        assert f["bytes"] == (v1 / f["path"]).stat().st_size
        assert f["rows"] == pq.read_metadata(v1 / f["path"]).num_rows
    assert m["fingerprint"] == release.fingerprint("news", "1.0.0", m["files"])
    assert m["name"] == "news" and m["version"] == "1.0.0"
    assert m["schema_version"] == "1.0.0" and m["segmenter_version"] == "0.1.0"
    assert m["labels"]["snapshot"] == 7 and len(m["labels"]["sha256"]) == 64
    assert len(m["inputs_fingerprint"]) == 64
    assert {f["path"] for f in m["metadata_files"]} == {"README.md", "CHANGELOG.md", "croissant.json", "chart.png"}
    assert not [p for p in v1.parent.iterdir() if p.name.startswith(".")], "staging directory left behind"


def test_files_are_zstd_sorted_with_features(v1):
    for f in sorted((v1 / "data").glob("*.parquet")):
        pf = pq.ParquetFile(f)
        assert pf.metadata.row_group(0).column(0).compression == "ZSTD"
        assert b"ClassLabel" in pf.schema_arrow.metadata[b"huggingface"]
        t = pf.read(columns=["doc_id", "position"]).to_pylist()
        keys = [(r["doc_id"], r["position"]) for r in t]
        assert keys == sorted(keys)


def test_columns_are_records_then_labels(v1):
    schema = pq.read_schema(v1 / "data/train-00000-of-00001.parquet")
    from builder.schema import FIELDS, LABELS_SCHEMA

    assert schema.names == [*FIELDS, *LABELS_SCHEMA["properties"]]


# --- determinism and immutability ----------------------------------------------------------------


def test_same_inputs_give_identical_bytes(work, v1, records, labels_dir):
    again = release.publish(records, labels_dir, name="news", version="1.0.0", out=work / "releases-again")
    assert tree_bytes(again) == tree_bytes(v1)


def test_sharded_input_in_any_order_gives_the_same_data(work, v1, rows, labels_dir):
    shards = write_records(rows, work / "shards", shards=5)
    other = release.publish(shards, labels_dir, name="news", version="1.0.0", out=work / "releases-shards")
    a, b = tree_bytes(v1), tree_bytes(other)
    for name in a:
        if name.startswith("data/"):
            assert a[name] == b[name], name
    m = json.loads((other / "manifest.json").read_text())
    assert m["fingerprint"] == json.loads((v1 / "manifest.json").read_text())["fingerprint"]


def test_existing_version_is_refused_and_untouched(work, v1, records):
    before = tree_bytes(v1)
    with pytest.raises(release.ReleaseExistsError, match="already exists"):
        release.stage(records, None, name="news", version="1.0.0", out=work / "releases")
    assert tree_bytes(v1) == before


def test_a_crash_leaves_no_half_release(work, records, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(card, "render", boom)
    out = work / "releases-crash"
    with pytest.raises(RuntimeError):
        release.publish(records, None, name="news", version="2.0.0", out=out)
    assert not (out / "news" / "2.0.0").exists()
    assert list((out / "news").iterdir()) == []


def test_an_interrupt_while_writing_data_leaves_nothing(work, records, monkeypatch):
    calls = []

    def interrupt(table, labels):
        calls.append(1)
        if len(calls) == 2:  # the first data file is written, the second is not
            raise KeyboardInterrupt
        return real(table, labels)

    real = release._attach_labels
    monkeypatch.setattr(release, "_attach_labels", interrupt)
    out = work / "releases-interrupt"
    with pytest.raises(KeyboardInterrupt):
        release.stage(records, None, name="news", version="1.0.0", out=out)
    assert list((out / "news").iterdir()) == []


def test_a_staged_release_can_be_discarded(work, records):
    out = work / "releases-discard"
    staged = release.stage(records, None, name="news", version="1.0.0", out=out)
    assert (staged.path / "data").is_dir() and (staged.path / "manifest.json").is_file()
    assert staged.path.name.startswith(".1.0.0.staging-")
    staged.discard()
    assert list((out / "news").iterdir()) == []


# --- splits --------------------------------------------------------------------------------------


def _doc_splits(rel: Path) -> dict[str, str]:
    out = {}
    for s in release.SPLITS:
        for f in (rel / "data").glob(f"{s}-*.parquet"):
            for d in pq.read_table(f, columns=["doc_id"]).column("doc_id").to_pylist():
                assert out.setdefault(d, s) == s, f"{d} in two splits"
    return out


def test_documents_follow_their_hash_unless_grouped(v1, rows):
    splits = _doc_splits(v1)
    m = release.read_manifest(v1)
    assert m["dedup"]["clusters"] >= 1
    spam_docs = sorted({r["doc_id"] for r in rows if r["type"] == TYPE_INDEX["spam"]})
    assert len({splits[d] for d in spam_docs}) == 1, "copies of one spam text ended in two splits"
    assert splits["page-0000"] == splits["page-0001"], "a syndicated article straddles splits"
    grouped = set(spam_docs) | {"page-0000", "page-0001"}
    for d, s in splits.items():
        if d not in grouped:
            assert s == release.split_of(release.split_point(d), release.DEFAULT_RATIOS)


def test_near_duplicate_check_is_reported_in_the_card(v1):
    text = (v1 / "README.md").read_text()
    m = release.read_manifest(v1)
    assert f"| groups of documents joined by near-duplicates | {m['dedup']['clusters']} |" in text
    assert f"| documents moved from their own split to their group's | {m['dedup']['documents_moved']} |" in text


def test_ratios_are_configurable(work, records):
    rel = release.publish(records, None, name="news", version="1.0.0", out=work / "releases-ratios",
                          ratios=(0.0, 0.0, 1.0))
    m = release.read_manifest(rel)
    assert m["splits"]["train"]["rows"] == m["splits"]["validation"]["rows"] == 0
    assert m["splits"]["test"]["rows"] > 0
    assert release.verify(rel) == []


def test_parse_ratios():
    assert release.parse_ratios("80/10/10") == (0.8, 0.1, 0.1)
    assert release.parse_ratios("0.7,0.15,0.15") == (0.7, 0.15, 0.15)
    for bad in ("80/20", "a/b/c", "-1/1/1", "0/0/0"):
        with pytest.raises(InputError, match="three non-negative"):
            release.parse_ratios(bad)


def test_large_splits_are_sharded(work, records):
    rel = release.publish(records, None, name="news", version="1.0.0", out=work / "releases-small-files",
                          max_file_rows=20)
    m = release.read_manifest(rel)
    train = m["splits"]["train"]["files"]
    assert len(train) > 1
    assert train == [f"data/train-{i:05d}-of-{len(train):05d}.parquet" for i in range(len(train))]
    assert release.verify(rel) == []


# --- labels --------------------------------------------------------------------------------------


def test_labels_are_joined_and_unlabeled_records_say_so(v1, rows):
    by_id = {}
    for f in (v1 / "data").glob("*.parquet"):
        for r in pq.read_table(f).to_pylist():
            by_id[r["record_id"]] = r
    first = by_id[rows[0]["record_id"]]
    assert first["label_status"] == "single" and first["n_annotators"] == 1
    assert first["label"] == rows[0]["type"] and first["agreement"] == 1.0
    agreed = by_id[rows[1]["record_id"]]
    assert agreed["label_status"] == "agreed" and agreed["n_annotators"] == 3
    assert agreed["annotator_labels"][2] == {"annotator": "ann-c", "label": "spam"}
    assert abs(agreed["agreement"] - 2 / 3) < 1e-6
    disputed = by_id[rows[2]["record_id"]]
    assert disputed["label_status"] == "disputed" and disputed["label"] is None
    last = by_id[rows[-1]["record_id"]]
    assert last == {**last, "annotator_labels": [], "label": None, "n_annotators": 0, "agreement": None,
                    "label_status": "unlabeled"}


def test_card_reports_labels(v1):
    text = (v1 / "README.md").read_text()
    assert "by 3 annotators (project news-test, snapshot 7" in text and "| 0.810 |" in text
    assert "| labels in the snapshot whose record is not in this release | 1 (kept in the snapshot, not published) |" in text
    assert "| label_status = disputed | 10 |" in text
    header = text.split("\n---\n", 1)[0]
    assert "annotations_creators:\n- expert-generated\n- machine-generated\n" in header


def test_a_release_without_labels_says_so(work, records):
    rel = release.publish(records, None, name="plain", version="0.1.0", out=work / "releases")
    text = (rel / "README.md").read_text()
    assert "no human labels" in text
    assert "annotations_creators:\n- machine-generated\n" in text.split("\n---\n", 1)[0], "no people claimed"
    assert release.read_manifest(rel)["labels"] is None
    for f in (rel / "data").glob("*.parquet"):
        assert set(pq.read_table(f, columns=["label_status"]).column("label_status").to_pylist()) <= {"unlabeled"}


def test_bad_labels_are_refused(work, rows, records):
    bad = work / "bad-labels"
    write_labels(bad, [labels_row(rows[0]["record_id"], [("a", "comment")])] * 2)
    with pytest.raises(SchemaError, match="record_id appears twice"):
        release.stage(work / "records.parquet", bad, name="news", version="9.0.0", out=work / "releases-bad")
    with pytest.raises(InputError, match="labels.parquet and labels.json"):
        release.stage(work / "records.parquet", work, name="news", version="9.0.0", out=work / "releases-bad")
    assert not (work / "releases-bad" / "news" / "9.0.0").exists()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, match", [
    ({"name": "News!"}, "dataset name"),
    ({"version": "1.0"}, "X.Y.Z"),
    ({"version": "01.0.0"}, "X.Y.Z"),
])
def test_bad_name_or_version(work, records, kw, match):
    args = {"name": "news", "version": "3.0.0", **kw}
    with pytest.raises(InputError, match=match):
        release.stage(records, None, out=work / "releases-x", **args)


def test_bad_records_are_refused(work, rows, records):
    with pytest.raises(InputError, match="do not exist"):
        release.stage(work / "nope", None, name="news", version="1.0.0", out=work / "r")
    with pytest.raises(InputError, match="is a file"):
        release.stage(records, None, name="news", version="1.0.0", out=records)
    empty = work / "empty-dir"
    empty.mkdir()
    with pytest.raises(InputError, match="no .parquet files"):
        release.stage(empty, None, name="news", version="1.0.0", out=work / "r")
    import pyarrow as pa

    t = pa.Table.from_pylist(rows[:3], schema=__import__("builder.schema").schema.arrow_schema())
    pq.write_table(t.set_column(2, "type", pa.array(["article"] * 3)), work / "strtype.parquet")
    with pytest.raises(SchemaError, match="column 'type' is string"):
        release.stage(work / "strtype.parquet", None, name="news", version="1.0.0", out=work / "r")
    dup = write_records(rows + rows[:1], work / "dup.parquet")
    with pytest.raises(SchemaError, match="record_id appears more than once"):
        release.stage(dup, None, name="news", version="1.0.0", out=work / "r")
    assert not (work / "r" / "news" / "1.0.0").exists()
    assert all(issubclass(e, BuilderError) for e in (InputError, SchemaError, release.ReleaseExistsError))


# --- verify --------------------------------------------------------------------------------------


@pytest.fixture()
def copy_of(v1, tmp_path):
    dst = tmp_path / "news" / "1.0.0"
    shutil.copytree(v1, dst)
    return dst


def test_verify_passes_on_a_fresh_release(v1):
    assert release.verify(v1) == []


def test_verify_catches_a_flipped_byte(copy_of):
    f = copy_of / "data" / "train-00000-of-00001.parquet"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    problems = release.verify(copy_of)
    assert any("train-00000-of-00001.parquet: sha256 differs" in p for p in problems)


def test_verify_catches_a_changed_card_and_extra_or_missing_files(copy_of):
    (copy_of / "README.md").write_text((copy_of / "README.md").read_text() + "\nedited\n")
    (copy_of / "data" / "test-00000-of-00001.parquet").unlink()
    shutil.copy(copy_of / "data" / "train-00000-of-00001.parquet", copy_of / "data" / "extra.parquet")
    problems = "\n".join(release.verify(copy_of))
    assert "README.md: sha256 differs" in problems
    assert "data/test-00000-of-00001.parquet: missing" in problems
    assert "data/extra.parquet: not in the manifest" in problems


def _add_row_consistently(release_dir: Path, split: str, row) -> None:
    """Append one row to a split's file and update the manifest to match (checksums agree)."""
    import pyarrow as pa

    f = release_dir / "data" / f"{split}-00000-of-00001.parquet"
    t = pa.concat_tables([pq.read_table(f), row]).cast(release.release_schema())
    t = t.sort_by([("doc_id", "ascending"), ("position", "ascending")])
    release._write_parquet(t, f)
    m = json.loads((release_dir / "manifest.json").read_text())
    for e in m["files"]:
        if e["path"].endswith(f.name):
            e.update(sha256=release.sha256_file(f), bytes=f.stat().st_size, rows=t.num_rows)
    m["splits"][split]["rows"] = t.num_rows
    m["fingerprint"] = release.fingerprint(m["name"], m["version"], m["files"])
    (release_dir / "manifest.json").write_text(json.dumps(m))


def _one_row(release_dir: Path, split: str, where, **changes):
    import pyarrow as pa

    t = pq.read_table(release_dir / "data" / f"{split}-00000-of-00001.parquet")
    row = next(r for r in t.to_pylist() if where(r))
    return pa.Table.from_pylist([{**row, **changes}], schema=t.schema)


def test_verify_catches_a_consistent_rewrite_that_breaks_grouping(copy_of):
    """Rewrite a file *and* its manifest entry so checksums agree: the split check still fails."""
    row = _one_row(copy_of, "train", lambda r: True, record_id="fresh-id")
    doc = row.column("doc_id")[0].as_py()
    _add_row_consistently(copy_of, "validation", row)
    problems = "\n".join(release.verify(copy_of))
    assert "sha256" not in problems
    assert f"document {doc!r} is in both train and validation" in problems


def test_verify_catches_a_near_duplicate_across_splits(copy_of):
    """A spam text of a train document pasted under a new validation document: a leak only the
    near-duplicate check sees (documents are disjoint)."""
    spam = TYPE_INDEX["spam"]
    splits = _doc_splits(copy_of)
    src = next(s for s in release.SPLITS if any(r for r in pq.read_table(
        copy_of / "data" / f"{s}-00000-of-00001.parquet", columns=["type"]).column("type").to_pylist() if r == spam))
    dst = next(s for s in release.SPLITS if s != src)
    row = _one_row(copy_of, src, lambda r: r["type"] == spam, record_id="pasted-spam", doc_id="zz-new-page",
                   position=0, parent_id=None)
    _add_row_consistently(copy_of, dst, row)
    assert "zz-new-page" not in splits
    problems = release.verify(copy_of)
    assert problems == ["1 group(s) of near-duplicate documents straddle two splits"]
    assert release.verify(copy_of, duplicates=False) == []


# --- diff and changelog --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def v2(work, rows, labels_dir):
    """1.1.0: two pages added, one removed, one comment's text changed, two labels changed (one of
    them from agreed to single)."""
    new_rows = [dict(r) for r in rows if r["doc_id"] != "page-0005"]
    changed = next(r for r in new_rows if r["doc_id"] == "page-0010" and r["type"] == TYPE_INDEX["comment"])
    changed["text"] = changed["text"] + " (edited)"
    new_rows += doc_records("page-0100", 3) + doc_records("page-0101", 4)
    recs = write_records(new_rows, work / "records-v2.parquet")
    labels = pq.read_table(labels_dir / "labels.parquet").to_pylist()
    labels[0] = labels_row(labels[0]["record_id"], [("ann-a", "spam")])
    labels[1] = labels_row(labels[1]["record_id"], [("ann-a", "spam")])  # was agreed by two of three
    new_labels = write_labels(work / "labels-v2", labels, snapshot_id=8)
    rel = release.publish(recs, new_labels, name="news", version="1.1.0", out=work / "releases")
    expect = {
        "added": sorted(r["record_id"] for r in new_rows if r["doc_id"] in ("page-0100", "page-0101")),
        "removed": sorted(r["record_id"] for r in rows if r["doc_id"] == "page-0005"),
        "changed": [changed["record_id"]],
        "labels_changed": sorted(r["record_id"] for r in labels[:2]),
    }
    return rel, expect


def test_diff_lists_exactly_the_changes(v1, v2):
    rel, expect = v2
    d = release.diff(v1, rel)
    for key, ids in expect.items():
        assert d[key] == ids, key
    assert d["changed_fields"] == {"text": 1}
    was = Counter(f"{TYPE_NAMES[r['type']]} → spam" for r in corpus(40)[:2] if TYPE_NAMES[r["type"]] != "spam")
    assert d["label_transitions"] == dict(was)
    assert d["label_status_transitions"] == {"agreed → single": 1}
    assert d["counts"]["documents_added"] == 2 and d["counts"]["documents_removed"] == 1
    assert d["counts"]["documents_moved_split"] == 0
    summary = release.diff_summary(d)
    assert f"added {len(expect['added'])}, removed {len(expect['removed'])}, changed 1," in summary
    assert f"changed: {expect['changed'][0]}" in summary


def test_documents_keep_their_split_across_versions(v1, v2):
    a, b = _doc_splits(v1), _doc_splits(v2[0])
    assert {d: s for d, s in b.items() if d in a} == {d: s for d, s in a.items() if d in b}


def test_changelog(v1, v2):
    assert "First release" in (v1 / "CHANGELOG.md").read_text()
    text = (v2[0] / "CHANGELOG.md").read_text()
    _, expect = v2
    assert f"- added: {len(expect['added'])}\n- removed: {len(expect['removed'])}\n" in text
    assert "- changed: 1 (fields: text 1)" in text
    assert expect["changed"][0] in text
    assert release.read_manifest(v2[0])["previous_version"] == "1.0.0"


# --- card, chart, croissant ----------------------------------------------------------------------


def test_card_yaml_header_declares_configs_features_and_splits(v1):
    text = (v1 / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["configs"][0]["data_files"] == [{"split": s, "path": f"data/{s}-*.parquet"} for s in release.SPLITS]
    m = release.read_manifest(v1)
    assert {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]} == \
        {s: m["splits"][s]["rows"] for s in release.SPLITS}
    names = [f["name"] for f in header["dataset_info"]["features"]]
    assert names[:3] == ["record_id", "doc_id", "type"] and names[-1] == "label_status"
    assert header["license"] == "other" and header["language"] == ["en"] and header["task_categories"]
    for section in ("## Load it", "### What an unlabeled record carries", "### Motivation", "### Composition",
                    "### Collection process", "### Labeling process", "### Uses", "### Personal information",
                    "### Limitations", "### Benchmark", "## Citation", "(chart.png)"):
        assert section in text, section
    assert "There is no benchmark table in this release" in text
    assert "Labels come from few annotators" in text and "No record has a human label" not in text


def test_benchmark_rows_render_as_a_table(work, records):
    staged = release.stage(records, None, name="bench", version="1.0.0", out=work / "releases")
    rows = [{"task": "type", "metric": "macro-F1", "baseline": "tf-idf + logreg", "score": 0.612, "ci_low": 0.58,
             "ci_high": 0.64, "command": "builder evaluate ..."}]
    rel = release.seal(staged, rows)
    card = (rel / "README.md").read_text()
    assert "| type | macro-F1 | tf-idf + logreg | 0.612 | 0.58 – 0.64 | `builder evaluate ...` |" in card
    assert "No record has a human label in this release" in card and "Labels come from few annotators" not in card
    with pytest.raises(release.ReleaseError, match="lacks"):
        release.seal(release.stage(records, None, name="bench", version="1.0.1", out=work / "releases"), [{"task": "x"}])
    assert not (work / "releases" / "bench" / "1.0.1").exists()


def test_chart_is_a_png(v1):
    assert (v1 / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"Software" not in (v1 / "chart.png").read_bytes()


def test_croissant_validates_and_reads(v1):
    mlc = pytest.importorskip("mlcroissant", reason="mlcroissant is not installed (pip install '.[test]')")
    ds = mlc.Dataset(jsonld=str(v1 / "croissant.json"))
    m = release.read_manifest(v1)
    for split in release.SPLITS:
        got = list(ds.records(split))
        assert len(got) == m["splits"][split]["rows"]
    assert [r["classes/name"] for r in ds.records("classes")] == list(TYPE_NAMES)


# --- near-duplicates -----------------------------------------------------------------------------


def test_signatures_equal_datasketch_minhash():
    """The batched signatures are datasketch's MinHash, set by set."""
    import numpy as np
    from datasketch import MinHash

    from builder.dedup import NUM_PERM, SEED, NearDuplicates

    rng = np.random.default_rng(3)
    sets = [rng.integers(0, 2**32, int(rng.integers(1, 200)), dtype=np.uint64).astype(np.uint32) for _ in range(200)]
    sig = NearDuplicates().signatures(sets, chunk=500)
    for s, row in zip(sets, sig):
        m = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int)
        m.update_batch(s.tolist())
        assert np.array_equal(m.hashvalues.astype(np.uint32), row)


def test_near_duplicates_join_documents_and_short_texts_do_not():
    import numpy as np

    from builder.dedup import NearDuplicates, normalize

    assert normalize("Goo-g-le is PAYING $97 p-e-r hour,w-i-th payouts") == "google is paying 97 per hour with payouts"
    nd = NearDuplicates()
    texts = ["Goo-g-le is paying $97 p-e-r hour, w-i-th weekly payouts, I got a brand new car from it",
             "Google is paying $97 per hour with weekly payouts!! I got a brand new car from it",
             "A council meeting about the harbour wall went on until late in the evening yesterday",
             "Great article!", "Great article!"]
    nd.add(np.array([0, 1, 2, 3, 4]), texts)
    roots = nd.groups(5)
    assert roots[0] == roots[1] and len({roots[0], roots[2], roots[3], roots[4]}) == 4
    assert (nd.report.records_checked, nd.report.records_too_short) == (3, 2)
    assert (nd.report.clusters, nd.report.largest_cluster, nd.report.near_duplicate_records) == (1, 2, 2)


def test_near_duplicates_spilled_to_disk_group_as_in_memory(tmp_path, monkeypatch):
    """Band keys written to spill_dir as records arrive (in ADD_ROWS slices) give the same groups
    and report as keys kept in memory, and the spill files are gone once grouped."""
    import numpy as np

    from builder import dedup

    monkeypatch.setattr(dedup, "ADD_ROWS", 7)  # many slices per batch, one record's slice boundary inside a pair
    rng = np.random.default_rng(5)
    words = "harbour wall storm council ferry timetable winter crossing repaint boats spring ticket".split()
    base = [" ".join(rng.choice(words, 12)) for _ in range(40)]
    texts = base + [t + " indeed" for t in base[:10]] + ["short one"] * 5  # 10 near-copies, 5 too short
    docs = np.arange(len(texts)) % 23
    memory, disk = dedup.NearDuplicates(), dedup.NearDuplicates(spill_dir=tmp_path)
    for nd in (memory, disk):
        for lo in range(0, len(texts), 16):  # batches of 16 records
            nd.add(docs[lo : lo + 16], texts[lo : lo + 16])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"band-{b:02d}.u64" for b in range(dedup.BANDS)]
    assert np.array_equal(memory.groups(23), disk.groups(23))
    assert memory.report == disk.report and memory.report.near_duplicate_records >= 20
    assert list(tmp_path.iterdir()) == []


def test_near_duplicate_spill_that_cannot_be_written_is_a_clear_error(tmp_path):
    import numpy as np

    from builder.dedup import NearDuplicates
    from builder.errors import BuilderError

    nd = NearDuplicates(spill_dir=tmp_path)
    (tmp_path / "band-03.u64").unlink()
    (tmp_path / "band-03.u64").mkdir()  # writing to it fails as a full or read-only disk would
    with pytest.raises(BuilderError, match="cannot write near-duplicate keys to .*free space there"):
        nd.add(np.arange(2), ["the harbour ferry goes back to its winter timetable on monday"] * 2)
