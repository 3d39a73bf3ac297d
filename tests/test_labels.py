"""The labeling config and taxonomy against the schema, and labels.py's rules on exports written
here (no server: test_studio.py runs the same code on real exports)."""

from __future__ import annotations

import itertools
import json
import math
from xml.etree import ElementTree

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builder import labels, spill, studio
from builder.schema import LABEL_STATUSES, LABELS_SCHEMA, TYPE_NAMES, arrow_fields, data_dir

# --- labels/: config, taxonomy, guidelines ------------------------------------------------------


def config_root():
    return ElementTree.fromstring(studio.label_config())


def taxonomy():
    return json.loads(data_dir("labels").joinpath("taxonomy.json").read_text())


def test_config_choices_are_the_schema_types_in_order():
    assert studio.config_choices(studio.label_config())[studio.TYPE_CONTROL] == list(TYPE_NAMES)
    assert [t["name"] for t in taxonomy()["types"]] == list(TYPE_NAMES)


def test_config_hotkeys_and_hints_follow_the_taxonomy():
    (types,) = [c for c in config_root().iter("Choices") if c.get("name") == "type"]
    assert types.get("toName") == studio.OBJECT_NAME and types.get("required") == "true"
    got = [{"name": c.get("value"), "hotkey": c.get("hotkey"), "hint": c.get("hint")} for c in types.iter("Choice")]
    assert got == taxonomy()["types"]
    hotkeys = [c.get("hotkey") for c in config_root().iter("Choice")]
    assert len(hotkeys) == len(set(hotkeys)), "each choice has its own key"
    (flag,) = [c for c in config_root().iter("Choices") if c.get("name") == taxonomy()["flags"]["control"]]
    assert [c.get("value") for c in flag.iter("Choice")] == [c["name"] for c in taxonomy()["flags"]["choices"]]
    assert labels.FLAG_CONTROLS == {taxonomy()["flags"]["control"], taxonomy()["note"]}


def test_config_shows_what_push_puts_into_each_task(harbour_parquet, harbour_records):
    shown = studio.config_variables(studio.label_config())
    assert {"title", "context_label", "context", "text"} <= shown
    tasks = list(studio.record_tasks(studio.read_records(harbour_parquet)))
    assert [t["data"]["record_id"] for t in tasks] == [r["record_id"] for r in harbour_records]
    assert all(shown <= set(t["data"]) and all(isinstance(t["data"][v], str) for v in shown) for t in tasks)


def test_a_config_that_drifted_from_the_schema_is_refused():
    xml = studio.label_config().replace('<Choice value="spam"', '<Choice value="advert"')
    with pytest.raises(studio.StudioError, match="differ from the schema"):
        studio.check_label_config(xml)


def test_guidelines_cover_every_type_and_the_hard_cases():
    md = data_dir("labels").joinpath("GUIDELINES.md").read_text()
    for t in TYPE_NAMES:
        assert f"**{t}**" in md
    for case in ("A reply that is spam", "A quote inside a comment", "A comment without an author line",
                 "Wrong boundary"):
        assert case in md
    html = studio.guidelines_html()
    assert "<table>" in html and "<h2>Hard cases</h2>" in html


# --- aggregation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("answers, label, agreement, status", [
    ([], None, None, "unlabeled"),
    ([("a", "spam")], "spam", 1.0, "single"),
    ([("a", "reply"), ("b", "reply")], "reply", 1.0, "agreed"),
    ([("a", "reply"), ("b", "spam"), ("c", "reply")], "reply", 2 / 3, "agreed"),
    ([("a", "reply"), ("b", "spam")], None, 0.5, "disputed"),
    ([("a", "reply"), ("b", "spam"), ("c", "quote")], None, 1 / 3, "disputed"),
    ([("a", "reply"), ("b", "reply"), ("c", "spam"), ("d", "spam")], None, 0.5, "disputed"),
])
def test_aggregate(answers, label, agreement, status):
    row = labels.aggregate(answers)
    assert (row["label"], row["label_status"], row["n_annotators"]) == (label, status, len(answers))
    assert row["agreement"] == (None if agreement is None else pytest.approx(agreement))
    assert row["annotator_labels"] == [{"annotator": a, "label": lab} for a, lab in sorted(answers)]
    assert set(row) == set(LABELS_SCHEMA["properties"]) and row["label_status"] in LABEL_STATUSES


def alpha_by_definition(units: list[list[str]]) -> float:
    """Nominal alpha from Krippendorff's coincidence matrix, written out here as the independent
    reference: alpha = 1 - (n - 1) * sum_c o_cc' / sum_c,k n_c n_k (c != k) ... in its usual form
    1 - D_o / D_e."""
    units = [u for u in units if len(u) >= 2]
    values = sorted({v for u in units for v in u})
    o = {(c, k): 0.0 for c in values for k in values}
    for u in units:
        m = len(u)
        for i, j in itertools.permutations(range(m), 2):
            o[u[i], u[j]] += 1 / (m - 1)
    n_c = {c: sum(o[c, k] for k in values) for c in values}
    n = sum(n_c.values())
    d_o = sum(o[c, k] for c in values for k in values if c != k) / n
    d_e = sum(n_c[c] * n_c[k] for c in values for k in values if c != k) / (n * (n - 1))
    return 1 - d_o / d_e


def test_alpha_matches_the_definition():
    units = [["reply", "reply"], ["spam", "spam", "reply"], ["quote", "quote"], ["comment", "article"],
             ["article", "article", "article"], ["reply"], ["spam", "spam"]]
    assert labels.krippendorff_alpha(units) == pytest.approx(alpha_by_definition(units))
    assert labels.krippendorff_alpha([["reply", "reply"], ["spam", "spam"]]) == pytest.approx(1.0)


def test_alpha_is_undefined_without_two_values_or_overlap():
    assert labels.krippendorff_alpha([["reply"], ["spam"]]) is None  # nobody labeled a record twice
    assert labels.krippendorff_alpha([["reply", "reply"], ["reply", "reply"]]) is None
    assert labels.krippendorff_alpha([]) is None


# --- an export as Label Studio writes it --------------------------------------------------------


def ann(aid, who, choices, *, at, cancelled=False, control="type", extra=()):
    result = [] if choices is None else [{"from_name": control, "to_name": "text", "type": "choices",
                                          "value": {"choices": choices}}]
    return {"id": aid, "completed_by": {"id": len(who), "email": who}, "result": [*result, *extra],
            "was_cancelled": cancelled, "created_at": at, "updated_at": at, "lead_time": 1.0}


def task(tid, rid, predicted, annotations):
    return {"id": tid, "data": {"record_id": rid, "text": "…", "segmenter_type": predicted},
            "annotations": annotations, "drafts": [],
            "predictions": [{"id": tid, "model_version": "0.1.0", "score": 0.9, "created_at": "2024-01-01T00:00:00Z",
                             "result": [{"from_name": "type", "to_name": "text", "type": "choices",
                                         "value": {"choices": [predicted]}}]}]}


EXPORT = [
    task(1, "r1", "comment", [
        ann(10, "ann@x.org", ["comment"], at="2024-05-01T10:00:00Z"),
        ann(11, "ann@x.org", ["reply"], at="2024-05-02T10:00:00Z"),  # her latest: reply
        ann(12, "ben@x.org", ["reply"], at="2024-05-01T11:00:00Z"),
    ]),
    task(2, "r2", "spam", [
        ann(20, "ann@x.org", None, at="2024-05-01T10:00:00Z", cancelled=True),
        ann(21, "ben@x.org", ["Spam"], at="2024-05-01T10:00:00Z"),  # not a schema name
        ann(22, "cal@x.org", ["spam", "reply"], at="2024-05-01T10:00:00Z"),
    ]),
    task(3, "r3", "quote", [
        ann(30, "ann@x.org", ["quote"], at="2024-05-03T10:00:00Z"),
        ann(31, "ann@x.org", ["advert"], at="2024-05-04T10:00:00Z"),  # latest is invalid: no fallback
        ann(32, "ben@x.org", ["quote"], at="2024-05-01T10:00:00Z", control="kind"),
        ann(33, "cal@x.org", ["article"], at="2024-05-01T10:00:00Z",
            extra=[{"from_name": "boundary", "to_name": "text", "type": "choices",
                    "value": {"choices": ["wrong boundary"]}}]),
    ]),
    task(4, "r0", "article", []),
    {"id": 5, "data": {"text": "a task someone added by hand"}, "annotations": []},
]


def test_export_rules():
    result = labels.from_export(EXPORT)
    rows = {(a["record_id"], a["annotator"]): a for a in result.annotations}
    assert sorted(rows) == [("r1", "ann@x.org"), ("r1", "ben@x.org"), ("r3", "cal@x.org")]
    assert rows["r1", "ann@x.org"]["label"] == "reply" and rows["r1", "ann@x.org"]["annotation_id"] == 11
    assert rows["r1", "ann@x.org"]["changed_prediction"] is True
    assert rows["r3", "cal@x.org"]["changed_prediction"] is True

    by_id = {r["record_id"]: r for r in result.labels}
    assert [r["record_id"] for r in result.labels] == ["r0", "r1", "r2", "r3"]
    assert by_id["r0"]["label_status"] == "unlabeled"
    assert (by_id["r1"]["label"], by_id["r1"]["label_status"], by_id["r1"]["agreement"]) == ("reply", "agreed", 1.0)
    assert by_id["r2"]["label_status"] == "unlabeled", "a skip and two invalid answers are no labels"
    assert (by_id["r3"]["label"], by_id["r3"]["label_status"]) == ("article", "single")

    rep = result.report
    assert rep["annotations"] == {"kept": 3, "skipped_or_cancelled": 1, "superseded": 2, "rejected": 4,
                                  "drafts_not_submitted": 0}
    reasons = {(r["record_id"], r["annotator"]): r["reason"] for r in rep["rejected"]}
    assert "not a record type" in reasons["r2", "ben@x.org"] and "valid: article" in reasons["r2", "ben@x.org"]
    assert "2 types chosen" in reasons["r2", "cal@x.org"]
    assert "not a record type" in reasons["r3", "ann@x.org"]
    assert "unknown control" in reasons["r3", "ben@x.org"]
    assert rep["boundary_flags"] == [{"record_id": "r3", "annotator": "cal@x.org", "annotation_id": 33}]
    assert rep["tasks_without_record_id"] == [5]
    assert rep["label_status"] == {"unlabeled": 2, "single": 1, "agreed": 1, "disputed": 0}
    assert rep["krippendorff_alpha_nominal"] is None  # one record with two answers, one value
    assert "latest" in rep["keep_rule"] and "cancelled" in rep["keep_rule"]


def test_an_answer_not_in_label_studios_form_is_rejected_not_a_crash():
    """A result item whose `value` is no object, or whose choices are null (an API client's, not the
    labeling interface's): superseded, it is dropped as any older answer; latest, it is rejected
    with its reason like any unusable answer, and the rest of the pull goes on."""
    older = ann(1, "ann@x.org", ["spam"], at="2024-05-01T10:00:00Z") | {
        "result": [{"from_name": "type", "value": "spam"}]}
    newer = ann(2, "ann@x.org", ["reply"], at="2024-05-02T10:00:00Z")
    ben = ann(3, "ben@x.org", ["reply"], at="2024-05-02T10:00:00Z",
              extra=[{"from_name": "boundary", "value": {"choices": None}}])
    result = labels.from_export([task(1, "r1", "comment", [older, newer, ben])])
    assert [(a["annotator"], a["label"]) for a in result.annotations] == [("ann@x.org", "reply")]
    assert result.report["annotations"]["superseded"] == 1
    (rejected,) = result.report["rejected"]
    assert rejected["annotation_id"] == 3 and "not in Label Studio's form" in rejected["reason"]
    assert result.labels[0]["label_status"] == "single"


def test_not_an_export():
    with pytest.raises(labels.ExportError, match="not a JSON list"):
        labels.from_export({"detail": "not found"})


def test_write_is_atomic_and_typed(tmp_path):
    raw = json.dumps(EXPORT).encode()
    out = tmp_path / "L"
    rep = labels.write(out, export_bytes=raw, snapshot_id=7, project="p", project_id=3)
    assert (out / "export-7.json").read_bytes() == raw
    table = pq.read_table(out / "labels.parquet")
    assert table.schema.equals(pa.schema([pa.field("record_id", pa.string(), nullable=False),
                                          *arrow_fields(LABELS_SCHEMA)]))
    assert table.column("label").to_pylist() == [None, TYPE_NAMES.index("reply"), None, TYPE_NAMES.index("article")]
    assert rep == json.loads((out / "labels.json").read_text())

    # the same export again gives the same bytes (nothing from the clock)
    again = labels.write(tmp_path / "L2", export_bytes=raw, snapshot_id=7, project="p", project_id=3)
    assert again == rep
    for name in ("labels.parquet", "annotations.parquet", "labels.json"):
        assert (out / name).read_bytes() == (tmp_path / "L2" / name).read_bytes()

    with pytest.raises(labels.ExportError):
        labels.write(out, export_bytes=b"<html>", snapshot_id=8, project="p", project_id=3)
    assert sorted(p.name for p in out.iterdir()) == ["annotations.parquet", "export-7.json", "labels.json",
                                                     "labels.parquet"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_labels_read_back_by_datasets_polars_duckdb(tmp_path):
    import datasets
    import duckdb
    import polars as pl

    labels.write(tmp_path / "L", export_bytes=json.dumps(EXPORT).encode(), snapshot_id=1, project="p", project_id=1)
    path = str(tmp_path / "L" / "labels.parquet")
    ds = datasets.Dataset.from_parquet(path)
    assert ds.num_rows == 4 and ds[1]["annotator_labels"] == [{"annotator": "ann@x.org", "label": "reply"},
                                                              {"annotator": "ben@x.org", "label": "reply"}]
    assert pl.read_parquet(path).filter(pl.col("label_status") == "agreed")["record_id"].to_list() == ["r1"]
    annotations = tmp_path / "L" / "annotations.parquet"
    n = duckdb.sql(f"select count(*) from '{annotations}' where changed_prediction").fetchall()
    assert n == [(3,)]
    assert not math.isnan(pl.read_parquet(path)["agreement"].drop_nulls().sum())


# --- a large export, streamed ---------------------------------------------------------------------


def test_alpha_matches_the_krippendorff_package():
    import random

    import krippendorff
    import numpy as np

    rng = random.Random(7)
    units = [[rng.choice(TYPE_NAMES[:3]) for _ in range(rng.choice([2, 2, 3, 4]))] for _ in range(300)]
    counts = np.array([[u.count(t) for t in TYPE_NAMES] for u in units], dtype=float)
    expected = krippendorff.alpha(value_counts=counts, value_domain=list(range(len(TYPE_NAMES))),
                                  level_of_measurement="nominal")
    assert labels.krippendorff_alpha(units) == pytest.approx(expected, abs=1e-12)


def generated_export(n: int) -> list[dict]:
    """n record tasks with one to three annotators, re-answers, skips, invalid answers, a few
    records in two tasks and a task without a record id: every path of KEEP_RULE, at a size that
    fills every bucket."""
    import hashlib

    out = []
    for i in range(n):
        rid = hashlib.blake2b(str(i % (n - 5)).encode(), digest_size=8).hexdigest()  # the last 5 repeat
        anns = []
        for k in range(1 + i % 3):
            choices = None if (i + k) % 11 == 0 else [TYPE_NAMES[(i * k + i // 3) % len(TYPE_NAMES)]]
            if (i + k) % 13 == 0:
                choices = ["spam", "reply"]
            anns.append(ann(10 * i + k, f"a{k}@x.org", choices, at=f"2024-05-0{1 + k % 2}T10:00:00Z",
                            cancelled=(i + k) % 17 == 0))
        if i % 5 == 0:  # her earlier answer, superseded
            anns.append(ann(10 * i + 9, "a0@x.org", ["article"], at="2024-04-01T10:00:00Z"))
        out.append(task(i, rid, TYPE_NAMES[i % len(TYPE_NAMES)], anns))
    out.append({"id": n, "data": {"text": "no record id"}, "annotations": []})
    return out


def test_streamed_pull_equals_the_in_memory_judgement(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "RUN_BYTES", 20_000)  # dozens of sorted runs to merge, as a large project has
    export = generated_export(3000)
    expected = labels.from_export(export)
    assert expected.report["records_in_several_tasks"] and expected.report["annotations"]["superseded"]
    path = tmp_path / "download.json"
    path.write_bytes(json.dumps(export, indent=1).encode())
    raw = path.read_bytes()
    rep = labels.write(tmp_path / "L", export_file=path, snapshot_id=4, project="p", project_id=1)
    assert not path.exists(), "the download is moved into LABELS, not copied"
    assert (tmp_path / "L" / "export-4.json").read_bytes() == raw
    assert sorted(p.name for p in (tmp_path / "L").iterdir()) == ["annotations.parquet", "export-4.json",
                                                                   "labels.json", "labels.parquet"]
    assert {k: v for k, v in rep.items() if k not in ("project", "snapshot_id", "export_file", "export_sha256")} \
        == expected.report
    assert pq.read_table(tmp_path / "L" / "labels.parquet").equals(labels.labels_table(expected.labels))
    assert pq.read_table(tmp_path / "L" / "annotations.parquet").equals(
        pa.Table.from_pylist(expected.annotations, schema=labels.ANNOTATIONS_SCHEMA))
    ids = pq.read_table(tmp_path / "L" / "labels.parquet").column("record_id").to_pylist()
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 3000 - 5


@pytest.mark.parametrize("raw", [b'[{"id": 1, "data": {"record_id": "ab"}}, {"id": 2, "da', b'{"detail": "no"}', b""])
def test_a_broken_download_is_an_export_error_and_leaves_nothing(tmp_path, raw):
    path = tmp_path / "download.json"
    path.write_bytes(raw)
    with pytest.raises(labels.ExportError, match="export is not"):
        labels.write(tmp_path / "L", export_file=path, snapshot_id=1, project="p", project_id=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_push_tasks_take_parents_from_the_document_at_hand(tmp_path, harbour_records, write_records):
    """Push reads one document at a time when each document's records are consecutive; the tasks
    are those of a push that first looks up every parent in the file, in every layout of the file."""
    other = {r["record_id"]: r["record_id"][::-1] for r in harbour_records}
    second = [r | {"doc_id": r["doc_id"] + "-b", "record_id": other[r["record_id"]],
                   "parent_id": other.get(r["parent_id"])} for r in harbour_records]
    answering = next(i for i, r in enumerate(second) if r["parent_id"])
    second[answering]["parent_id"] = harbour_records[0]["record_id"]  # a parent in the other document
    layouts = {"grouped": harbour_records + second,
               "interleaved": [r for pair in zip(harbour_records, second) for r in pair]}
    seen = {}
    for name, records in layouts.items():
        source = studio.read_records(write_records(records, tmp_path / f"{name}.parquet"))
        assert source.grouped == (name == "grouped")
        tasks = list(studio.record_tasks(source))
        assert tasks == list(studio.record_tasks(source, parents=source.parents()))
        assert [t["data"]["record_id"] for t in tasks] == [r["record_id"] for r in records]
        seen[name] = {t["data"]["record_id"]: t for t in tasks}
    assert seen["grouped"] == seen["interleaved"]
    assert "not pushed" not in seen["grouped"][second[answering]["record_id"]]["data"]["context"]

    known = studio.read_records(write_records(layouts["grouped"], tmp_path / "again.parquet"))
    exclude = pa.array([r["record_id"] for r in harbour_records[:3]])
    assert [t["data"]["record_id"] for t in studio.record_tasks(known, exclude=exclude)] == \
        [r["record_id"] for r in layouts["grouped"][3:]]
    assert list(studio.record_tasks(known, exclude=exclude)) == list(
        studio.record_tasks(known, exclude=exclude, parents=known.parents()))


@pytest.mark.parametrize("run_bytes", [None, 300])
def test_sorted_spill_is_a_stable_sort(tmp_path, run_bytes):
    import random

    rng = random.Random(3)
    items = [(rng.choice("abcdefgh") + rng.choice("xyz"), [i, {"n": i * 0.5}]) for i in range(2000)]
    sorter = spill.SortedSpill(tmp_path, run_bytes=run_bytes)
    for key, item in items:
        sorter.add(key, item)
    assert list(sorter) == [item for _, item in sorted(items, key=lambda kv: kv[0])]
    assert list(tmp_path.iterdir()) == [], "the runs are removed once read"
