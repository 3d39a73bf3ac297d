"""The `segmentation` task (schemas/tasks.v1.json, `document_tasks`): a segmenter's records scored
against the human-gold documents of a release split (records with origin "human", from document
mode).

Expected input: a set of records per document, as a .parquet file or directory (a `builder
segment` output is one as it is), .jsonl or .csv, with the columns doc_id, char_start, char_end
(Python string indices into the raw text), type (a name or its class index), and the parent as
either record_id + parent_id (the parent's record_id among the same document's predictions) or
position + parent_position. Predictions for documents that are not human gold in the split are
ignored and counted (a segmenter's output covers every page); a human-gold document without any
prediction is refused unless allow_missing, when its spans count as missed.

Figures. Span F1 per type with exact boundaries (same start, end and type) and with the overlap
rule of document mode (one-to-one matches of character IoU >= 0.5, same type); the official
metric is the macro over types (present in gold or predictions) of the exact F1. Parent and depth
accuracy over gold spans matched exactly by boundaries whatever their type: the parent is right
when both have none or the two parents have the same boundaries. The interval is the percentile
bootstrap over documents of tasks.v1.json (same resamples, level and seed as the other tasks);
per-domain figures are the official metric on each domain's documents.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from builder.docmode import match_spans
from builder.errors import InputError
from builder.evaluate import (BOOTSTRAP, TASKS_SCHEMA, NoGoldError, PredictionError, Release, official_line,
                              report_head)
from builder.schema import TYPE_INDEX, TYPE_NAMES

TASK = "segmentation"
SPEC = TASKS_SCHEMA["document_tasks"][TASK]
FORMATS = (".parquet", ".jsonl", ".csv")
_GOLD_COLUMNS = ["record_id", "doc_id", "type", "char_start", "char_end", "parent_id", "depth", "domain", "origin"]
_SHOW = 5


# ------------------------------------------------------------------------------------------- reading


def read_predictions(path: str | os.PathLike) -> pa.Table:
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.parquet"))
        if not files:
            raise PredictionError(f"{path}: a directory of predictions holds .parquet files; found none")
        try:
            return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
        except (pa.ArrowException, OSError) as e:
            raise PredictionError(f"{path}: cannot read its .parquet files as one table: "
                                  f"{str(e).splitlines()[0]}") from None
    if path.suffix.lower() not in FORMATS:
        raise PredictionError(f"{path}: unsupported prediction file type {path.suffix!r}; valid: {', '.join(FORMATS)}")
    if not path.is_file():
        raise PredictionError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(path)
        if path.suffix.lower() == ".csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={"doc_id": pa.string(), "record_id": pa.string(), "parent_id": pa.string(),
                              "type": pa.string()}))
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, OSError, ValueError) as e:
        raise PredictionError(f"{path}: cannot read as {path.suffix[1:]}: {str(e).splitlines()[0]}") from None


def _as_table(predictions) -> pa.Table:
    if isinstance(predictions, (str, os.PathLike)):
        return read_predictions(predictions)
    if isinstance(predictions, pa.Table):
        return predictions
    if isinstance(predictions, list):
        return pa.Table.from_pylist(predictions)
    if isinstance(predictions, dict):
        return pa.table(predictions)
    if hasattr(predictions, "__arrow_c_stream__"):
        return pa.table(predictions)
    raise PredictionError("segmentation predictions are a file, a pyarrow Table, a list of record dicts or a dict "
                          "of columns, not " + type(predictions).__name__)


def prediction_spans(table: pa.Table) -> dict[str, list[dict]]:
    """Checked predictions → doc_id → spans {start, end, type, parent (index into the list) or None}."""
    cols = set(table.column_names)
    need = [c for c in ("doc_id", "char_start", "char_end", "type") if c not in cols]
    if need:
        raise PredictionError(f"predictions lack the column(s) {', '.join(need)}; a segmentation prediction has "
                              f"doc_id, char_start, char_end, type and the parent as record_id + parent_id or "
                              f"position + parent_position (found: {', '.join(sorted(cols)) or 'none'})")
    if {"record_id", "parent_id"} <= cols:
        key, parent_key = "record_id", "parent_id"
    elif {"position", "parent_position"} <= cols:
        key, parent_key = "position", "parent_position"
    else:
        raise PredictionError("predictions name no parents: give record_id + parent_id (a parent's record_id) or "
                              "position + parent_position (a parent's position in the same document)")
    rows = table.select(["doc_id", "char_start", "char_end", "type", key, parent_key]
                        + (["depth"] if "depth" in cols else [])).to_pylist()
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for n, r in enumerate(rows):
        t = r["type"]
        if isinstance(t, int) and not isinstance(t, bool) and 0 <= t < len(TYPE_NAMES):
            t = TYPE_NAMES[t]
        if t not in TYPE_INDEX:
            raise PredictionError(f"prediction row {n}: type {r['type']!r} is not a record type; valid: "
                                  f"{', '.join(TYPE_NAMES)} (or their indices 0..{len(TYPE_NAMES) - 1})")
        s, e = r["char_start"], r["char_end"]
        if not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e):
            raise PredictionError(f"prediction row {n} (document {r['doc_id']!r}): char_start {s!r}, char_end {e!r}; "
                                  f"offsets are integers with 0 <= char_start < char_end")
        if not isinstance(r["doc_id"], str):
            raise PredictionError(f"prediction row {n}: doc_id {r['doc_id']!r} is not a string")
        by_doc[r["doc_id"]].append({"start": s, "end": e, "type": t, "key": r[key], "parent_key": r[parent_key],
                                    "depth": r.get("depth")})
    out: dict[str, list[dict]] = {}
    for doc_id, spans in by_doc.items():
        index = {}
        for i, sp in enumerate(spans):
            if sp["key"] is None or sp["key"] in index:
                raise PredictionError(f"document {doc_id!r}: {key} {sp['key']!r} is missing or given twice; each "
                                      f"predicted record has its own")
            index[sp["key"]] = i
        seen = set()
        for sp in spans:
            if (sp["start"], sp["end"], sp["type"]) in seen:
                raise PredictionError(f"document {doc_id!r}: the {sp['type']} span {sp['start']}:{sp['end']} is "
                                      f"predicted twice")
            seen.add((sp["start"], sp["end"], sp["type"]))
            pk = sp["parent_key"]
            if pk is not None and pk not in index:
                raise PredictionError(f"document {doc_id!r}: {parent_key} {pk!r} names no predicted record of that "
                                      f"document")
            sp["parent"] = None if pk is None else index[pk]
        out[doc_id] = spans
    return out


def _depths(spans: list[dict]) -> list[int]:
    """A predicted record's depth: its own `depth` when given, else from its parents as the schema
    defines it (a quote has its container's depth; a reply one more than what it answers)."""
    memo: dict[int, int] = {}

    def depth(i: int, trail: frozenset = frozenset()) -> int:
        if spans[i].get("depth") is not None:
            return int(spans[i]["depth"])
        if i in memo:
            return memo[i]
        p = spans[i]["parent"]
        if p is None or p in trail:
            d = 0
        else:
            d = depth(p, trail | {i}) + (0 if spans[i]["type"] == "quote" else 1)
        memo[i] = d
        return d

    return [depth(i) for i in range(len(spans))]


# ------------------------------------------------------------------------------------------- scoring

K = len(TYPE_NAMES)


def doc_counts(gold: list[dict], pred: list[dict]) -> dict:
    """One document's counts: per type tp/fp/fn exact and overlap; parent/depth hits over spans
    matched by boundaries."""
    c = {"exact": np.zeros((K, 3), np.int64), "overlap": np.zeros((K, 3), np.int64), "matched": 0,
         "parent": 0, "depth": 0}
    for t in range(K):
        name = TYPE_NAMES[t]
        g = [(x["start"], x["end"]) for x in gold if x["type"] == name]
        p = [(x["start"], x["end"]) for x in pred if x["type"] == name]
        for kind, overlap in (("exact", False), ("overlap", True)):
            m = len(match_spans(g, p, overlap=overlap))
            c[kind][t] = (m, len(p) - m, len(g) - m)
    gs = [(x["start"], x["end"]) for x in gold]
    ps = [(x["start"], x["end"]) for x in pred]
    matched = match_spans(gs, ps, overlap=False)
    gd, pd = _depths(gold), _depths(pred)
    for i, j in matched.items():
        c["matched"] += 1
        gp, pp = gold[i]["parent"], pred[j]["parent"]
        c["parent"] += (gp is None and pp is None) or (
            gp is not None and pp is not None and gs[gp] == ps[pp])
        c["depth"] += gd[i] == pd[j]
    return c


def _f1(tp, fp, fn):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), np.nan)


def macro(counts: np.ndarray) -> np.ndarray:
    """counts (..., K, 3) of tp/fp/fn → macro F1 over the types present in gold or predictions."""
    f1 = _f1(counts[..., 0], counts[..., 1], counts[..., 2])
    with np.errstate(invalid="ignore"):
        present = (~np.isnan(f1)).sum(axis=-1)
        return np.where(present > 0, np.nansum(f1, axis=-1) / np.maximum(present, 1), np.nan)


def _per_type(counts: np.ndarray) -> dict:
    out = {}
    for t, name in enumerate(TYPE_NAMES):
        tp, fp, fn = (int(x) for x in counts[t])
        out[name] = {"precision": tp / (tp + fp) if tp + fp else 0.0, "recall": tp / (tp + fn) if tp + fn else 0.0,
                     "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None, "support": tp + fn,
                     "predicted": tp + fp}
    return out


class SegmentationEvaluator:
    """The `segmentation` task on one split: reads the human-gold documents once."""

    def __init__(self, release, split: str = "test", *, resamples: int = BOOTSTRAP["resamples"],
                 seed: int = BOOTSTRAP["seed"], level: float = BOOTSTRAP["level"]):
        self.release = Release.open(release)
        self.split = split
        self.resamples, self.seed, self.level = resamples, seed, level
        if "origin" not in self.release.columns():
            raise NoGoldError(f"release {self.release.label} has no `origin` column: it predates document mode and "
                              f"has no human-gold documents")
        t = self.release.read(split, _GOLD_COLUMNS)
        rows = [r for r in t.to_pylist() if r["origin"] == "human"]
        if not rows:
            raise NoGoldError(f"split {split!r} of release {self.release.label} has no human-gold documents "
                              f"(records with origin \"human\"): label documents in document mode, pull them and "
                              f"publish with --documents")
        self.domains: dict[str, str | None] = {}
        by_doc: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            kind = TYPE_NAMES[r["type"]] if isinstance(r["type"], int) else r["type"]
            by_doc[r["doc_id"]].append({"start": r["char_start"], "end": r["char_end"], "type": kind,
                                        "record_id": r["record_id"], "parent_id": r["parent_id"], "depth": r["depth"]})
            self.domains[r["doc_id"]] = r["domain"]
        self.gold: dict[str, list[dict]] = {}
        for doc_id, spans in sorted(by_doc.items()):
            index = {s["record_id"]: i for i, s in enumerate(spans)}
            for s in spans:
                s["parent"] = index.get(s["parent_id"])
            self.gold[doc_id] = spans
        self.docs = sorted(self.gold)

    def evaluate(self, predictions, *, allow_missing: bool = False) -> dict:
        pred = prediction_spans(_as_table(predictions))
        missing = [d for d in self.docs if d not in pred]
        if missing and not allow_missing:
            raise PredictionError(f"no predictions for {len(missing)} of the {len(self.docs)} human-gold documents of "
                                  f"split {self.split!r} (first: {', '.join(missing[:_SHOW])}); predict every "
                                  f"document, or pass --allow-missing to count their spans as missed")
        ignored = sorted(set(pred) - set(self.gold))
        per_doc = [doc_counts(self.gold[d], pred.get(d, [])) for d in self.docs]
        exact = np.stack([c["exact"] for c in per_doc])
        overlap = np.stack([c["overlap"] for c in per_doc])
        tot_e, tot_o = exact.sum(0), overlap.sum(0)
        matched = sum(c["matched"] for c in per_doc)
        score = float(macro(tot_e))
        ci = None
        if self.resamples:
            rng = np.random.default_rng(self.seed)
            n = len(self.docs)
            stats = np.empty(self.resamples)
            for b in range(self.resamples):
                w = np.bincount(rng.integers(0, n, size=n), minlength=n)
                stats[b] = macro(np.tensordot(w, exact, axes=1))
            a = (1 - self.level) / 2
            low, high = np.nanpercentile(stats, [100 * a, 100 * (1 - a)])
            ci = {"metric": SPEC["metric"], "low": float(low), "high": float(high), "level": self.level,
                  "resamples": self.resamples, "seed": self.seed, "unit": BOOTSTRAP["unit"], "documents": n}
        return {
            "task": TASK,
            "split": self.split,
            "gold": "human",
            "gold_description": SPEC["gold"],
            "release": {"name": self.release.name, "version": self.release.version,
                        "fingerprint": self.release.fingerprint},
            "metric": SPEC["metric"],
            "score": score,
            "documents": len(self.docs),
            "missing_documents": len(missing),
            "ignored_documents": len(ignored),
            "gold_spans": int(tot_e[:, 0].sum() + tot_e[:, 2].sum()),
            "predicted_spans": int(tot_e[:, 0].sum() + tot_e[:, 1].sum()),
            "macro_f1_exact": score,
            "macro_f1_overlap": float(macro(tot_o)),
            "per_type": {"exact": _per_type(tot_e), "overlap": _per_type(tot_o)},
            "matched_spans": matched,
            "parent_accuracy": sum(c["parent"] for c in per_doc) / matched if matched else None,
            "depth_accuracy": sum(c["depth"] for c in per_doc) / matched if matched else None,
            "ci": ci,
            "per_domain": self._per_domain(exact),
        }

    def _per_domain(self, exact: np.ndarray) -> dict | None:
        names = [self.domains[d] for d in self.docs]
        if all(n is None for n in names):
            return None
        groups: dict[str, list[int]] = defaultdict(list)
        for i, n in enumerate(names):
            if n is not None:
                groups[n].append(i)
        domains = {g: {"documents": len(ix), "score": float(macro(exact[ix].sum(0)))}
                   for g, ix in sorted(groups.items())}
        worst = min(domains, key=lambda g: (domains[g]["score"], g))
        return {"metric": SPEC["metric"], "domains": domains, "worst": {"domain": worst, **domains[worst]},
                "unknown_domain": sum(n is None for n in names)}


def evaluate(predictions, release, *, split: str = "test", allow_missing: bool = False) -> dict:
    evaluator = SegmentationEvaluator(release, split)
    return evaluator.evaluate(predictions, allow_missing=allow_missing)


def format_report(r: dict) -> str:
    lines = [*report_head(r),
             f"{r['documents']} human-gold documents, {r['gold_spans']} gold spans, {r['predicted_spans']} predicted "
             f"spans; documents without predictions (all missed): {r['missing_documents']}; predicted documents "
             f"outside the gold, ignored: {r['ignored_documents']}", ""]
    lines.append(official_line(r))
    lines.append(f"macro span F1 overlap {r['macro_f1_overlap']:.4f}   parent accuracy "
                 f"{_num(r['parent_accuracy'])}   depth accuracy {_num(r['depth_accuracy'])} "
                 f"(over {r['matched_spans']} spans matched by boundaries)")
    lines.append("")
    lines.append(f"{'type':<8}  {'exact P':>7}  {'R':>6}  {'F1':>6}  {'overlap F1':>10}  {'gold':>5}  {'pred':>5}")
    for name in TYPE_NAMES:
        e, o = r["per_type"]["exact"][name], r["per_type"]["overlap"][name]
        lines.append(f"{name:<8}  {e['precision']:7.4f}  {e['recall']:6.4f}  {_num(e['f1']):>6}  {_num(o['f1']):>10}  "
                     f"{e['support']:5d}  {e['predicted']:5d}")
    dom = r["per_domain"]
    lines.append("")
    if dom is None:
        lines.append("per domain: the release knows no domains")
    else:
        lines.append(f"per domain ({r['metric']}):")
        for name, d in dom["domains"].items():
            lines.append(f"  {name}: {d['score']:.4f} ({d['documents']} documents)")
        lines.append(f"worst domain: {dom['worst']['domain']} ({dom['worst']['score']:.4f})")
    return "\n".join(lines)


def _num(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.4f}"



def benchmark_rows(release, predictions, *, baseline: str = "segmenter",
                   release_ref: str = "RELEASE_DIR") -> list[dict]:
    """The card's benchmark row of the segmentation task: `predictions` (the segmenter's records the
    release was published from) scored on the test split's human-gold documents; [] when the test
    split has none. Figures rounded as the other tasks' rows."""
    try:
        ev = SegmentationEvaluator(release, "test")
    except (NoGoldError, InputError):
        return []
    result = ev.evaluate(predictions, allow_missing=True)
    return [{
        "task": TASK,
        "metric": SPEC["metric_label"],
        "baseline": baseline,
        "score": round(result["score"], 4),
        "ci_low": round(result["ci"]["low"], 4),
        "ci_high": round(result["ci"]["high"], 4),
        "command": f"builder evaluate RECORDS --release {release_ref} --task segmentation  # RECORDS: the "
                   f"`builder segment` output the release was published from",
    }]
