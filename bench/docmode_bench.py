"""Document mode at scale: push N whole pages to a real Label Studio server and pull them back
annotated; compare with a bare batched HTTP import of the same tasks in the same run. Not a test:
run it by hand.

    .venv/bin/python bench/docmode_bench.py             # 2,000 documents, batches of 100
    .venv/bin/python bench/docmode_bench.py -n 500 --batch-size 50

The pages are written here (deterministic: the same n gives the same pages), in the markup of a
blog with threaded comments, with emoji, astral letters and \\r\\n line ends; the real segmenter
makes their records. The bench starts its own server (a fresh state directory under a temporary
folder, from the cached data dir) and stops it at the end. Figures: documents/s for push (fresh
project: read records and documents, check them, build and import the tasks), the bare import of
the same task JSON, the idempotent re-push, and pull (export snapshot + per-annotator records,
agreement, gold, LABELS written) of a project where every document has two annotations.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.studio_bench import bare_import, print_figures, timed  # noqa: E402
from builder import docmode, studio  # noqa: E402
from builder.run import segment_corpus  # noqa: E402

WORDS = ("ferry harbour council winter island service fares vote season fishermen catch operator sailing spring "
         "residents gallery result closure plan month").split()
NAMES = ("Morwenna T", "harbourwatcher", "Ged Polglase", "Ines Carr", "Kai Brant", "Lena O", "Tom Hale")
EMOJI = ("🎉", "🌊", "👍", "😍", "🍔", "⛴️", "𝔑𝔬𝔯𝔡")


def page(i: int) -> str:
    """One page: a title, three paragraphs with a quote, then 3–5 comments, some with indented replies."""
    def sentence(k: int, n: int = 14) -> str:
        return " ".join(WORDS[(i * 7 + k * 3 + j) % len(WORDS)] for j in range(n)).capitalize()

    lines = [f"Harbour {sentence(1, 5)} {EMOJI[i % len(EMOJI)]}", "",
             f"{sentence(2)}. {sentence(3)} {EMOJI[(i + 1) % len(EMOJI)]}.", "",
             f"“{sentence(4, 9)},” the council leader, {NAMES[i % len(NAMES)]}, said after the vote.", "",
             f"{sentence(5)}. {sentence(6)}.", ""]
    for c in range(3 + i % 3):
        who = NAMES[(i + c) % len(NAMES)]
        lines += [f"{who} says:", f"March {1 + c}, 2024 at 9:{10 + c} am", "",
                  f"{sentence(10 + c, 12)} {EMOJI[(i + c) % len(EMOJI)]}", "", "Reply", ""]
        if (i + c) % 2:
            other = NAMES[(i + c + 3) % len(NAMES)]
            lines += [f"    {other} says:", f"    March {1 + c}, 2024 at 11:{20 + c} am", "",
                      f"    {sentence(20 + c, 10)}.", "", "    Reply", ""]
    return "\r\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="documents (default 2,000)")
    ap.add_argument("--batch-size", type=int, default=100, help="tasks per import request (default 100)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="docmode-bench-") as tmp:
        tmp = Path(tmp)
        docs = tmp / "pages.jsonl"
        with open(docs, "w", encoding="utf-8") as f:
            for i in range(args.n):
                f.write(json.dumps({"id": f"page{i:05d}", "text": page(i)}, ensure_ascii=False) + "\n")
        records = tmp / "records.parquet"
        t = time.perf_counter()
        seg = segment_corpus([docs], records, workers=1)
        print(f"segmented {seg['documents']['segmented']} pages into {seg['records']['total']} records in "
              f"{time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        server = studio.start(tmp / "state")
        print(f"server up in {time.perf_counter() - t:.1f} s at {server.url}")
        try:
            client = studio.connect(server.url, server.token)
            figures = {}
            # warm-up outside the clock: the first import into a fresh server pays for its caches and
            # connections, which would otherwise count against whichever of push and bare runs first
            by_doc = docmode.read_records(records)
            texts = docmode.read_texts([docs], set(by_doc))
            tasks = [docmode.build_task(texts[d], by_doc[d]) for d in sorted(by_doc)]
            warm, _ = studio.ensure_document_project(client, "bench-warm-up", docmode.label_config(),
                                                     docmode.check_label_config)
            bare_import(server.url, server.token, warm.id, tasks[:args.batch_size], args.batch_size)

            with timed(figures, "push"):
                rep = docmode.push(records, [docs], "bench-docs", client=client, batch_size=args.batch_size)
            assert rep.imported == args.n, rep

            bare, _ = studio.ensure_document_project(client, "bench-bare", docmode.label_config(),
                                                     docmode.check_label_config)
            with timed(figures, "bare"):
                bare_import(server.url, server.token, bare.id, tasks, args.batch_size)

            with timed(figures, "re-push"):
                rep2 = docmode.push(records, [docs], "bench-docs", client=client, batch_size=args.batch_size)
            assert rep2.imported == 0 and rep2.already == args.n, rep2

            # a project where two people annotated every page: the admin accepts the pre-annotation,
            # a second annotator too but drops the last region (imported with the tasks, as the API allows)
            annotated, _ = studio.ensure_document_project(client, "bench-annotated", docmode.label_config(),
                                                          docmode.check_label_config)
            me = client.users.whoami().id
            second = studio.add_annotator("bench-second", base=tmp / "state")["email"]
            other = next(u.id for u in client.users.list() if u.email == second)
            with_annotations = []
            for task in tasks:
                result = task["predictions"][0]["result"]
                spans = [r for r in result if r.get("from_name") == docmode.SPAN_CONTROL]
                last = spans[-1]["id"]
                fewer = [r for r in result if r.get("id") != last and last not in (r.get("from_id"), r.get("to_id"))]
                with_annotations.append(task | {"annotations": [{"result": result, "completed_by": me},
                                                                {"result": fewer, "completed_by": other}]})
            bare_import(server.url, server.token, annotated.id, with_annotations, args.batch_size)

            with timed(figures, "pull"):
                snapshot_id, raw = studio.export_snapshot(client, annotated.id)
                report = docmode.write(tmp / "LABELS", export_bytes=raw, snapshot_id=snapshot_id,
                                       project="bench-annotated", project_id=annotated.id)
            assert report["documents"] == args.n, report["documents"]

            regions = sum(len([r for r in task["predictions"][0]["result"] if r.get("from_name") == "span"])
                          for task in tasks)
            print(f"{args.n} documents ({regions} regions, {rep.relations} relations), batches of {args.batch_size}; "
                  f"pull: {report['annotations']['kept']} annotations, {report['gold_records']} gold records, "
                  f"status {report['status']}")
            print_figures(figures, args.n, "documents")
        finally:
            studio.stop(tmp / "state")


if __name__ == "__main__":
    main()
