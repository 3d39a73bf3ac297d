"""Push N records to a real Label Studio server and pull them back; compare with a bare batched HTTP
import of the same tasks in the same run. Not a test: run it by hand.

    .venv/bin/python bench/studio_bench.py            # 10,000 records, batches of 500
    .venv/bin/python bench/studio_bench.py -n 2000 --batch-size 1000

It starts its own server (a fresh state directory under a temporary folder, from the cached data
dir) and stops it at the end. Figures printed: tasks/s for push (fresh project), bare import,
the idempotent re-push (an export snapshot to learn what is there, nothing imported), and pull
(export snapshot + LABELS written); ratio push/bare.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder import labels, studio  # noqa: E402
from builder.schema import SCHEMA_VERSION, TYPE_INDEX, TYPE_NAMES, arrow_schema  # noqa: E402

WORDS = ("ferry harbour council winter island service fares vote season fishermen catch operator "
         "sailing spring residents gallery result closure plan month").split()


def synthetic_records(n: int) -> list[dict]:
    """n records in documents of 10: an article, two quotes in it, comments, replies and spam, with
    deterministic text (no randomness: the same n gives the same records)."""
    layout = ["article", "quote", "quote", "comment", "reply", "quote", "spam", "comment", "reply", "comment"]
    records = []
    for i in range(n):
        doc, k = divmod(i, len(layout))
        kind = layout[k]
        rid = hashlib.blake2b(f"bench{doc}:{k}".encode(), digest_size=8).hexdigest()
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(60 if kind == "article" else 18)]
        parent = {"quote": 0 if k < 5 else 4, "reply": k - 1, "spam": 3}.get(kind)
        parent_id = records[doc * len(layout) + parent]["record_id"] if parent is not None else None
        records.append({
            "record_id": rid, "doc_id": f"bench{doc:05d}", "type": kind, "text": " ".join(words).capitalize() + ".",
            "char_start": k * 1000, "char_end": k * 1000 + 500, "parent_id": parent_id,
            "depth": 1 if kind in ("reply", "spam") else 0, "position": k,
            "author": f"reader{i % 97}" if kind in ("comment", "reply", "spam") else None,
            "speaker": "the council" if kind == "quote" else None,
            "speaker_resolved": "the council" if kind == "quote" else None,
            "title": f"Benchmark page {doc}", "url": None, "domain": None, "encoding": "utf-8",
            "score": 0.5 + (i % 50) / 100, "origin": "segmenter", "segmenter_version": "bench",
            "schema_version": SCHEMA_VERSION,
        })
    return records


def bare_import(url: str, token: str, project_id: int, tasks: list[dict], batch_size: int) -> None:
    """The same tasks POSTed to /api/projects/ID/import in the same batches, nothing else."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=600) as http:
        for i in range(0, len(tasks), batch_size):
            r = http.post(f"/api/projects/{project_id}/import", params={"commit_to_project": "true"},
                          content=json.dumps(tasks[i:i + batch_size]), headers={"Content-Type": "application/json"})
            r.raise_for_status()


@contextlib.contextmanager
def timed(figures: dict, name: str):
    """figures[name] = the wall seconds the block took."""
    t = time.perf_counter()
    yield
    figures[name] = time.perf_counter() - t


def print_figures(figures: dict, n: int, unit: str) -> None:
    """Each step's seconds and units/s, then push's rate over the bare import's."""
    for name, secs in figures.items():
        print(f"  {name:8s} {secs:7.2f} s  {n / secs:8.1f} {unit}/s")
    print(f"  ratio push/bare ({unit}/s): {figures['bare'] / figures['push']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000, help="records to push (default 10,000)")
    ap.add_argument("--batch-size", type=int, default=500, help="tasks per import request (default 500)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        tmp = Path(tmp)
        records = synthetic_records(args.n)
        path = tmp / "records.parquet"
        pq.write_table(pa.Table.from_pylist([r | {"type": TYPE_INDEX[r["type"]]} for r in records],
                                            schema=arrow_schema()), path)
        t = time.perf_counter()
        server = studio.start(tmp / "state")
        print(f"server up in {time.perf_counter() - t:.1f} s at {server.url}")
        try:
            client = studio.connect(server.url, server.token)
            figures = {}

            with timed(figures, "push"):
                rep = studio.push(path, "bench-push", client=client, batch_size=args.batch_size)
            assert rep.imported == args.n, rep

            tasks = list(studio.record_tasks(studio.read_records(path)))
            bare_project, _ = studio.ensure_project(client, "bench-bare")
            with timed(figures, "bare"):
                bare_import(server.url, server.token, bare_project.id, tasks, args.batch_size)

            with timed(figures, "re-push"):
                rep2 = studio.push(path, "bench-push", client=client, batch_size=args.batch_size)
            assert rep2.imported == 0 and rep2.already == args.n, rep2

            with timed(figures, "pull"):
                snapshot_id, raw = studio.export_snapshot(client, rep.project_id)
                report = labels.write(tmp / "LABELS", export_bytes=raw, snapshot_id=snapshot_id,
                                      project="bench-push", project_id=rep.project_id)
            assert report["records"] == args.n and report["label_status"]["unlabeled"] == args.n

            print(f"{args.n} records, batches of {args.batch_size}, types {', '.join(TYPE_NAMES)}")
            print_figures(figures, args.n, "tasks")
        finally:
            studio.stop(tmp / "state")


if __name__ == "__main__":
    main()
