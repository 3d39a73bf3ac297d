"""Publishing at scale: time and peak memory of `builder publish` (and `builder verify`) on a
synthetic corpus of N records in shards written in scrambled order, as another engine would, and of
`datasets.load_dataset` on the release (first load: Parquet converted into a cache of its own; second:
the cache mapped), with whether every split is memory-mapped.

    .venv/bin/python bench/publish_bench.py --records 1000000 [--work DIR --keep [--reuse]]

The corpus: documents of ~20 records (an article, quotes, comments, replies) whose texts are drawn
from a vocabulary with a fixed seed, and spam campaigns: 500 templates, each pasted (with small
variations) under documents of one site of 500 documents, ~2% of records. publish and verify run as
child processes, so their peak RSS (ru_maxrss) is measured alone. Prints one JSON object."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from builder.schema import SCHEMA_VERSION, TYPE_INDEX, arrow_schema

VOCAB = np.array(("the a of to and in is that for on with as was by at from council harbour wall storm winter "
                  "library garden district train signal farmer valley apple harvest engineer bridge river festival "
                  "music stage school hospital ward market square tram volunteer tree park football museum crew "
                  "resident budget contractor delay money family street bakery bus route lane neighbour weekend "
                  "morning evening rain wind road repair plan vote meeting hall debate report question answer story "
                  "photo window roof fence boat mayor teacher pupil lesson book reader writer song theatre ticket "
                  "price police court judge minister election party campaign tax rent house flat job wage strike "
                  "energy gas power water flood fire smoke doctor nurse patient vaccine virus study data science "
                  "climate carbon plant factory shop owner customer online phone app internet video game player "
                  "coach team match goal season league cup final win lose draw fan club stadium").split())


def texts(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[str]:
    lengths = rng.integers(lo, hi, n)
    words = VOCAB[rng.integers(0, len(VOCAB), int(lengths.sum()))]
    out, at = [], 0
    for k in lengths:
        out.append(" ".join(words[at : at + k]))
        at += k
    return out


def make_corpus(n_records: int, out: Path, shards: int = 16, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    per_doc = 20
    n_docs = max(1, n_records // per_doc)
    doc_of = np.repeat(np.arange(n_docs), per_doc)[:n_records]
    position = np.tile(np.arange(per_doc), n_docs)[:n_records]
    kind = np.where(position == 0, TYPE_INDEX["article"],
                    rng.choice([TYPE_INDEX["quote"], TYPE_INDEX["comment"], TYPE_INDEX["reply"]], n_records, p=[.2, .5, .3]))
    text = texts(rng, n_records, 8, 60)
    arts = np.flatnonzero(position == 0)
    for i, t in zip(arts, texts(rng, len(arts), 150, 400)):
        text[i] = t
    templates = texts(rng, 500, 15, 40)
    spam_rows = rng.choice(np.flatnonzero(position > 0), n_records // 50, replace=False)
    site_size = 500
    for i in spam_rows:
        site = int(doc_of[i]) // site_size
        t = templates[(site * 5 + int(rng.integers(0, 5))) % len(templates)]
        text[i] = t + (" !!" if rng.random() < 0.5 else "")  # small variations of one campaign
        kind[i] = TYPE_INDEX["spam"]
    doc_ids = np.array([f"doc-{d:08d}" for d in range(n_docs)])
    cols = {
        "record_id": pa.array([f"{d:08d}-{p:03d}" for d, p in zip(doc_of, position)]),
        "doc_id": pa.array(doc_ids[doc_of]),
        "type": pa.array(kind.astype(np.int64)),
        "text": pa.array(text),
        "char_start": pa.array((position * 500).astype(np.int64)),
        "char_end": pa.array((position * 500 + 400).astype(np.int64)),
        "parent_id": pa.nulls(n_records, pa.string()),
        "depth": pa.array(np.zeros(n_records, np.int32)),
        "position": pa.array(position.astype(np.int32)),
        "author": pa.nulls(n_records, pa.string()),
        "speaker": pa.nulls(n_records, pa.string()),
        "speaker_resolved": pa.nulls(n_records, pa.string()),
        "title": pa.array(np.char.add("title ", doc_ids[doc_of])),
        "url": pa.nulls(n_records, pa.string()),
        "domain": pa.array(np.char.add("site", (doc_of // site_size).astype(str))),
        "encoding": pa.array(["utf-8"] * n_records),
        "score": pa.array(rng.random(n_records).astype(np.float32)),
        "origin": pa.array(["segmenter"] * n_records),
        "segmenter_version": pa.array(["0.1.0"] * n_records),
        "schema_version": pa.array([SCHEMA_VERSION] * n_records),
    }
    table = pa.table(cols).cast(arrow_schema())
    out.mkdir(parents=True, exist_ok=True)
    order = rng.permutation(n_records)  # shards in no particular order, as a parallel engine writes them
    for s in range(shards):
        pq.write_table(table.take(pa.array(order[s::shards])), out / f"part-{s:05d}.parquet", compression="zstd")
    return {"records": n_records, "documents": n_docs, "shards": shards,
            "input_bytes": sum(f.stat().st_size for f in out.glob("*.parquet"))}


def timed(cmd: list[str]) -> dict:
    """Run cmd as a child; its own wall time and peak RSS (os.wait4 gives one child's rusage), and
    what it printed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace").strip()
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"{' '.join(cmd)} failed:\n{stderr}")
    return {"seconds": round(wall, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "stdout": stdout, "stderr": stderr[-300:]}


LOAD = """
import json, sys, time
import datasets
from datasets.table import MemoryMappedTable
t0 = time.perf_counter()
ds = datasets.load_dataset(sys.argv[1], cache_dir=sys.argv[2])
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": round(seconds, 1), "rows": {s: d.num_rows for s, d in ds.items()},
                  "memory_mapped": all(isinstance(d.data, MemoryMappedTable) and d.cache_files for d in ds.values())}))
"""


def load_dataset_timed(release: Path, cache: Path) -> dict:
    """`datasets.load_dataset(release)` in a child process: its wall time and peak RSS, the rows per
    split, and whether every split is memory-mapped from Arrow files (not copied into memory). The
    first load converts the Parquet files into the cache; a second one only maps the cache."""
    run = timed([sys.executable, "-c", LOAD, str(release), str(cache)])
    return json.loads(run["stdout"]) | {"process_seconds": run["seconds"], "cpu_seconds": run["cpu_seconds"],
                                         "peak_rss_mb": run["peak_rss_mb"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=None, help="Working directory (default: a temporary one).")
    ap.add_argument("--keep", action="store_true", help="Keep the corpus and the release.")
    ap.add_argument("--reuse", action="store_true", help="Reuse a corpus already generated in --work.")
    ap.add_argument("--generate", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        corpus = make_corpus(args.generate, args.work / "records")
        (args.work / "records" / "corpus.json").write_text(json.dumps(corpus))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="publish-bench-"))
    builder = str(Path(sys.executable).with_name("builder"))
    try:
        # the corpus is made in a child process: a child's ru_maxrss starts from its parent's size at
        # fork, so the measuring process must stay small
        t0 = time.perf_counter()
        if args.reuse and (work / "records" / "corpus.json").is_file():
            corpus = json.loads((work / "records" / "corpus.json").read_text())
        else:
            shutil.rmtree(work / "records", ignore_errors=True)
            subprocess.run([sys.executable, __file__, "--generate", str(args.records), "--work", str(work)], check=True)
            corpus = json.loads((work / "records" / "corpus.json").read_text())
            corpus["generate_seconds"] = round(time.perf_counter() - t0, 1)
        shutil.rmtree(work / "releases", ignore_errors=True)
        pub = timed([builder, "publish", str(work / "records"), "--name", "bench", "--version", "1.0.0",
                     "--out", str(work / "releases")])
        rel = work / "releases" / "bench" / "1.0.0"
        ver = timed([builder, "verify", str(rel)])
        cache = work / "hf-cache"  # a cache of its own: the first load converts, the second maps
        shutil.rmtree(cache, ignore_errors=True)
        first, again = load_dataset_timed(rel, cache), load_dataset_timed(rel, cache)
        cache_bytes = sum(f.stat().st_size for f in cache.rglob("*.arrow"))
        m = json.loads((rel / "manifest.json").read_text())
        for run in (pub, ver):
            del run["stdout"]  # what the commands print for a user, not a figure
        print(json.dumps({
            "corpus": corpus,
            "publish": pub,
            "verify": ver,
            "load_dataset": {"first": first, "cached": again, "arrow_cache_bytes": cache_bytes},
            "release_bytes": sum(f["bytes"] for f in m["files"]),
            "data_files": len(m["files"]),
            "splits": {s: v["rows"] for s, v in m["splits"].items()},
            "dedup": m["dedup"],
            "cpus": os.cpu_count(),
        }, indent=2))
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
