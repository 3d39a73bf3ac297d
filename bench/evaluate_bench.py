"""Benchmark of the official evaluator (not a timed test): 1,000,000 predictions read from a Parquet
file and joined to a release, beside scikit-learn's classification_report on the same arrays, in the
same run.

    .venv/bin/python bench/evaluate_bench.py [--rows 1000000] [--docs 50000] [--dir build/evaluate-bench]

Targets (issue "Benchmark"): the point figures, reading the file and joining it to the release
included, within 2x scikit-learn's time; the bootstrap interval (1,000 resamples) under 10 s; under
1 GB peak RSS. The release (test split of --rows records in --docs documents, in the release layout
with the real release schema) and the prediction file are generated first, in this process; the
measurements run in a fresh child process, so its peak RSS is the evaluator's and scikit-learn's
alone. scikit-learn gets the class indices (its fastest input); its time on the label names is
printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DOMAINS = [f"site{i:02d}.example" for i in range(20)]
FILE_ROWS = 250_000


def _table(n: int, first: int, docs: int, rng: np.random.Generator, schema: pa.Schema) -> pa.Table:
    from builder.schema import TYPE_NAMES

    doc = np.sort(rng.integers(0, docs, size=n))
    types = rng.choice(len(TYPE_NAMES), size=n, p=[0.05, 0.1, 0.45, 0.3, 0.1])
    label = np.where(rng.random(n) < 0.9, types, rng.integers(0, len(TYPE_NAMES), size=n))
    roll = rng.random(n)
    status = np.select([roll < 0.6, roll < 0.8, roll < 0.9], ["agreed", "single", "disputed"], "unlabeled")
    has_label = roll < 0.8
    ids = pa.array([f"{x:016x}" for x in rng.integers(0, 2**63, size=n).tolist()])  # like segment's record_id
    doc_ids = pc.take(pa.array([f"d{d:07d}" for d in range(docs)]), pa.array(doc))
    domain = pc.take(pa.array(DOMAINS), pa.array(doc % len(DOMAINS)))
    const = {name: pa.nulls(n, schema.field(name).type) for name in schema.names}
    cols = {**const, "record_id": ids, "doc_id": doc_ids, "type": pa.array(types, pa.int64()), "text": pa.array(["x"] * n),
            "char_start": pa.array(np.zeros(n, np.int64)), "char_end": pa.array(np.ones(n, np.int64)),
            "depth": pa.array(np.zeros(n, np.int32)), "position": pa.array(np.zeros(n, np.int32)),
            "domain": domain, "encoding": pa.array(["utf-8"] * n), "score": pa.array(np.full(n, 0.5, np.float32)),
            "origin": pa.array(["segmenter"] * n), "segmenter_version": pa.array(["bench"] * n),
            "schema_version": pa.array(["1.0.0"] * n),
            "annotator_labels": pa.array([[]] * n, schema.field("annotator_labels").type),
            "label": pa.array(np.where(has_label, label, 0), pa.int64(), mask=~has_label),
            "n_annotators": pa.array(np.where(status == "single", 1, np.where(status == "unlabeled", 0, 2)), pa.int32()),
            "agreement": pa.array(np.where(has_label, 1.0, 0.5).astype(np.float32), mask=status == "unlabeled"),
            "label_status": pa.array(status.tolist(), pa.string())}
    return pa.table([cols[name].cast(schema.field(name).type) for name in schema.names], schema=schema)


def generate(out: Path, rows: int, docs: int) -> tuple[Path, Path]:
    from builder.release import release_schema
    from builder.schema import TYPE_NAMES

    rel = out / "releases" / "bench" / "1.0.0"
    data = rel / "data"
    data.mkdir(parents=True, exist_ok=True)
    schema = release_schema()
    rng = np.random.default_rng(0)
    files = []
    sizes = {"train": 20_000, "validation": 5_000, "test": rows}
    first = 0
    for split, n in sizes.items():
        table = _table(n, first, max(1, docs if split == "test" else n // 20), rng, schema)
        first += n
        parts = max(1, -(-n // FILE_ROWS))
        for i in range(parts):
            name = f"data/{split}-{i:05d}-of-{parts:05d}.parquet"
            pq.write_table(table.slice(i * FILE_ROWS, FILE_ROWS), rel / name, compression="zstd")
            files.append(name)
        if split == "test":
            test = table
    (rel / "manifest.json").write_text(json.dumps({"name": "bench", "version": "1.0.0", "fingerprint": "bench-" + str(rows),
                                                   "splits": {s: {"rows": n} for s, n in sizes.items()},
                                                   "files": files}))
    # predictions: every test record, shuffled, label names, a fifth of them wrong
    order = rng.permutation(rows)
    gold = test["label"].to_numpy(zero_copy_only=False)
    gold = np.where(np.isnan(gold), 2, gold).astype(np.int64)
    pred = np.where(rng.random(rows) < 0.8, gold, rng.integers(0, 5, size=rows))[order]
    names = pc.take(pa.array(TYPE_NAMES), pa.array(pred))
    preds = out / "predictions.parquet"
    pq.write_table(pa.table({"record_id": pc.take(test["record_id"], pa.array(order)), "prediction": names}), preds)
    return rel, preds


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def _best(fn, runs: int = 3) -> tuple[float, float]:
    times = [_timed(fn)[1:] for _ in range(runs)]
    return min(w for w, _ in times), min(c for _, c in times)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(rel: Path, preds: Path) -> dict:
    from sklearn.metrics import classification_report, f1_score

    from builder import evaluate as ev

    def point_figures():
        table, fingerprint = ev.read_predictions(preds)
        evaluator = ev.Evaluator(rel, "type", "test", resamples=0)
        return table, evaluator.evaluate(table, fingerprint=fingerprint)

    # the first run pays one-time costs (allocator pools, Parquet codecs); then the best of three,
    # as for scikit-learn below, on wall-clock and CPU time both (a busy machine stretches wall time)
    (table, point), t_cold, c_cold = _timed(point_figures)
    t_point, c_point = _best(point_figures)
    rss_point = _rss_mb()

    t = time.perf_counter()
    full = ev.evaluate(preds, rel)  # what `builder evaluate` runs: the checks, the figures, 1,000 resamples
    t_full = time.perf_counter() - t
    rss_full = _rss_mb()

    # the same arrays, joined here without the evaluator (untimed): gold of agreed/single records
    test = pa.concat_tables(pq.read_table(f, columns=["record_id", "doc_id", "label", "label_status"])
                            for f in sorted((rel / "data").glob("test-*.parquet")))
    keep = pc.is_in(test["label_status"], value_set=pa.array(["agreed", "single"]))
    test = test.filter(keep)
    names = np.array(ev.TASKS["type"].labels)
    pos = pc.index_in(test["record_id"], value_set=table["record_id"]).to_numpy(zero_copy_only=False).astype(np.int64)
    y_true = test["label"].to_numpy(zero_copy_only=False).astype(np.int64)
    y_pred = pc.index_in(pc.take(table["prediction"], pa.array(pos)), value_set=pa.array(names)).to_numpy(
        zero_copy_only=False).astype(np.int64)

    report, t_sk_cold, _ = _timed(lambda: classification_report(y_true, y_pred, digits=4, target_names=list(names)))
    t_sklearn, c_sklearn = _best(lambda: classification_report(y_true, y_pred, digits=4, target_names=list(names)))
    str_true, str_pred = names[y_true], names[y_pred]
    t_sklearn_names, c_sklearn_names = _best(lambda: classification_report(str_true, str_pred, digits=4), runs=1)
    assert abs(point["macro_f1"] - f1_score(y_true, y_pred, average="macro")) < 1e-12

    docs = pc.dictionary_encode(test["doc_id"].combine_chunks())
    t, c = time.perf_counter(), time.process_time()
    low, high = ev._bootstrap(ev.TASKS["type"], ev._cells(y_true, y_pred, 5),
                              docs.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(docs.dictionary), 5,
                              resamples=1000, seed=ev.BOOTSTRAP["seed"], level=0.95)
    t_boot, c_boot = time.perf_counter() - t, time.process_time() - c
    assert (low, high) == (full["ci"]["low"], full["ci"]["high"])
    return {"rows": len(table), "scored": point["n"], "documents": full["ci"]["documents"],
            "point_s": t_point, "point_cpu_s": c_point, "point_cold_s": t_cold, "point_cold_cpu_s": c_cold,
            "full_s": t_full, "bootstrap_s": t_boot, "bootstrap_cpu_s": c_boot, "sklearn_s": t_sklearn,
            "sklearn_cpu_s": c_sklearn, "sklearn_cold_s": t_sk_cold, "sklearn_names_s": t_sklearn_names,
            "sklearn_names_cpu_s": c_sklearn_names, "load": os.getloadavg()[0], "rss_after_point_mb": rss_point, "rss_after_full_mb": rss_full,
            "peak_rss_mb": _rss_mb(), "report": ev.format_report(full), "sklearn_report": report,
            "macro_f1": point["macro_f1"], "ci": [low, high]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--docs", type=int, default=50_000, help="documents of the test split (records of one page are "
                                                             "resampled together)")
    ap.add_argument("--dir", type=Path, default=Path("build/evaluate-bench"))
    ap.add_argument("--measure", nargs=2, type=Path, metavar=("RELEASE", "PREDICTIONS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    import shutil

    shutil.rmtree(args.dir, ignore_errors=True)
    t = time.perf_counter()
    rel, preds = generate(args.dir, args.rows, args.docs)
    print(f"generated {args.rows:,} test records in {args.docs:,} documents and their predictions "
          f"in {time.perf_counter() - t:.1f} s: {rel}, {preds}")
    done = subprocess.run([sys.executable, __file__, "--measure", str(rel), str(preds)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr)
    m = json.loads(done.stdout.splitlines()[-1])
    print("\n--- builder evaluate (official evaluator) ---\n" + m["report"])
    print("\n--- scikit-learn classification_report, same arrays ---\n" + m["sklearn_report"])
    ratio, cpu_ratio = m["point_s"] / m["sklearn_s"], m["point_cpu_s"] / m["sklearn_cpu_s"]
    print(f"predictions {m['rows']:,}, scored {m['scored']:,}, documents {m['documents']:,}; "
          f"load average {m['load']:.1f}; best of 3 runs (wall / CPU)")
    print(f"point figures, read + join + checks + metrics: {m['point_s']:.2f} s / {m['point_cpu_s']:.2f} s "
          f"(first run {m['point_cold_s']:.2f} s / {m['point_cold_cpu_s']:.2f} s)")
    print(f"scikit-learn classification_report on class indices: {m['sklearn_s']:.2f} s / {m['sklearn_cpu_s']:.2f} s "
          f"(first run {m['sklearn_cold_s']:.2f} s); on label names: {m['sklearn_names_s']:.2f} s / "
          f"{m['sklearn_names_cpu_s']:.2f} s")
    print(f"ratio to scikit-learn on indices: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU (target <= 2x)  "
          f"{'OK' if ratio <= 2 else 'MISSED'}; on names: {m['point_s'] / m['sklearn_names_s']:.2f}x")
    print(f"bootstrap interval, 1,000 resamples over documents: {m['bootstrap_s']:.2f} s / {m['bootstrap_cpu_s']:.2f} s "
          f"(target < 10 s)  {'OK' if m['bootstrap_s'] < 10 else 'MISSED'}")
    print(f"everything `builder evaluate` does (checks, figures, interval, domains): {m['full_s']:.2f} s")
    print(f"peak RSS of the measuring process: {m['peak_rss_mb']:.0f} MB (after the point figures "
          f"{m['rss_after_point_mb']:.0f} MB, after the full evaluation {m['rss_after_full_mb']:.0f} MB; "
          f"target < 1024 MB)  {'OK' if m['peak_rss_mb'] < 1024 else 'MISSED'}")


if __name__ == "__main__":
    main()
