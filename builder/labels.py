"""Label Studio export → per-annotator rows → aggregated labels, agreement, Krippendorff's alpha.

Pure over the export's JSON (a list of tasks as `builder pull` downloads it); studio.py fetches it,
this module judges it and writes the LABELS directory:

  export-<snapshot id>.json   the raw export, byte for byte as downloaded (its sha256 in labels.json)
  annotations.parquet         one row per (record, annotator) that counts
  labels.parquet              one row per pushed record: record_id + schemas/labels.v1.json's columns
  labels.json                 project, snapshot, checksum, counts per status, alpha, what was rejected
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from builder.errors import BuilderError, InputError
from builder.schema import LABEL_STATUSES, LABELS_SCHEMA, TYPE_INDEX, TYPE_NAMES, arrow_fields

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
    import krippendorff
    import numpy as np

    rows = [[Counter(labels)[t] for t in TYPE_NAMES] for labels in per_record if len(labels) >= 2]
    if not rows:
        return None
    counts = np.array(rows, dtype=float)
    if np.count_nonzero(counts.sum(axis=0)) < 2:
        return None  # everyone chose one and the same type everywhere: expected disagreement is 0
    alpha = float(krippendorff.alpha(value_counts=counts, value_domain=list(range(len(TYPE_NAMES))),
                                     level_of_measurement="nominal"))
    return None if math.isnan(alpha) else alpha


def from_export(tasks: list) -> Labels:
    """Judge an export (a list of Label Studio tasks made by `builder push`) under KEEP_RULE."""
    if not isinstance(tasks, list):
        raise ExportError("the export is not a JSON list of tasks: take it with `builder pull` (JSON format)")
    by_record: dict[str, list[dict]] = {}
    predicted: dict[str, str | None] = {}
    skipped = superseded = drafts = 0
    foreign_tasks: list[int] = []
    duplicate_tasks: list[str] = []
    for task in tasks:
        data = task.get("data") if isinstance(task, dict) else None
        rid = data.get("record_id") if isinstance(data, dict) else None
        if not isinstance(rid, str) or not rid:
            foreign_tasks.append(task.get("id") if isinstance(task, dict) else None)
            continue
        if rid in by_record:
            duplicate_tasks.append(rid)  # the same record twice in the project: their answers pool
        by_record.setdefault(rid, [])
        predicted.setdefault(rid, _predicted(task))
        drafts += len(task.get("drafts") or [])
        for a in task.get("annotations") or []:
            if a.get("was_cancelled"):
                skipped += 1
                continue
            by_record[rid].append(a)

    annotations: list[dict] = []
    rejected: list[dict] = []
    flags: list[dict] = []
    rows: list[dict] = []
    per_record_labels: list[list[str]] = []
    for rid in sorted(by_record):
        latest: dict[str, dict] = {}
        for a in sorted(by_record[rid], key=recency, reverse=True):
            who = annotator_name(a.get("completed_by"))
            if who in latest:
                superseded += 1
            else:
                latest[who] = a
        answers = []
        for who in sorted(latest):
            a = latest[who]
            result = a.get("result") or []
            if any("wrong boundary" in c for c in _choices(result, "boundary")):
                flags.append({"record_id": rid, "annotator": who, "annotation_id": a.get("id")})
            label, reason = _judge(a)
            if label is None:
                raw = [c for cs in _choices(result, TYPE_CONTROL) for c in cs]
                rejected.append({"record_id": rid, "annotator": who, "annotation_id": a.get("id"),
                                 "label": raw, "reason": reason})
                continue
            answers.append((who, label))
            lead = a.get("lead_time")
            annotations.append({
                "record_id": rid, "annotator": who, "label": label,
                "created_at": a.get("created_at"), "updated_at": a.get("updated_at"),
                "changed_prediction": predicted[rid] is not None and label != predicted[rid],
                "annotation_id": int(a["id"]), "lead_time": None if lead is None else float(lead),
            })
        row = aggregate(answers)
        rows.append({"record_id": rid, **row})
        per_record_labels.append([lab for _, lab in answers])

    counts = Counter(r["label_status"] for r in rows)
    report = {
        "records": len(rows),
        "label_status": {s: counts.get(s, 0) for s in LABEL_STATUSES},
        "annotations": {"kept": len(annotations), "skipped_or_cancelled": skipped, "superseded": superseded,
                        "rejected": len(rejected), "drafts_not_submitted": drafts},
        "annotators": sorted({a["annotator"] for a in annotations}),
        "krippendorff_alpha_nominal": krippendorff_alpha(per_record_labels),
        "alpha_records": sum(1 for labels in per_record_labels if len(labels) >= 2),
        "changed_prediction": sum(a["changed_prediction"] for a in annotations),
        "rejected": rejected,
        "boundary_flags": flags,
        "tasks_without_record_id": sorted(foreign_tasks, key=str),
        "records_in_several_tasks": sorted(set(duplicate_tasks)),
        "keep_rule": KEEP_RULE,
        "labels_schema_version": LABELS_SCHEMA["x-schema-version"],
    }
    return Labels(annotations=annotations, labels=rows, report=report, rejected=rejected)


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


def write(out: str | Path, *, export_bytes: bytes, snapshot_id: int, project: str, project_id: int) -> dict:
    """Judge the raw export and write the LABELS directory at `out`, atomically: everything goes
    into a temporary sibling that is renamed into place at the end; an existing LABELS is replaced
    only then. Returns labels.json's content."""
    out = Path(out)
    try:
        tasks = json.loads(export_bytes)
    except ValueError as e:
        raise ExportError(f"the export of project {project!r} is not JSON ({e})") from None
    result = from_export(tasks)
    check_out(out)

    def tables(tmp: Path) -> None:
        pq.write_table(pa.Table.from_pylist(result.annotations, schema=ANNOTATIONS_SCHEMA),
                       tmp / "annotations.parquet")
        pq.write_table(labels_table(result.labels), tmp / "labels.parquet")

    return write_pull(out, export_bytes=export_bytes, snapshot_id=snapshot_id, project=project,
                      project_id=project_id, report_file="labels.json", report=result.report, write_tables=tables)


def write_pull(out: Path, *, export_bytes: bytes, snapshot_id: int, project: str, project_id: int,
               report_file: str, report: dict, write_tables) -> dict:
    """A pull's directory (record or document mode), atomically: the raw export (read-only, its
    sha256 in the report), what `write_tables(tmp)` writes and the JSON report `report_file` go
    into a temporary sibling renamed into place at the end; an existing `out` is replaced only
    then, and a failure leaves it as it was. Returns the report as written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        export_name = f"export-{snapshot_id}.json"
        (tmp / export_name).write_bytes(export_bytes)
        os.chmod(tmp / export_name, 0o444)  # the snapshot as downloaded: immutable
        write_tables(tmp)
        report = {"project": {"name": project, "id": project_id}, "snapshot_id": snapshot_id,
                  "export_file": export_name, "export_sha256": hashlib.sha256(export_bytes).hexdigest(), **report}
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
