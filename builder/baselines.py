"""The benchmark's baselines, each a function of the release alone (train and validation to fit, the
evaluated split to predict), so one command reproduces each figure of the card:

  majority   the most frequent gold class of train, for every record
  segmenter  the segmenter's own type: the pre-annotation annotators saw
  tfidf      TF-IDF over word and character n-grams + logistic regression, fit on train, C chosen on
             validation by the task's official metric, fixed seed

They predict every record of the split that belongs to the task, in the format `evaluate` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builder.errors import InputError
from builder.evaluate import GOLDS, Release, Task, get_task, scores, task_frame, write_predictions

BASELINES = ("majority", "segmenter", "tfidf")
C_GRID = (0.1, 1.0, 10.0, 100.0)  # the tfidf baseline's one hyper-parameter, chosen on validation
SEED = 0

__all__ = ["BASELINES", "C_GRID", "BaselineError", "predict", "fit_tfidf", "run_baseline"]


class BaselineError(InputError):
    """A baseline that cannot be trained on this release (e.g. no gold labels in train)."""


def _gold(frame: pa.Table, gold: str) -> pa.Array:
    """The reference a baseline learns from: human labels (null where none), or the segmenter's type."""
    return frame["segmenter"] if gold == "silver" else frame["gold"]


def _train(release: Release, task: Task, gold: str, split: str = "train") -> tuple[pa.Table, np.ndarray]:
    if split not in release.files:
        raise BaselineError(f"release {release.label} has no {split} split to fit a baseline on")
    frame = task_frame(release, split, task)
    labelled = frame.filter(pc.is_valid(_gold(frame, gold)))
    if len(labelled) == 0:
        raise BaselineError(f"release {release.label} has no human labels for task {task.name!r} in {split}; "
                            "pass --gold silver to fit on the segmenter's types")
    y = pc.index_in(_gold(labelled, gold), value_set=pa.array(task.labels)).to_numpy(zero_copy_only=False)
    return labelled, y.astype(np.int64)


def majority_class(release: Release, task: Task, gold: str) -> str:
    _, y = _train(release, task, gold)
    counts = np.bincount(y, minlength=len(task.labels))
    return task.labels[int(np.argmax(counts))]  # ties: the first class in the task's order


@dataclass
class TfidfModel:
    task: Task
    c: float
    validation: dict[float, float] = field(default_factory=dict)  # C → official metric on validation
    vectorizers: list = field(default_factory=list)
    classifier: object = None
    constant: int | None = None  # train held one class only

    def features(self, frame: pa.Table):
        import scipy.sparse as sp

        blocks = [vec.transform(frame[col].to_pylist()) for col, vec in self.vectorizers]
        has_parent = pc.greater(pc.utf8_length(frame["parent_text"]), 0).to_numpy(zero_copy_only=False)
        blocks.append(sp.csr_matrix(has_parent.astype(np.float64)[:, None]))
        return sp.hstack(blocks, format="csr")

    def predict(self, frame: pa.Table) -> np.ndarray:
        if self.constant is not None:
            return np.full(len(frame), self.constant, dtype=np.int64)
        return np.asarray(self.classifier.predict(self.features(frame)), dtype=np.int64)


def _vectorizers():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return [
        ("text", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1, dtype=np.float64)),
        ("text", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, max_features=200_000,
                                 dtype=np.float64)),
        ("title", TfidfVectorizer(analyzer="word", sublinear_tf=True, dtype=np.float64)),
        ("parent_text", TfidfVectorizer(analyzer="word", sublinear_tf=True, dtype=np.float64)),
    ]


def fit_tfidf(release, task: str | Task = "type", *, gold: str = "human") -> TfidfModel:
    """Fit on train; choose C from C_GRID by the official metric on validation (the smallest C among
    equals); refit nothing on validation, so validation stays a clean selection set.

    BLAS runs on one thread: the same sums in the same order on every machine (the card's figures must
    not depend on the core count), and no oversubscription on a busy machine, where threads made a
    small fit twenty times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _fit_tfidf(release, task, gold=gold)


def _fit_tfidf(release, task: str | Task, *, gold: str) -> TfidfModel:
    from sklearn.linear_model import LogisticRegression

    release, task = Release.open(release), get_task(task)
    train, y = _train(release, task, gold)
    if len(np.unique(y)) < 2:
        return TfidfModel(task=task, c=C_GRID[0], constant=int(y[0]))
    model = TfidfModel(task=task, c=1.0)
    for col, vec in _vectorizers():
        try:
            vec.fit(train[col].to_pylist())
        except ValueError:  # empty vocabulary: the column is empty throughout train (e.g. no parents)
            continue
        model.vectorizers.append((col, vec))
    x_train = model.features(train)

    def fit(c: float):
        return LogisticRegression(C=c, max_iter=5000, random_state=SEED).fit(x_train, y)

    val = None
    if "validation" in release.files:
        frame = task_frame(release, "validation", task)
        val = frame.filter(pc.is_valid(_gold(frame, gold)))
    if val is None or len(val) == 0:
        model.classifier = fit(model.c)  # nothing to choose on: the default C, and the card's command says so
        return model
    x_val = model.features(val)
    y_val = pc.index_in(_gold(val, gold), value_set=pa.array(task.labels)).to_numpy(zero_copy_only=False)
    best = None
    for c in C_GRID:
        clf = fit(c)
        score = scores(task, y_val, clf.predict(x_val))["score"]
        model.validation[c] = score
        if best is None or score > best[0]:
            best = (score, c, clf)
    model.c, model.classifier = best[1], best[2]
    return model


def predict(name: str, release, *, task: str | Task = "type", split: str = "test", gold: str = "human") -> pa.Table:
    """A baseline's predictions for every record of `split` in the task: a table (record_id, prediction)."""
    if name not in BASELINES:
        raise InputError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}")
    if gold not in GOLDS:
        raise InputError(f"unknown gold {gold!r}; valid: {', '.join(GOLDS)}")
    release, task = Release.open(release), get_task(task)
    release.check_split(split)
    frame = task_frame(release, split, task)
    if name == "segmenter":
        labels = frame["segmenter"]
    elif name == "majority":
        labels = pa.array([majority_class(release, task, gold)] * len(frame), pa.string())
    else:
        from threadpoolctl import threadpool_limits

        model = fit_tfidf(release, task, gold=gold)
        names = np.array(task.labels, dtype=object)
        with threadpool_limits(limits=1):
            labels = pa.array(names[model.predict(frame)].tolist(), pa.string())
    return pa.table({"record_id": frame["record_id"], "prediction": labels})


def run_baseline(name: str, release, out, *, task: str = "type", split: str = "test", gold: str = "human") -> int:
    """`builder baseline`: write a baseline's predictions to `out` (.csv, .jsonl or .parquet), stamped
    with the release's fingerprint; returns how many were written."""
    release = Release.open(release)
    table = predict(name, release, task=task, split=split, gold=gold)
    write_predictions(out, table["record_id"].to_pylist(), table["prediction"].to_pylist(),
                      fingerprint=release.fingerprint)
    return len(table)
