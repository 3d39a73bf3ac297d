"""Peak memory of push and pull as the project grows: the two steps that hold every record of a
project, measured at two sizes so that growth shows. Not a test: run it by hand.

    .venv/bin/python bench/labeling_memory.py                       # 100k and 400k tasks/records
    .venv/bin/python bench/labeling_memory.py --sizes 50000 1000000

No server: the parts that grow with the project are measured on their own, each in a child
process (os.wait4 gives its peak RSS alone):
  pull   judging a Label Studio JSON export of N tasks (two annotators each, the format
         `builder pull` downloads) into LABELS: `labels.write(export_file=...)`, as pull runs it
         after the download (which streams to disk in 1 MB chunks);
  pull --mode document   the same for N/20 document tasks (a page of ~1.5 KB, an article and two
         comments, one a reply, from two annotators): `docmode.write(export_file=...)`;
  push   checking a records file of N records and building every task with its context
         (`studio.read_records` + `studio.record_tasks`), what push does between its HTTP batches.
Inputs are made by a child process of their own, so the measuring process stays small (a child's
ru_maxrss starts from its parent's size at fork, and Linux keeps it across exec). bench/studio_bench.py measures the same steps against a real
server, for speed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PULL = """
import sys
from pathlib import Path
from builder import labels
labels.write(Path(sys.argv[2]), export_file=Path(sys.argv[1]), snapshot_id=1, project="bench", project_id=1)
"""
PULL_DOCUMENTS = """
import sys
from pathlib import Path
from builder import docmode
docmode.write(Path(sys.argv[2]), export_file=Path(sys.argv[1]), snapshot_id=1, project="bench", project_id=1)
"""
PUSH = """
import sys
from builder import studio
n = sum(1 for _ in studio.record_tasks(studio.read_records(sys.argv[1])))
print(n)
"""


def write_export(n: int, path: Path) -> int:
    """A JSON export of n record tasks, each answered by two annotators (one in seven disagree),
    written task by task."""
    with open(path, "wb") as f:
        f.write(b"[")
        for i in range(n):
            rid = hashlib.blake2b(f"bench{i}".encode(), digest_size=8).hexdigest()
            answers = [{"id": 2 * i + k, "completed_by": {"id": k + 1, "email": f"annotator{k}@bench.org"},
                        "result": [{"from_name": "type", "to_name": "text", "type": "choices",
                                    "value": {"choices": ["reply" if k and i % 7 == 0 else "comment"]}}],
                        "was_cancelled": False, "created_at": "2026-01-02T10:00:00Z",
                        "updated_at": "2026-01-02T10:00:00Z", "lead_time": 4.5} for k in range(2)]
            task = {"id": i + 1, "data": {"record_id": rid, "doc_id": f"bench{i // 10:07d}", "position": i % 10,
                                          "title": "Benchmark page", "context_label": "Reader comment",
                                          "context": "No author line on the page.",
                                          "text": "The ferry council voted on winter fares. " * 4,
                                          "segmenter_type": "comment"},
                    "annotations": answers, "drafts": [], "predictions": [i + 1]}
            f.write((b"," if i else b"") + json.dumps(task).encode())
        f.write(b"]")
    return path.stat().st_size


def write_document_export(n: int, path: Path) -> int:
    """A document-mode JSON export of n document tasks: a page (article, a comment, a reply to it)
    labelled alike by two annotators, written task by task."""
    from builder.docmode import text_sha256

    article = "The harbour council voted on Tuesday to keep the winter ferry running. " * 12
    first, second = "Good news for the island.", "Agreed, and the fares should stay as they are."
    page = f"Ferry stays\n\n{article}\n\nMara says:\n{first}\n\n    Ole says:\n    {second}\n"
    spans = [("a", page.index(article), page.index(article) + len(article), "article"),
             ("c", page.index(first), page.index(first) + len(first), "comment"),
             ("r", page.index(second), page.index(second) + len(second), "reply")]
    result = [{"id": rid, "from_name": "span", "to_name": "text", "type": "labels", "origin": "manual",
               "value": {"start": s, "end": e, "text": page[s:e], "labels": [label]}} for rid, s, e, label in spans]
    result.append({"from_id": "r", "to_id": "c", "type": "relation", "direction": "right", "labels": ["answers"]})
    with open(path, "wb") as f:
        f.write(b"[")
        for i in range(n):
            answers = [{"id": 2 * i + k, "completed_by": {"id": k + 1, "email": f"annotator{k}@bench.org"},
                        "result": result, "was_cancelled": False, "created_at": "2026-01-02T10:00:00Z",
                        "updated_at": "2026-01-02T10:00:00Z", "lead_time": 60.0} for k in range(2)]
            task = {"id": i + 1, "data": {"doc_id": f"page-{i:07d}", "text": page, "text_sha256": text_sha256(page)},
                    "annotations": answers, "drafts": [], "predictions": []}
            f.write((b"," if i else b"") + json.dumps(task).encode())
        f.write(b"]")
    return path.stat().st_size


def write_records(n: int, path: Path) -> int:
    """n records: studio_bench's synthetic documents of ten records, 10,000 records at a time, each
    block with ids and doc_ids of its own."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from studio_bench import synthetic_records

    from builder.schema import TYPE_NAMES, arrow_schema

    schema = arrow_schema()
    block = synthetic_records(10_000)
    for r in block:
        r["type"] = TYPE_NAMES.index(r["type"])

    def renamed(rid: str | None, b: int) -> str | None:
        return None if rid is None else hashlib.blake2b(f"{b}:{rid}".encode(), digest_size=8).hexdigest()

    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        for b, start in enumerate(range(0, n, len(block))):
            rows = [r | {"record_id": renamed(r["record_id"], b), "parent_id": renamed(r["parent_id"], b),
                         "doc_id": f"{r['doc_id']}-{b}"} for r in block[: n - start]]
            w.write_table(pa.Table.from_pylist(rows, schema=schema))
    return path.stat().st_size


def child(code: str, *args: str) -> dict:
    """Run code in a child Python (publish_bench.timed): its wall time, CPU time and peak RSS alone."""
    from publish_bench import timed

    return timed([sys.executable, "-c", code, *args])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs=2, default=[100_000, 400_000], metavar=("SMALL", "LARGE"))
    ap.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    ap.add_argument("--make", type=int, default=None, help=argparse.SUPPRESS)  # the child that writes inputs
    a = ap.parse_args()
    if a.make:
        print(json.dumps([write_export(a.make, a.work / f"export-{a.make}.json"),
                          write_records(a.make, a.work / f"records-{a.make}.parquet"),
                          write_document_export(a.make // 20, a.work / f"documents-{a.make}.json")]))
        return
    work = a.work or Path(tempfile.mkdtemp(prefix="labeling-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for n in a.sizes:
            made = subprocess.run([sys.executable, __file__, "--make", str(n), "--work", str(work)],
                                  check=True, capture_output=True, text=True)
            export_bytes, records_bytes, documents_bytes = json.loads(made.stdout)
            rows.append(("pull", n, export_bytes / 1e6,
                         child(PULL, str(work / f"export-{n}.json"), str(work / f"labels-{n}"))))
            rows.append(("push", n, records_bytes / 1e6, child(PUSH, str(work / f"records-{n}.parquet"))))
            rows.append(("pull --mode document", n // 20, documents_bytes / 1e6,
                         child(PULL_DOCUMENTS, str(work / f"documents-{n}.json"), str(work / f"documents-{n}"))))
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'step':<22}{'tasks':>10}{'input MB':>10}{'wall s':>8}{'cpu s':>7}{'peak RSS MB':>13}")
    for step, n, mb, r in sorted(rows, key=lambda r: (r[0], r[1])):
        print(f"{step:<22}{n:>10,}{mb:>10.0f}{r['seconds']:>8.1f}{r['cpu_seconds']:>7.1f}{r['peak_rss_mb']:>13.0f}")
    for step in ("pull", "pull --mode document", "push"):
        small, large = (r[3]["peak_rss_mb"] for r in sorted((r for r in rows if r[0] == step), key=lambda r: r[1]))
        tasks = [n for s, n, _, _ in rows if s == step]
        print(f"{step}: {max(tasks) / min(tasks):.0f}x the tasks, {large / small:.2f}x the peak RSS "
              f"(+{(large - small) * 1024 * 1024 / (max(tasks) - min(tasks)):.0f} bytes per task)")


if __name__ == "__main__":
    main()
