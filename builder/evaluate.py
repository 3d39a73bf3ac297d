"""The official evaluator: tasks (schemas/tasks.v1.json) → checked predictions → metrics, a bootstrap
interval over documents, per-domain figures, and the card's benchmark table.

Like OGB's and WILDS' evaluators, it states the input it expects and checks ids, splits, labels and
the release's fingerprint before computing anything; it returns a dict for code (`Evaluator.evaluate`,
`evaluate`) and a printable summary for people (`format_report`). Every figure is computed from one
confusion matrix by the same small functions, so a per-domain or resampled figure is the overall one
applied to a subset.

A release is read from its directory only (data/{split}-NNNNN-of-NNNNN.parquet, and manifest.json when
it is sealed), so this module also works on a staged release before publish seals it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builder.errors import BuilderError, InputError
from builder.schema import TYPE_NAMES, json_schema

TASKS_SCHEMA_FILE = "tasks.v1.json"
TASKS_SCHEMA = json_schema(TASKS_SCHEMA_FILE)
BOOTSTRAP = TASKS_SCHEMA["bootstrap"]
HUMAN_STATUSES: tuple[str, ...] = tuple(TASKS_SCHEMA["gold"]["human"]["statuses"])
GOLDS = ("human", "silver")
PREDICTION_FORMATS = (".csv", ".jsonl", ".parquet")
FINGERPRINT_KEY = "fingerprint"  # a prediction file's column, or its Parquet key-value metadata
_SHOW = 5  # how many offending ids an error names

__all__ = [
    "TASKS", "Task", "Release", "Evaluator", "evaluate", "scores", "format_report", "read_predictions",
    "write_predictions", "task_frame", "benchmark_table", "PredictionError", "ReleaseMismatchError",
    "NoGoldError", "ReleaseError",
]


class ReleaseError(InputError):
    """A release directory that cannot be read."""


class PredictionError(InputError):
    """Predictions that cannot be scored: unknown or duplicate ids, labels that are not classes, missing records."""


class ReleaseMismatchError(PredictionError):
    """Predictions made for another release or another split."""


class NoGoldError(BuilderError):
    """A release without human labels for the task, evaluated without --gold silver."""


# ---------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    inputs: tuple[str, ...]
    labels: tuple[str, ...]
    metric: str
    metric_label: str  # how people write it: the card's table, reports
    metric_description: str
    population: tuple[str, ...] | None  # segmenter types that belong to the task; None: every record
    origins: tuple[str, ...]  # who made the records that belong to the task (record.v1.json `origin`)
    positive: str | None  # the positive class of a binary task

    @classmethod
    def from_schema(cls, name: str, spec: dict) -> Task:
        return cls(
            name=name,
            description=spec["description"],
            inputs=tuple(spec["inputs"]),
            labels=tuple(spec["labels"]),
            metric=spec["metric"],
            metric_label=spec["metric_label"],
            metric_description=spec["metric_description"],
            population=tuple(spec["population"]["in"]) if spec["population"]["in"] is not None else None,
            origins=tuple(spec["population"].get("origin", ["segmenter"])),
            positive=spec.get("positive"),
        )

    def type_to_label(self) -> np.ndarray:
        """For each record type index (TYPE_NAMES), the index of the task label it stands for."""
        if self.positive is None:
            return np.array([self.labels.index(t) for t in TYPE_NAMES], dtype=np.int64)
        negative = next(label for label in self.labels if label != self.positive)
        pos_types = set(TASKS_SCHEMA["tasks"][self.name]["target"]["positive_if"])
        return np.array([self.labels.index(self.positive if t in pos_types else negative) for t in TYPE_NAMES],
                        dtype=np.int64)

    def in_population(self) -> np.ndarray:
        """For each record type index, whether a record of that segmenter type belongs to the task."""
        return np.array([self.population is None or t in self.population for t in TYPE_NAMES])

    def members(self, table: pa.Table) -> np.ndarray:
        """Which rows of a split (columns type, and origin when the release has it) belong to the task."""
        types = _class_indices(table["type"], TYPE_NAMES).to_numpy(zero_copy_only=False)
        mask = self.in_population()[types]
        if "origin" in table.column_names:
            codes, names = _codes(table["origin"])
            mask &= np.append(np.isin(names, self.origins), False)[codes]
        return mask


TASKS: dict[str, Task] = {name: Task.from_schema(name, spec) for name, spec in TASKS_SCHEMA["tasks"].items()}


def get_task(name: str | Task) -> Task:
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]


# -------------------------------------------------------------------------------------------- release

_SPLIT_FILE = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$")


@dataclass(frozen=True)
class Release:
    """A release directory: its split files, and its identity when manifest.json is there."""

    path: Path
    files: dict[str, tuple[Path, ...]]
    name: str | None = None
    version: str | None = None
    fingerprint: str | None = None

    @classmethod
    def open(cls, path: str | os.PathLike | Release) -> Release:
        if isinstance(path, Release):
            return path
        path = Path(path)
        data = path / "data"
        files: dict[str, list[Path]] = {}
        if data.is_dir():
            for f in sorted(data.iterdir()):
                m = _SPLIT_FILE.match(f.name)
                if m:
                    files.setdefault(m["split"], []).append(f)
        if not files:
            raise ReleaseError(f"{path} is not a release directory: expected data/SPLIT-NNNNN-of-NNNNN.parquet "
                               "files (and manifest.json), as `builder publish` writes them")
        for split, fs in files.items():
            total = int(_SPLIT_FILE.match(fs[0].name)["n"])
            if len(fs) != total:
                raise ReleaseError(f"{path}: split {split!r} has {len(fs)} of its {total} files; the release is incomplete")
        manifest = path / "manifest.json"
        meta: dict[str, Any] = {}
        if manifest.is_file():
            try:
                meta = json.loads(manifest.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise ReleaseError(f"{manifest}: not valid JSON ({e})") from None
        return cls(path=path, files={s: tuple(fs) for s, fs in files.items()}, name=meta.get("name"),
                   version=meta.get("version"), fingerprint=meta.get("fingerprint"))

    @property
    def splits(self) -> tuple[str, ...]:
        order = {"train": 0, "validation": 1, "test": 2}
        return tuple(sorted(self.files, key=lambda s: (order.get(s, 3), s)))

    @property
    def label(self) -> str:
        if self.name and self.version:
            return f"{self.name} {self.version}"
        return str(self.path)

    def check_split(self, split: str) -> None:
        if split not in self.files:
            raise InputError(f"release {self.label} has no split {split!r}; its splits: {', '.join(self.splits)}")

    def columns(self) -> tuple[str, ...]:
        with self._damaged():
            return tuple(pq.read_schema(next(iter(self.files.values()))[0]).names)

    @contextmanager
    def _damaged(self):
        """A data file that does not read as Parquet: one line pointing at `builder verify`."""
        try:
            yield
        except (pa.ArrowException, OSError) as e:
            raise InputError(f"release {self.label}: a data file cannot be read ({str(e).splitlines()[0]}); "
                             f"run `builder verify {self.path}`") from None

    def read(self, split: str, columns: list[str], dictionary: tuple[str, ...] = ()) -> pa.Table:
        """The columns of a split that the release has; `dictionary` columns come as dictionary
        arrays, straight from Parquet's dictionary pages (no string per row is built)."""
        self.check_split(split)
        present = set(self.columns())
        cols = [c for c in columns if c in present]
        # one thread: on a small or busy machine pyarrow's pool costs more than it saves here
        with self._damaged():
            tables = [pq.read_table(f, columns=cols, use_threads=False,
                                    read_dictionary=[c for c in dictionary if c in cols]) for f in self.files[split]]
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _class_indices(col: pa.ChunkedArray | pa.Array, names: tuple[str, ...]) -> pa.Array:
    """A ClassLabel column as int64 indices (nulls kept); a release that stored names is read the same way."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return pc.index_in(arr, value_set=pa.array(names)).cast(pa.int64())
    return arr.cast(pa.int64())


# --------------------------------------------------------------------------------------- predictions


def read_predictions(path: str | os.PathLike) -> tuple[pa.Table, str | None]:
    """A prediction file (CSV, JSONL or Parquet with the columns record_id and prediction) as a table,
    and the release fingerprint it carries (Parquet metadata or a `fingerprint` column), if any."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PREDICTION_FORMATS:
        raise PredictionError(f"{path}: unsupported prediction file type {path.suffix!r}; "
                              f"valid: {', '.join(PREDICTION_FORMATS)}")
    if not path.is_file():
        raise PredictionError(f"{path}: no such file")
    fingerprint = None
    try:
        if suffix == ".parquet":
            # the prediction column as a dictionary: a handful of names, resolved once each
            table = pq.read_table(path, use_threads=False, read_dictionary=["prediction"])
            meta = table.schema.metadata or {}
            if FINGERPRINT_KEY.encode() in meta:
                fingerprint = meta[FINGERPRINT_KEY.encode()].decode()
        elif suffix == ".csv":
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={"record_id": pa.string(), "prediction": pa.string(), FINGERPRINT_KEY: pa.string()},
                strings_can_be_null=False))
        else:
            table = _read_jsonl(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise PredictionError(f"{path}: cannot read as {suffix[1:]}: {str(e).splitlines()[0]}") from None
    missing = [c for c in ("record_id", "prediction") if c not in table.column_names]
    if missing:
        raise PredictionError(f"{path}: missing column(s) {', '.join(missing)}; a prediction file has the columns "
                              f"record_id and prediction (found: {', '.join(table.column_names) or 'none'})")
    if FINGERPRINT_KEY in table.column_names:
        values = pc.unique(table[FINGERPRINT_KEY].drop_null()).to_pylist()
        if len(values) > 1:
            raise PredictionError(f"{path}: the fingerprint column holds {len(values)} different values; "
                                  "a prediction file is made for one release")
        if values:
            fingerprint = fingerprint or values[0]
    return table, fingerprint


def _read_jsonl(path: Path) -> pa.Table:
    import pyarrow.json as pajson

    try:
        return pajson.read_json(path)
    except pa.ArrowInvalid:
        pass  # mixed value types (names and indices) or a bad line: read line by line for a precise answer
    ids, preds, fps = [], [], []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise PredictionError(f"{path}:{n}: not UTF-8 text ({e.reason}); a .jsonl file is UTF-8 JSON, "
                                      f"one object per line") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise PredictionError(f"{path}:{n}: not a JSON object ({e.msg})") from None
            if not isinstance(row, dict):
                raise PredictionError(f"{path}:{n}: not a JSON object")
            if row.get("record_id") is not None and not isinstance(row["record_id"], str):
                raise PredictionError(f"{path}:{n}: record_id {row['record_id']!r} is not a string; record ids are "
                                      f"strings, as in the release")
            ids.append(row.get("record_id"))
            p = row.get("prediction")
            preds.append(None if p is None else str(p))
            fps.append(row.get(FINGERPRINT_KEY))
    cols = {"record_id": pa.array(ids, pa.string()), "prediction": pa.array(preds, pa.string())}
    if any(v is not None for v in fps):
        cols[FINGERPRINT_KEY] = pa.array(fps, pa.string())
    return pa.table(cols)


def _as_table(predictions: Any) -> pa.Table:
    """In-memory predictions: a pyarrow Table, a pandas or polars DataFrame, {"record_id": [...],
    "prediction": [...]}, or a mapping record_id → prediction."""
    if isinstance(predictions, pa.Table):
        return predictions
    if type(predictions).__module__.split(".")[0] == "pandas":
        return pa.Table.from_pandas(predictions, preserve_index=False)
    if hasattr(predictions, "__arrow_c_stream__"):  # polars, duckdb relations, ...
        return pa.table(predictions)
    if isinstance(predictions, dict):
        if "record_id" in predictions and "prediction" in predictions:
            return pa.table({"record_id": predictions["record_id"], "prediction": predictions["prediction"]})
        values = list(predictions.values())
        if values and len({type(v) for v in values}) > 1:
            values = [str(v) for v in values]
        return pa.table({"record_id": pa.array(list(predictions), pa.string()), "prediction": values})
    raise PredictionError("predictions must be a pyarrow Table, a DataFrame, {'record_id': [...], 'prediction': "
                          "[...]} or a mapping record_id → prediction, not " + type(predictions).__name__)


def _plain(arr: pa.Array) -> pa.Array:
    """Categoricals decoded, and large or view strings (polars, pandas) as plain strings."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _prediction_indices(col: pa.ChunkedArray, labels: tuple[str, ...], ids: pa.Array) -> np.ndarray:
    """Label names or class indices → class indices; anything else is refused, naming the valid labels."""
    k = len(labels)
    valid = f"valid: {', '.join(labels)} (or their indices 0-{k - 1})"
    arr = col.combine_chunks()
    if pa.types.is_dictionary(arr.type) and arr.null_count == 0 and len(arr.dictionary) <= 1000:
        names = _prediction_indices(pa.chunked_array([arr.dictionary]), labels, arr.dictionary.cast(pa.string()))
        return names[arr.indices.to_numpy(zero_copy_only=False)]
    arr = _plain(arr)
    if arr.null_count:
        first = pc.filter(ids, pc.is_null(arr))[:_SHOW].to_pylist()
        raise PredictionError(f"{arr.null_count} empty prediction(s) (first: {', '.join(map(str, first))}); {valid}")
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        values = arr.to_numpy(zero_copy_only=False)
        bad = (values < 0) | (values >= k) | (values != np.floor(values))
        if bad.any():
            shown = ", ".join(str(v) for v in dict.fromkeys(values[bad].tolist()))
            raise PredictionError(f"{int(bad.sum())} prediction(s) are not a class ({shown[:200]}); {valid}")
        return values.astype(np.int64)
    if not pa.types.is_string(arr.type):
        raise PredictionError(f"the prediction column has type {arr.type}; {valid}")
    idx = pc.index_in(arr, value_set=pa.array(labels, arr.type))
    if idx.null_count == 0:
        return idx.to_numpy(zero_copy_only=False).astype(np.int64)
    out = idx.to_numpy(zero_copy_only=False)  # nulls become nan: fill them from the digits below
    unnamed = np.flatnonzero(np.isnan(out))
    texts = pc.take(arr, pa.array(unnamed)).to_pylist()
    digits = np.array([int(t) if t.isdigit() and int(t) < k else -1 for t in texts], dtype=np.int64)
    if (digits < 0).any():
        shown = [repr(t) for t in dict.fromkeys(t for t, d in zip(texts, digits) if d < 0)]
        raise PredictionError(f"{int((digits < 0).sum())} prediction(s) are not a class "
                              f"({', '.join(shown[:_SHOW])}{', ...' if len(shown) > _SHOW else ''}); {valid}")
    out[unnamed] = digits
    return out.astype(np.int64)


def write_predictions(path: str | os.PathLike, record_ids, predictions, *, fingerprint: str | None = None) -> Path:
    """Write predictions in the format `evaluate` reads (chosen by the file's extension), atomically:
    a temp file in the same folder, renamed into place, so a failure leaves no half-written file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PREDICTION_FORMATS:
        raise InputError(f"{path}: unsupported prediction file type {path.suffix!r}; "
                         f"valid: {', '.join(PREDICTION_FORMATS)}")
    cols = {"record_id": pa.array(record_ids, pa.string()), "prediction": pa.array(predictions, pa.string())}
    if fingerprint and suffix != ".parquet":
        cols[FINGERPRINT_KEY] = pa.array([fingerprint] * len(cols["record_id"]), pa.string())
    table = pa.table(cols)
    if fingerprint and suffix == ".parquet":
        table = table.replace_schema_metadata({FINGERPRINT_KEY: fingerprint})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".parquet":
            pq.write_table(table, tmp)
        elif suffix == ".csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                for row in table.to_pylist():
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# ------------------------------------------------------------------------------------------- metrics
# Every figure comes from a confusion matrix of shape (..., k, k+1): rows are gold classes, columns the
# predicted classes, and a last column for records without a prediction (--allow-missing: wrong, but
# not a prediction of any class). Leading axes batch domains or bootstrap resamples.


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, and 0 where b is 0 (scikit-learn's zero_division default)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _counts(cm: np.ndarray):
    k = cm.shape[-2]
    tp = np.diagonal(cm[..., :k], axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm[..., :k].sum(axis=-2)
    return tp, support, predicted


def _f1(cm: np.ndarray) -> np.ndarray:
    tp, support, predicted = _counts(cm)
    return _div(2 * tp, support + predicted)


def macro_f1(cm: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes present in the gold or the predictions (scikit-learn's default labels)."""
    _, support, predicted = _counts(cm)
    present = (support > 0) | (predicted > 0)
    return _div((_f1(cm) * present).sum(axis=-1), present.sum(axis=-1))


def micro_f1(cm: np.ndarray) -> np.ndarray:
    tp, support, predicted = _counts(cm)
    return _div(2 * tp.sum(axis=-1), support.sum(axis=-1) + predicted.sum(axis=-1))


def accuracy(cm: np.ndarray) -> np.ndarray:
    tp, support, _ = _counts(cm)
    return _div(tp.sum(axis=-1), support.sum(axis=-1))


def metric_defined(task: Task, cm: np.ndarray) -> np.ndarray:
    """Whether the official metric means anything on this confusion matrix: the F1 of a positive
    class that is neither in the gold nor predicted is 0/0 (scikit-learn reports 0 for it)."""
    if task.positive is None:
        return cm.sum(axis=(-2, -1)) > 0
    _, support, predicted = _counts(cm)
    i = task.labels.index(task.positive)
    return (support[..., i] + predicted[..., i]) > 0


def official_metric(task: Task, cm: np.ndarray) -> np.ndarray:
    if task.metric == "macro_f1":
        return macro_f1(cm)
    if task.metric == f"f1_{task.positive}":
        return _f1(cm)[..., task.labels.index(task.positive)]
    raise ValueError(f"task {task.name}: no implementation of metric {task.metric!r}")


def _confusion(cells: np.ndarray, k: int, groups: np.ndarray | None = None, n_groups: int = 1) -> np.ndarray:
    kk = k * (k + 1)
    if groups is None:
        return np.bincount(cells, minlength=kk).reshape(k, k + 1)
    return np.bincount(groups * kk + cells, minlength=n_groups * kk).reshape(n_groups, k, k + 1)


def _cells(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Each scored record's cell of the (k, k+1) confusion matrix; a prediction of -1 is 'missing'."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return y_true * (k + 1) + np.where(y_pred < 0, k, y_pred)


def scores(task: str | Task, y_true, y_pred) -> dict:
    """The point figures of predictions against gold, both as class indices of task.labels (a
    prediction of -1: none, counted wrong): official score, accuracy, macro- and micro-F1, per-class
    precision, recall, F1 and support, and the confusion matrix. What the evaluator reports, without
    the checks, the interval and the domains."""
    task = get_task(task)
    k = len(task.labels)
    cm = _confusion(_cells(y_true, y_pred, k), k)
    tp, support, predicted = _counts(cm)
    precision, recall, f1 = _div(tp, predicted), _div(tp, support), _f1(cm)
    return {
        "score": float(official_metric(task, cm)),
        "accuracy": float(accuracy(cm)),
        "macro_f1": float(macro_f1(cm)),
        "micro_f1": float(micro_f1(cm)),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(support[i])} for i, name in enumerate(task.labels)},
        "confusion": {"rows": "gold", "columns": "predicted", "labels": list(task.labels),
                      "matrix": cm[:, :k].tolist(), "missing": cm[:, k].tolist()},
    }


def _bootstrap(task: Task, cells: np.ndarray, docs: np.ndarray, n_docs: int, k: int, *,
               resamples: int, seed: int, level: float) -> tuple[float, float]:
    """Percentile interval of the official metric over resamples of whole documents.

    A resample draws n_docs documents with replacement; its confusion matrix is the sum of theirs.
    Documents with the same confusion counts are interchangeable, so they are drawn as one group
    (a multinomial over groups has the same law as drawing documents), which keeps a million
    one-record documents as cheap as a few thousand long ones."""
    per_doc = _confusion(cells, k, docs, n_docs).reshape(n_docs, -1)
    patterns, group, size = np.unique(per_doc, axis=0, return_inverse=True, return_counts=True)
    group = group.ravel()
    rng = np.random.default_rng(seed)
    stats = np.empty(resamples)
    n_groups = len(patterns)
    by_group = n_groups * 8 <= n_docs  # multinomial over few groups; else document draws are cheaper
    block = max(1, min(resamples, 2_000_000 // max(n_docs, n_groups)))  # ~50 MB of draws at a time
    p = size / n_docs
    patterns = patterns.astype(np.float64)
    for start in range(0, resamples, block):
        b = min(block, resamples - start)
        if by_group:
            w = rng.multinomial(n_docs, p, size=b)
        else:
            draws = group[rng.integers(0, n_docs, size=(b, n_docs))]
            draws += (np.arange(b) * n_groups)[:, None]
            w = np.bincount(draws.ravel(), minlength=b * n_groups).reshape(b, n_groups)
        cms = (w.astype(np.float64) @ patterns).reshape(b, k, k + 1)
        stats[start:start + b] = official_metric(task, cms)
    alpha = (1 - level) / 2
    low, high = np.percentile(stats, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


# ----------------------------------------------------------------------------------------- evaluator

_GOLD_COLUMNS = ["record_id", "doc_id", "type", "origin", "domain", "label", "label_status"]
_HEX_PAIRS = np.full(65536, 0xFFFF, dtype=np.uint16)  # two ASCII characters (a little-endian uint16) → their byte
for _i, _a in enumerate(b"0123456789abcdef"):
    for _j, _b in enumerate(b"0123456789abcdef"):
        _HEX_PAIRS[_a | (_b << 8)] = _i * 16 + _j


def _id_keys(arr: pa.Array) -> np.ndarray | None:
    """Record ids as uint64 keys when every one is 16 lowercase hex digits (the release's record_id,
    an 8-byte digest), else None. Exact (hex → bytes is one-to-one), and a join on these keys costs
    a third of one on the strings, which at a million predictions is most of the evaluator's time."""
    if not len(arr) or arr.null_count or not pa.types.is_string(arr.type):
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    if offsets[-1] - offsets[0] != 16 * len(arr) or not (np.diff(offsets) == 16).all():
        return None
    pairs = np.frombuffer(arr.buffers()[2], dtype=np.uint16, count=8 * len(arr), offset=int(offsets[0]))
    octets = _HEX_PAIRS[pairs]
    if (octets > 255).any():
        return None
    return octets.astype(np.uint8).view(np.uint64)


_BIG = 100_000  # from this many ids on, pandas' uint64 hash table (khash) beats pyarrow's index_in by ~40%


def _lookup(values: pa.Array, ids: pa.Array, id_keys: np.ndarray | None) -> np.ndarray:
    """Position of each value in ids (-1: absent)."""
    keys = _id_keys(values) if id_keys is not None else None
    if keys is not None and len(id_keys) >= _BIG:
        import pandas as pd  # imported only here: 0.3 s of start-up that small evaluations do not pay

        index = pd.Index(id_keys)
        if index.is_unique:
            return index.get_indexer(keys).astype(np.int64)
    if keys is not None:
        pos = pc.index_in(pa.array(keys), value_set=pa.array(id_keys))
    else:
        pos = pc.index_in(values, value_set=ids)
    return pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _codes(col) -> tuple[np.ndarray, list]:
    """A column as dense int64 codes (-1 for null) and the values they stand for."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col  # unifies chunks' dictionaries
    enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, enc.dictionary.to_pylist()


def _compact(codes: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes renumbered 0..m-1 over the values that occur; and which original values those are."""
    used = np.zeros(n_values, dtype=bool)
    used[codes] = True
    return (np.cumsum(used) - 1)[codes], np.flatnonzero(used)


def _first(ids: pa.Array | pa.ChunkedArray, mask: np.ndarray) -> str:
    shown = pc.filter(ids, pa.array(mask))[:_SHOW].to_pylist()
    return ", ".join(map(str, shown)) + (", ..." if int(mask.sum()) > _SHOW else "")


class Evaluator:
    """The official evaluator of one task on one split of one release. Reads the gold once, so a
    training loop can call `evaluate` every epoch:

        ev = Evaluator("releases/news/1.0.0", task="type", split="validation")
        result = ev.evaluate({"record_id": ids, "prediction": predicted_names})
        print(result["score"], result["ci"])

    Expected input: one prediction per record of the split that belongs to the task (`record_id`,
    `prediction`: a label name or its index in task.labels). Records without a human label
    (unlabeled, disputed) may be predicted and are not scored."""

    def __init__(self, release, task: str | Task = "type", split: str = "test", gold: str = "human", *,
                 resamples: int = BOOTSTRAP["resamples"], seed: int = BOOTSTRAP["seed"],
                 level: float = BOOTSTRAP["level"]):
        if gold not in GOLDS:
            raise InputError(f"unknown gold {gold!r}; valid: {', '.join(GOLDS)}")
        self.release = Release.open(release)
        self.task = get_task(task)
        self.split = split
        self.gold = gold
        self.resamples, self.seed, self.level = resamples, seed, level
        t = self.release.read(split, _GOLD_COLUMNS, dictionary=("doc_id", "origin", "domain", "label_status"))
        if "type" not in t.column_names or "record_id" not in t.column_names:
            raise ReleaseError(f"release {self.release.label}: split {split!r} lacks the record_id or type column")
        if len(t) == 0:
            raise NoGoldError(f"split {split!r} of release {self.release.label} has no records: nothing to evaluate "
                              f"(other splits: {', '.join(s for s in self.release.splits if s != split)})")
        self.ids = t["record_id"].combine_chunks()
        self._id_keys = _id_keys(self.ids)
        types = _class_indices(t["type"], TYPE_NAMES).to_numpy(zero_copy_only=False)
        self.in_task = self.task.members(t)
        to_label = self.task.type_to_label()
        n = len(t)
        status, status_names = _codes(t["label_status"] if "label_status" in t.column_names
                                      else pa.nulls(n, pa.string()))
        per_status = np.bincount(status[self.in_task] + 1, minlength=len(status_names) + 1)[1:]
        self.excluded = {s: int(per_status[status_names.index(s)]) if s in status_names else 0
                         for s in TASKS_SCHEMA["gold"]["human"]["excluded_statuses"]}
        human = np.append(np.isin(status_names, HUMAN_STATUSES), False)[status]  # code -1 (null) → the False
        if "label" in t.column_names:
            labels = _class_indices(t["label"], TYPE_NAMES)
            human &= labels.is_valid().to_numpy(zero_copy_only=False)
            label_idx = labels.fill_null(0).to_numpy(zero_copy_only=False)
        else:
            human[:] = False
            label_idx = np.zeros(n, dtype=np.int64)
        human &= self.in_task
        self.n_human = int(human.sum())
        if gold == "human":
            if self.n_human == 0:
                raise NoGoldError(
                    f"release {self.release.label} has no human labels for task {self.task.name!r} in split "
                    f"{split!r} (statuses {' or '.join(HUMAN_STATUSES)}); pass --gold silver to score against the "
                    "segmenter's own type instead (silver: it measures agreement with the segmenter, not correctness)")
            self.scored = human
            self.gold_idx = to_label[label_idx]
        else:
            self.scored = self.in_task.copy()
            self.gold_idx = to_label[types]
            self.excluded = {s: 0 for s in self.excluded}
        self._docs, self._doc_names = _codes(t["doc_id"] if "doc_id" in t.column_names else self.ids)
        self._domains, self._domain_names = _codes(t["domain"] if "domain" in t.column_names
                                                   else pa.nulls(n, pa.string()))

    @property
    def gold_description(self) -> str:
        if self.gold == "silver":
            return ("SILVER: the segmenter's own type, not human labels; these figures measure agreement with "
                    "the segmenter, not correctness")
        return f"human: the aggregated label of records with label_status {' or '.join(HUMAN_STATUSES)}"

    # -- checks, in the order a user can fix them

    def _positions(self, table: pa.Table) -> np.ndarray:
        ids = _plain(table["record_id"].combine_chunks())
        if not pa.types.is_string(ids.type):
            raise PredictionError(f"record_id has type {ids.type}; record ids are strings, as in the release")
        if ids.null_count:
            raise PredictionError(f"{ids.null_count} prediction(s) have an empty record_id")
        pos = _lookup(ids, self.ids, self._id_keys)
        unknown = pos < 0
        if unknown.any():
            self._refuse_unknown(ids, unknown)
        counts = np.bincount(pos, minlength=len(self.ids))
        if (counts > 1).any():
            dup = counts > 1
            raise PredictionError(f"{int(dup.sum())} record_id(s) appear more than once "
                                  f"(first: {_first(self.ids, dup)}); give one prediction per record")
        return pos

    def _refuse_unknown(self, ids: pa.Array, unknown: np.ndarray) -> None:
        stray = pc.filter(ids, pa.array(unknown))
        for other in self.release.splits:
            if other == self.split:
                continue
            there = pc.is_in(stray, value_set=self.release.read(other, ["record_id"])["record_id"].combine_chunks())
            there = there.to_numpy(zero_copy_only=False)
            if there.any():
                raise ReleaseMismatchError(
                    f"{int(there.sum())} record_id(s) belong to split {other!r} of release {self.release.label}, "
                    f"not {self.split!r} (first: {_first(stray, there)}); predict the records of the split you "
                    f"evaluate (--split)")
        raise PredictionError(f"{int(unknown.sum())} unknown record_id(s), not in release {self.release.label} "
                              f"(first: {_first(ids, unknown)}); was the file made for another release?")

    def evaluate(self, predictions, *, allow_missing: bool = False, fingerprint: str | None = None) -> dict:
        """Check predictions and score them; returns the result dict (see README, "Evaluating")."""
        table = _as_table(predictions)
        for c in ("record_id", "prediction"):
            if c not in table.column_names:
                raise PredictionError(f"predictions lack the column {c}; expected record_id and prediction")
        if fingerprint is None and FINGERPRINT_KEY in table.column_names:
            values = pc.unique(table[FINGERPRINT_KEY].drop_null()).to_pylist()
            fingerprint = values[0] if len(values) == 1 else None
        if fingerprint and self.release.fingerprint and fingerprint != self.release.fingerprint:
            raise ReleaseMismatchError(
                f"the predictions were made for release fingerprint {fingerprint[:16]}, not this release "
                f"({self.release.label}, fingerprint {self.release.fingerprint[:16]}); evaluate against the release "
                "they were made for")
        pos = self._positions(table)
        pred = _prediction_indices(table["prediction"], self.task.labels, table["record_id"].combine_chunks())
        inside = self.in_task[pos]  # predictions for records outside the task are ignored, and counted
        n_outside = int(len(pos) - inside.sum())
        pred_all = np.full(len(self.ids), -1, dtype=np.int64)
        pred_all[pos[inside]] = pred[inside]
        missing = self.scored & (pred_all < 0)
        n_missing = int(missing.sum())
        if n_missing and not allow_missing:
            raise PredictionError(
                f"predictions missing for {n_missing} of the {int(self.scored.sum())} scored records "
                f"(first: {_first(self.ids, missing)}); predict every record of split {self.split!r}, "
                "or pass --allow-missing to count them as wrong")
        result = self._score(pred_all, n_missing)
        result["outside_task"] = n_outside
        return result

    def _score(self, pred_all: np.ndarray, n_missing: int) -> dict:
        task, k = self.task, len(self.task.labels)
        rows = np.flatnonzero(self.scored)
        y_true, y_pred = self.gold_idx[rows], pred_all[rows]
        point = scores(task, y_true, y_pred)
        cells = _cells(y_true, y_pred, k)
        ci = None  # resamples=0: point figures only (a training loop that does not need the interval)
        if self.resamples:
            docs, used = _compact(self._docs[rows], len(self._doc_names))
            low, high = _bootstrap(task, cells, docs, len(used), k, resamples=self.resamples, seed=self.seed,
                                   level=self.level)
            ci = {"metric": task.metric, "low": low, "high": high, "level": self.level, "resamples": self.resamples,
                  "seed": self.seed, "unit": BOOTSTRAP["unit"], "documents": int(len(used))}
        return {
            "task": task.name,
            "split": self.split,
            "gold": self.gold,
            "gold_description": self.gold_description,
            "release": {"name": self.release.name, "version": self.release.version,
                        "fingerprint": self.release.fingerprint},
            "labels": list(task.labels),
            "metric": task.metric,
            "score": point["score"],
            "n": int(len(rows)),
            "excluded": dict(self.excluded),
            "missing": n_missing,
            **{key: point[key] for key in ("accuracy", "macro_f1", "micro_f1", "per_class", "confusion")},
            "ci": ci,
            "per_domain": self._per_domain(rows, cells, k),
        }

    def _per_domain(self, rows: np.ndarray, cells: np.ndarray, k: int) -> dict | None:
        domains = self._domains[rows]
        known = domains >= 0
        if not known.any():
            return None  # the release knows no domains
        codes, used = _compact(domains[known], len(self._domain_names))
        names = [self._domain_names[i] for i in used]
        cms = _confusion(cells[known], k, codes, len(names))
        scores = official_metric(self.task, cms)
        defined = metric_defined(self.task, cms)
        sizes = cms.sum(axis=(1, 2))
        order = sorted(range(len(names)), key=lambda i: names[i])
        # a domain without the positive class in gold or predictions has no F1: shown as null, and
        # never named the worst (it would be "worst" at 0 for having no spam at all)
        ranked = [i for i in order if defined[i]]
        worst = min(ranked, key=lambda i: (scores[i], names[i])) if ranked else None
        return {
            "metric": self.task.metric,
            "domains": {names[i]: {"n": int(sizes[i]), "score": float(scores[i]) if defined[i] else None}
                        for i in order},
            "worst": None if worst is None else
            {"domain": names[worst], "n": int(sizes[worst]), "score": float(scores[worst])},
            "unknown_domain": int((~known).sum()),
        }


def evaluate(predictions, release, *, task: str = "type", split: str = "test", gold: str = "human",
             allow_missing: bool = False, fingerprint: str | None = None) -> dict:
    """Score in-memory predictions (see `Evaluator`) or a prediction file (a path) against a release."""
    evaluator = Evaluator(release, task, split, gold)  # the release and options first: they frame the file's errors
    if isinstance(predictions, (str, os.PathLike)):
        predictions, file_fingerprint = read_predictions(predictions)
        fingerprint = fingerprint or file_fingerprint
    return evaluator.evaluate(predictions, allow_missing=allow_missing, fingerprint=fingerprint)


def report_head(result: dict) -> list[str]:
    """The first lines of a report of any task: task, split, release, what the gold is."""
    rel = result["release"]
    ident = f"{rel['name']} {rel['version']}" if rel["name"] else "(unsealed release)"
    return [f"task {result['task']} · split {result['split']} · release {ident}", f"gold: {result['gold_description']}"]


def official_line(result: dict) -> str:
    """The official metric with its document-bootstrap interval, as every task's report shows it."""
    ci = result["ci"]
    interval = "(no interval: resamples=0)" if ci is None else (
        f"{ci['level']:.0%} CI [{ci['low']:.4f}, {ci['high']:.4f}] "
        f"(bootstrap over {ci['documents']} documents, {ci['resamples']} resamples, seed {ci['seed']})")
    return f"official metric {result['metric']} = {result['score']:.4f}   {interval}"


def format_report(result: dict) -> str:
    """The result as people read it: header, official metric with its interval, per-class table,
    confusion matrix, per-domain figures and the worst domain."""
    labels = result["labels"]
    lines = [
        *report_head(result),
        f"scored {result['n']} records; left out: "
        + ", ".join(f"{v} {k}" for k, v in result["excluded"].items())
        + f"; missing predictions counted wrong: {result['missing']}"
        + (f"; {result['outside_task']} predictions for records outside the task ignored"
           if result.get("outside_task") else ""),
        "",
    ]
    lines.append(official_line(result))
    lines.append(f"accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}   "
                 f"micro-F1 {result['micro_f1']:.4f}")
    lines.append("")
    w = max(9, *(len(x) for x in labels))
    lines.append(f"{'class':<{w}}  precision  recall     f1  support")
    for name in labels:
        c = result["per_class"][name]
        lines.append(f"{name:<{w}}  {c['precision']:9.4f}  {c['recall']:6.4f}  {c['f1']:.4f}  {c['support']:7d}")
    lines.append("")
    conf = result["confusion"]
    cols = labels + (["(missing)"] if any(conf["missing"]) else [])
    cw = max(7, *(len(x) for x in cols))
    lines.append("confusion (rows: gold, columns: predicted)")
    lines.append(" " * w + "".join(f"  {c:>{cw}}" for c in cols))
    for name, row, miss in zip(labels, conf["matrix"], conf["missing"]):
        cells = row + ([miss] if len(cols) > len(labels) else [])
        lines.append(f"{name:<{w}}" + "".join(f"  {v:>{cw}d}" for v in cells))
    dom = result["per_domain"]
    lines.append("")
    if dom is None:
        lines.append("per domain: the release knows no domains")
    else:
        lines.append(f"per domain ({dom['metric']}):")
        dw = max(len(d) for d in dom["domains"])
        for d, v in dom["domains"].items():
            shown = f"{v['score']:.4f}" if v["score"] is not None else "undefined (class absent)"
            lines.append(f"  {d:<{dw}}  n={v['n']:<7d} {shown}")
        if dom["unknown_domain"]:
            lines.append(f"  ({dom['unknown_domain']} records of unknown domain)")
        if dom["worst"] is None:
            lines.append("worst domain: none (the metric is undefined in every domain)")
        else:
            lines.append(f"worst domain: {dom['worst']['domain']} ({dom['metric']} {dom['worst']['score']:.4f}, "
                         f"n={dom['worst']['n']})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- task data


def task_frame(release, split: str, task: str | Task = "type") -> pa.Table:
    """The records of a split that belong to a task, with the task's inputs (text, title, parent_text:
    the parent record's text from the same release, "" when there is none), `segmenter` (the
    segmenter's type as a task label) and `gold` (the human label as a task label; null where there is
    none, or it is disputed) — what a model is trained on and what a prediction file answers."""
    release = Release.open(release)
    task = get_task(task)
    t = release.read(split, ["record_id", "doc_id", "text", "title", "parent_id", "type", "origin", "domain",
                             "label", "label_status"])
    ids = t["record_id"].combine_chunks()
    parent_pos = pc.index_in(t["parent_id"].combine_chunks(), value_set=ids)
    parent_text = pc.fill_null(pc.take(t["text"].combine_chunks(), parent_pos), "")
    types = _class_indices(t["type"], TYPE_NAMES).to_numpy(zero_copy_only=False)
    to_label = task.type_to_label()
    n = len(t)
    if "label" in t.column_names and "label_status" in t.column_names:
        human = pc.is_in(t["label_status"], value_set=pa.array(HUMAN_STATUSES)).to_numpy(zero_copy_only=False)
        labels = _class_indices(t["label"], TYPE_NAMES)
        human &= labels.is_valid().to_numpy(zero_copy_only=False)
        gold = np.where(human, to_label[labels.fill_null(0).to_numpy(zero_copy_only=False)], -1)
    else:
        gold = np.full(n, -1)
    names = np.array(task.labels, dtype=object)
    frame = pa.table({
        "record_id": ids,
        "doc_id": t["doc_id"],
        "domain": t["domain"] if "domain" in t.column_names else pa.nulls(n, pa.string()),
        "text": pc.fill_null(t["text"], ""),
        "title": pc.fill_null(t["title"], ""),
        "parent_text": parent_text,
        "segmenter": pa.array(names[to_label[types]].tolist(), pa.string()),
        "gold": pa.array([names[g] if g >= 0 else None for g in gold.tolist()], pa.string()),
    })
    return frame.filter(pa.array(task.members(t)))


def benchmark_table(release_dir, *, release_ref: str = "RELEASE_DIR") -> list[dict]:
    """The card's benchmark rows: every baseline of every task, scored on the test split of a staged
    (or sealed) release by the official evaluator; [] when the release has no human labels on test.
    `release_ref` is how the card's commands name the release directory. Deterministic: the same
    release gives the same rows (figures rounded to 4 decimals, so BLAS summation order cannot show)."""
    from builder.baselines import BASELINES, BaselineError, predict  # baselines build on this module

    release = Release.open(release_dir)
    if "test" not in release.files:
        return []
    rows: list[dict] = []
    for name, task in TASKS.items():
        try:
            ev = Evaluator(release, task, "test", "human")
        except NoGoldError:
            continue
        for baseline in BASELINES:
            try:
                preds = predict(baseline, release, task=name, split="test")
            except BaselineError:
                continue  # e.g. tfidf without human labels in train: no row rather than a made-up one
            result = ev.evaluate(preds)
            out = f"{baseline}-{name}.jsonl"
            rows.append({
                "task": name,
                "metric": task.metric_label,
                "baseline": baseline,
                "score": round(result["score"], 4),
                "ci_low": round(result["ci"]["low"], 4),
                "ci_high": round(result["ci"]["high"], 4),
                "command": (f"builder baseline {baseline} --release {release_ref} --task {name} --out {out} && "
                            f"builder evaluate {out} --release {release_ref} --task {name}"),
            })
    return rows
