"""Label Studio export → per-annotator rows → aggregated labels, agreement, Krippendorff's alpha.

Pure over the export's JSON (a list of tasks as `builder pull` downloads it); studio.py fetches it
into a file, this module judges it and writes the LABELS directory. The export is read task by task
and sorted by record id on disk (builder/spill.py), so a pull's memory does not grow with the project:

  export-<snapshot id>.json   the raw export, byte for byte as downloaded (its sha256 in labels.json)
  annotations.parquet         one row per (record, annotator) that counts
  labels.parquet              one row per pushed record: record_id + schemas/labels.v1.json's columns
  labels.json                 project, snapshot, checksum, counts per status, alpha, what was rejected
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from builder.checksum import sha256_file
from builder.errors import BuilderError, InputError
from builder.schema import LABEL_STATUSES, LABELS_SCHEMA, TYPE_INDEX, TYPE_NAMES, arrow_fields
from builder.spill import SortedSpill
from builder.worker import one_line

TYPE_CONTROL = "type"  # the labeling config's record type <Choices> (labels/record_type.xml)
FLAG_CONTROLS = {"boundary", "note"}  # a wrong-boundary flag and a free note: kept apart, never a type

# The rule, in the order it is applied to each task's annotations (label-studio-converter's):
KEEP_RULE = ("drop skipped/cancelled annotations (was_cancelled); of the rest keep, per annotator, only the "
             "latest (updated_at, then created_at, then annotation id, newest first); that latest answer must "
             "name exactly one schema type in the `type` control, else it is rejected with its reason and "
             "the annotator has no label on that record (an older answer does not come back)")

ANNOTATIONS_SCHEMA = pa.schema([
    pa.field("record_id", pa.string(), nullable=False),
    pa.field("annotator", pa.string(), nullable=False),
    pa.field("label", pa.string(), nullable=False),
    pa.field("created_at", pa.string()),
    pa.field("updated_at", pa.string()),
    pa.field("changed_prediction", pa.bool_(), nullable=False),
    pa.field("annotation_id", pa.int64(), nullable=False),
    pa.field("lead_time", pa.float64()),
])
LABELS_ARROW_SCHEMA = pa.schema([pa.field("record_id", pa.string(), nullable=False), *arrow_fields(LABELS_SCHEMA)])


class ExportError(BuilderError):
    """An export that is not a Label Studio JSON export of record tasks."""


@dataclass
class Labels:
    annotations: list[dict]
    labels: list[dict]
    report: dict
    rejected: list[dict] = field(default_factory=list)


def annotator_name(completed_by) -> str:
    """The user's e-mail (or username); an export made without user details has only their id."""
    if isinstance(completed_by, dict):
        return completed_by.get("email") or completed_by.get("username") or f"user:{completed_by.get('id')}"
    return f"user:{completed_by}"


def recency(a: dict):
    """Sort key of KEEP_RULE: the latest answer is the greatest (updated_at, created_at, id)."""
    return (a.get("updated_at") or "", a.get("created_at") or "", a.get("id") or 0)


def _choices(result: list, control: str) -> list[list]:
    return [r.get("value", {}).get("choices", []) for r in result
            if isinstance(r, dict) and r.get("from_name") == control]


def _predicted(task: dict) -> str | None:
    """The segmenter's type for the task: its newest prediction's `type` choice when the export
    carries predictions in full, else the type push put into the task data with the prediction."""
    preds = [p for p in task.get("predictions") or [] if isinstance(p, dict)]
    for p in sorted(preds, key=lambda p: (p.get("created_at") or "", p.get("id") or 0), reverse=True):
        for choices in _choices(p.get("result") or [], TYPE_CONTROL):
            if len(choices) == 1:
                return choices[0]
    return (task.get("data") or {}).get("segmenter_type")


def _judge(annotation: dict) -> tuple[str | None, str | None]:
    """(label, None) for a usable answer, (None, reason) for one that is not."""
    result = annotation.get("result") or []
    unknown = sorted({r.get("from_name") for r in result if isinstance(r, dict)
                      and r.get("from_name") not in FLAG_CONTROLS | {TYPE_CONTROL}}, key=str)
    if unknown:
        return None, f"answer in unknown control(s) {unknown}; the config has `{TYPE_CONTROL}`, `boundary`, `note`"
    answers = _choices(result, TYPE_CONTROL)
    if not answers:
        return None, f"no type chosen in `{TYPE_CONTROL}`"
    chosen = [c for choices in answers for c in choices]
    if len(chosen) != 1:
        return None, f"{len(chosen)} types chosen {chosen}; exactly one of {', '.join(TYPE_NAMES)} is valid"
    label = chosen[0]
    if label not in TYPE_INDEX:
        return None, f"label {label!r} is not a record type; valid: {', '.join(TYPE_NAMES)}"
    return label, None


def aggregate(answers: list[tuple[str, str]]) -> dict:
    """(annotator, label) pairs of one record → the schemas/labels.v1.json columns. The majority
    is strict: more than half of the annotators; without one the record is disputed."""
    answers = sorted(answers)
    n = len(answers)
    row = {"annotator_labels": [{"annotator": a, "label": lab} for a, lab in answers], "n_annotators": n}
    if n == 0:
        return row | {"label": None, "agreement": None, "label_status": "unlabeled"}
    counts = Counter(lab for _, lab in answers)
    top, c = min(counts.items(), key=lambda kv: (-kv[1], TYPE_INDEX[kv[0]]))
    agreement = c / n
    if n == 1:
        return row | {"label": top, "agreement": 1.0, "label_status": "single"}
    if c * 2 > n:
        return row | {"label": top, "agreement": agreement, "label_status": "agreed"}
    return row | {"label": None, "agreement": agreement, "label_status": "disputed"}


def krippendorff_alpha(per_record: list[list[str]]) -> float | None:
    """Nominal Krippendorff's alpha over records labeled by two or more annotators; None when it is
    undefined (fewer than two such records' values, or a single value used throughout)."""
    return _alpha(Counter(_label_counts(labels) for labels in per_record if len(labels) >= 2))


def _label_counts(labels: list[str]) -> tuple[int, ...]:
    """How many of a record's labels name each type (TYPE_NAMES order)."""
    counts = Counter(labels)
    return tuple(counts[t] for t in TYPE_NAMES)


def _alpha(patterns: Counter) -> float | None:
    """Nominal alpha from label-count patterns (_label_counts of a record labeled twice or more →
    how many records have it): alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c * n_k,
    with o the coincidence matrix, sum over records of (n_u n_u^T - diag n_u) / (m_u - 1)
    (Krippendorff 2011, "Computing Krippendorff's alpha-reliability"). A pull keeps only the few
    distinct patterns, not a row per record: the `krippendorff` package wants the rows (and
    temporaries of 25 floats per record), which at a million records is most of the pull's
    memory; tests/test_labels.py checks this against that package."""
    if not patterns:
        return None
    rows = np.array(list(patterns), dtype=float)
    weight = np.array(list(patterns.values()), dtype=float) / (rows.sum(axis=1) - 1)
    o = np.einsum("u,uv,uw->vw", weight, rows, rows) - np.diag(weight @ rows)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    expected = n * n - (n_c * n_c).sum()
    if np.count_nonzero(n_c) < 2 or expected == 0:
        return None  # everyone chose one and the same type everywhere: no expected disagreement
    return float(1 - (n - 1) * (o.sum() - np.trace(o)) / expected)


def iter_export(stream: BinaryIO) -> Iterator:
    """The tasks of a Label Studio JSON export, read from a binary stream one at a time (ijson's C
    parser): a pull of a million tasks never holds the export, or its parsed form, whole."""
    import ijson

    first = stream.read(1)
    while first in (b" ", b"\t", b"\r", b"\n"):
        first = stream.read(1)
    if first != b"[":
        raise ExportError("the export is not a JSON list of tasks: take it with `builder pull` (JSON format)")
    stream.seek(stream.tell() - 1)
    try:
        yield from ijson.items(stream, "item", use_float=True)
    except ijson.JSONError as e:
        raise ExportError(f"the export is not valid JSON ({one_line(e)}): take it again with `builder pull`") from None


class _Judge:
    """KEEP_RULE applied to an export streamed task by task, in bounded memory.

    Each task is reduced as it arrives to what the rule needs (record id, the segmenter's type, and
    per counted annotation: annotator, recency, the judged label or the reason it was rejected, the
    boundary flag, lead time) and handed to a SortedSpill (sorted runs in the `spill` folder, or
    in memory without one). records() reads them back in record-id order, pools the tasks of a
    record that is in several, and judges each record: the rows come out sorted by record id, as
    one in-memory sort would give them, while memory holds one run."""

    def __init__(self, spill: Path | None = None) -> None:
        self.entries = SortedSpill(spill)
        self.foreign: list = []
        self.tasks = self.skipped = self.drafts = 0

    def add(self, task) -> None:
        data = task.get("data") if isinstance(task, dict) else None
        rid = data.get("record_id") if isinstance(data, dict) else None
        if not isinstance(rid, str) or not rid:
            self.foreign.append(task.get("id") if isinstance(task, dict) else None)
            return
        self.tasks += 1
        self.drafts += len(task.get("drafts") or [])
        answers = []
        for a in task.get("annotations") or []:
            if a.get("was_cancelled"):
                self.skipped += 1
                continue
            result = a.get("result") or []
            try:  # every answer is judged here, superseded or not: one of another shape must not end the pull
                label, reason = _judge(a)
                raw = None if label is not None else [c for cs in _choices(result, TYPE_CONTROL) for c in cs]
                flagged = any("wrong boundary" in c for c in _choices(result, "boundary"))
            except (AttributeError, TypeError) as e:  # e.g. a `value` that is no object, choices that are null
                label, raw, flagged = None, [], False
                reason = f"the result is not in Label Studio's form ({one_line(e)})"
            answers.append([annotator_name(a.get("completed_by")), list(recency(a)), a.get("id"), label, reason, raw,
                            flagged, a.get("created_at"), a.get("updated_at"), a.get("lead_time")])
        self.entries.add(rid, [rid, _predicted(task), answers])

    def records(self) -> Iterator[tuple[str, list[dict], dict]]:
        """(record id, its annotation rows, its labels row) in record-id order; the counters and
        report lists fill as this runs."""
        self.superseded = 0
        self.duplicates: list[str] = []
        self.rejected: list[dict] = []
        self.flags: list[dict] = []
        self.annotators: set[str] = set()
        self.status = Counter()
        self.kept = self.changed = 0
        self.patterns: Counter = Counter()  # of records labeled twice or more: their _label_counts
        for rid, tasks in groupby(self.entries, key=lambda entry: entry[0]):
            (_, predicted, answers), *more = tasks
            for _, _, also in more:
                self.duplicates.append(rid)  # the same record twice in the project: their answers pool
                answers += also
            yield self._record(rid, answers, predicted)

    def _record(self, rid: str, answers: list, predicted: str | None) -> tuple[str, list[dict], dict]:
        latest: dict[str, list] = {}
        for a in sorted(answers, key=lambda a: tuple(a[1]), reverse=True):
            if a[0] in latest:
                self.superseded += 1
            else:
                latest[a[0]] = a
        rows, labels_ = [], []
        for who in sorted(latest):
            _, _, aid, label, reason, raw, flagged, created, updated, lead = latest[who]
            if flagged:
                self.flags.append({"record_id": rid, "annotator": who, "annotation_id": aid})
            if label is None:
                self.rejected.append({"record_id": rid, "annotator": who, "annotation_id": aid, "label": raw,
                                      "reason": reason})
                continue
            labels_.append((who, label))
            rows.append({"record_id": rid, "annotator": who, "label": label, "created_at": created,
                         "updated_at": updated, "changed_prediction": predicted is not None and label != predicted,
                         "annotation_id": int(aid), "lead_time": None if lead is None else float(lead)})
        self.kept += len(rows)
        self.changed += sum(r["changed_prediction"] for r in rows)
        self.annotators.update(who for who, _ in labels_)
        row = {"record_id": rid, **aggregate(labels_)}
        self.status[row["label_status"]] += 1
        if len(labels_) >= 2:
            self.patterns[_label_counts([lab for _, lab in labels_])] += 1
        return rid, rows, row

    def report(self) -> dict:
        return {
            "records": sum(self.status.values()),
            "label_status": {s: self.status.get(s, 0) for s in LABEL_STATUSES},
            "annotations": {"kept": self.kept, "skipped_or_cancelled": self.skipped, "superseded": self.superseded,
                            "rejected": len(self.rejected), "drafts_not_submitted": self.drafts},
            "annotators": sorted(self.annotators),
            "krippendorff_alpha_nominal": _alpha(self.patterns),
            "alpha_records": sum(self.patterns.values()),
            "changed_prediction": self.changed,
            "rejected": self.rejected,
            "boundary_flags": self.flags,
            "tasks_without_record_id": sorted(self.foreign, key=str),
            "records_in_several_tasks": sorted(set(self.duplicates)),
            "keep_rule": KEEP_RULE,
            "labels_schema_version": LABELS_SCHEMA["x-schema-version"],
        }


def from_export(tasks: list) -> Labels:
    """Judge an export (a list of Label Studio tasks made by `builder push`) under KEEP_RULE, in
    memory (`write` streams the same judgement from a file)."""
    if not isinstance(tasks, list):
        raise ExportError("the export is not a JSON list of tasks: take it with `builder pull` (JSON format)")
    judge = _Judge()
    for task in tasks:
        judge.add(task)
    annotations, rows = [], []
    for _, annotation_rows, row in judge.records():
        annotations += annotation_rows
        rows.append(row)
    report = judge.report()
    return Labels(annotations=annotations, labels=rows, report=report, rejected=report["rejected"])


def labels_table(rows: list[dict]) -> pa.Table:
    """labels.parquet's rows: `label` as the class index of the record type enum, or null."""
    rows = [r | {"label": None if r["label"] is None else TYPE_INDEX[r["label"]]} for r in rows]
    return pa.Table.from_pylist(rows, schema=LABELS_ARROW_SCHEMA)


def check_out(out: str | Path) -> None:
    """LABELS may be a new path or an earlier pull's output, nothing else (checked before the
    snapshot is taken, and again before writing)."""
    out = Path(out)
    if out.exists() and not (out / "labels.json").is_file():
        raise InputError(f"{out} exists and is not a LABELS directory: give a new path or an earlier pull's output")


WRITE_ROWS = 8192  # labels rows per Parquet write while a pull streams


def write(out: str | Path, *, snapshot_id: int, project: str, project_id: int, export_bytes: bytes | None = None,
          export_file: Path | None = None) -> dict:
    """Judge the raw export (`export_bytes`, or `export_file`: a downloaded export, moved into the
    LABELS directory) and write the LABELS directory at `out`, atomically: everything goes into a
    temporary sibling that is renamed into place at the end; an existing LABELS is replaced only
    then. The export is read task by task and sorted by record id on disk (see _Judge), so memory
    does not grow with the project. Returns labels.json's content."""
    out = Path(out)
    check_out(out)

    def tables(tmp: Path, tasks: Iterator, sorting: Path) -> dict:
        judge = _Judge(sorting)
        for task in tasks:
            judge.add(task)
        with pq.ParquetWriter(tmp / "annotations.parquet", ANNOTATIONS_SCHEMA) as annotations_out, \
                pq.ParquetWriter(tmp / "labels.parquet", LABELS_ARROW_SCHEMA) as labels_out:
            annotations: list[dict] = []
            rows: list[dict] = []
            for _, annotation_rows, row in judge.records():
                annotations += annotation_rows
                rows.append(row)
                if len(rows) >= WRITE_ROWS:
                    annotations_out.write_table(pa.Table.from_pylist(annotations, schema=ANNOTATIONS_SCHEMA))
                    labels_out.write_table(labels_table(rows))
                    annotations, rows = [], []
            if rows or not judge.tasks:  # the last rows; an export of no record still has its (empty) tables
                annotations_out.write_table(pa.Table.from_pylist(annotations, schema=ANNOTATIONS_SCHEMA))
                labels_out.write_table(labels_table(rows))
        return judge.report()

    return write_pull(out, export_bytes=export_bytes, export_file=export_file, snapshot_id=snapshot_id,
                      project=project, project_id=project_id, report_file="labels.json", write_tables=tables)


def write_pull(out: Path, *, export_bytes: bytes | None, export_file: Path | None, snapshot_id: int, project: str,
               project_id: int, report_file: str, write_tables: Callable[[Path, Iterator, Path], dict]) -> dict:
    """A pull's directory (record or document mode), atomically: the raw export (`export_bytes`, or
    `export_file` moved in; read-only, its sha256 in the report), what `write_tables(tmp, tasks,
    sorting)` writes from the export's tasks (read one at a time, iter_export) with an empty folder
    `sorting` for its SortedSpill, and the JSON report it returns, `report_file`, go into a temporary
    sibling renamed into place at the end; an existing `out` is replaced only then, and a failure
    leaves it as it was. Returns the report as written."""
    if (export_bytes is None) == (export_file is None):
        raise TypeError("give the export as export_bytes or as export_file")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        export_name = f"export-{snapshot_id}.json"
        kept = tmp / export_name
        if export_file is None:
            kept.write_bytes(export_bytes)
        else:
            os.replace(export_file, kept)
        os.chmod(kept, 0o444)  # the snapshot as downloaded: immutable
        sorting = tmp / "sorting"
        sorting.mkdir()
        with open(kept, "rb") as f:
            report = write_tables(tmp, iter_export(f), sorting)
        sorting.rmdir()  # SortedSpill removes its runs as it reads them back
        report = {"project": {"name": project, "id": project_id}, "snapshot_id": snapshot_id,
                  "export_file": export_name, "export_sha256": sha256_file(kept), **report}
        (tmp / report_file).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report
