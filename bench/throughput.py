"""Throughput of `builder segment` against a floor, in one run.

    python bench/throughput.py --mb 50             # a 50 MB JSONL corpus
    python bench/throughput.py --mb 2000 --doc-kb 5
    python bench/throughput.py --mb 20 --profile   # and what the time goes to (cProfile, 1 worker)

Builds a JSONL corpus of about --mb MB: documents generated in the markup of the example page
(title, article paragraphs with quotes, an indented comment thread with "• Name" replies and
spam), about --doc-kb KB each, mixed with real pages from ../shared/realdata when that folder
exists (--real-share of the documents). Then, each in its own subprocess:

  floor      pyarrow reads the same JSONL (streaming) and writes the same text to zstd Parquet:
             the cost of I/O and Parquet with no segmentation at all
  engine     builder.run.segment_corpus with a stand-in segmenter that returns one article record
             per document (1 worker): what ingest, checks, Arrow and Parquet cost around the
             segmenter; the rest of the builder's time is the segmenter's
  builder    `builder segment CORPUS --out X.parquet --workers 1`, and with all cores

and prints wall time, CPU time (user + sys of the process and the workers it reaps), documents/s
and MB/s (overall and per core used), the CPU-time ratio builder/floor, and peak memory: the
largest single process (ru_maxrss), the whole process tree (sampled /proc RSS, summed) and the
largest worker process of the pool (sampled; "-" when the run had no pool).

Targets on a 2-core machine: >= 1,000 documents/s per core on 5 KB documents; CPU time <= 10x
the floor; peak RSS < 500 MB at 2 GB of input.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REALDATA = REPO.parent / "shared" / "realdata"
DRAGNET_MARK = "!@#$%^&*()  COMMENTS"

# ------------------------------------------------------------------------------- generated pages

FIRST = ["Ana", "Ben", "Carla", "Dev", "Elena", "Femi", "Grace", "Hugo", "Ines", "Jon", "Kira", "Liam",
         "Maya", "Nico", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Alvarez", "Kowalski", "Haddad", "Brennan", "Osei",
        "Varga", "Nakamura", "Fischer", "Castillo", "Dube", "Ibrahim", "Novak"]
ROLES = ["the mayor", "a spokeswoman for the agency", "the union leader", "the city engineer",
         "a local shop owner", "the committee chair", "the police chief", "an economist at the bank"]
SUBJECTS = ["The council", "The ministry", "Local residents", "The company", "Investigators", "The board",
            "Several lawmakers", "The regional court", "Farmers in the valley", "Hospital staff"]
VERBS = ["approved", "rejected", "postponed", "questioned", "welcomed", "criticized", "announced", "reviewed"]
OBJECTS = ["the new budget", "plans for a second bridge", "the water tariff", "a report on air quality",
           "the proposed bus routes", "changes to the school calendar", "the harbor expansion",
           "a ban on night flights", "funding for the library", "the housing survey"]
TAILS = ["after a long debate on Tuesday", "despite protests outside the hall", "in a vote of seven to two",
         "for the third time this year", "without giving a date", "following complaints from tenants",
         "ahead of the winter season", "at a meeting that ran past midnight"]
SAYS = ["said", "told reporters", "added", "wrote in a statement", "explained", "warned"]
CLAIMS = ["We cannot keep paying for repairs that never last", "This is the fairest solution we could find",
          "Nobody asked the people who actually live here", "The numbers simply do not add up",
          "We will publish every document once the review is over", "It is a good day for the whole region",
          "There is still a lot of work ahead of us", "The decision was made behind closed doors"]
COMMENT_BODIES = ["About time somebody said it.", "I have lived here twenty years and nothing ever changes.",
                  "Does anyone know when the next meeting is?", "This article leaves out half the story.",
                  "Thanks for covering this, the national papers ignored it.",
                  "They said the same thing last year and then raised the fees anyway.",
                  "My neighbours and I signed the petition, for what it's worth.",
                  "Who is going to pay for all of this in the end?"]
SPAM = ["Earn $80 an hour from home with Goo-gle! I made $9,300 last month. Start here: http://quick-pay.example/{n}",
        "Cheap watches and bags, 90% off today only!!! Visit www.best-deals.example/{n} now",
        "I quit my job and now make $500 a day online. See how: http://earn-fast.example/join?id={n}"]


SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
DETAILS = ["near {place}", "in the {word} district", "after {n} residents of {place} wrote in",
           "on the {word} road", "at a cost of {n} thousand", "with {n} {word} permits", "in {place}"]


def _word(rng: random.Random) -> str:
    """A made-up word: real text rarely repeats a sentence, and the generated pages must not either
    (the segmenter keeps small caches of pure functions, which a corpus of a few hundred distinct
    sentences would flatter)."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))


def _detail(rng: random.Random) -> str:
    return rng.choice(DETAILS).format(place=_word(rng).capitalize(), word=_word(rng), n=rng.randint(2, 999))


def _name(rng: random.Random) -> str:
    last = rng.choice(LAST) if rng.random() < 0.3 else _word(rng).capitalize()
    return f"{rng.choice(FIRST)} {last}"


def _sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {_detail(rng)} {rng.choice(TAILS)}."


def _quote_paragraph(rng: random.Random) -> str:
    speaker = rng.choice([_name(rng), rng.choice(ROLES)])
    claim = f"{rng.choice(CLAIMS)} {_detail(rng)}"
    if rng.random() < 0.5:
        return f"\u201c{claim},\u201d {speaker} {rng.choice(SAYS)}. {_sentence(rng)}"
    return f"{_sentence(rng)} {speaker[0].upper() + speaker[1:]} said: \u201c{claim}.\u201d"


def _comment_sentence(rng: random.Random) -> str:
    body = rng.choice(COMMENT_BODIES)
    return body if rng.random() < 0.5 else f"{body[:-1]} {_detail(rng)}{body[-1]}"


def generate_page(rng: random.Random, n: int, target_chars: int) -> str:
    """One page in the example's markup, about target_chars long."""
    title = " ".join(w.capitalize() for w in f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}".split())
    parts = [title, ""]
    article_chars = int(target_chars * rng.uniform(0.55, 0.8))
    size = len(title)
    while size < article_chars:
        para = (_quote_paragraph(rng) if rng.random() < 0.3
                else " ".join(_sentence(rng) for _ in range(rng.randint(2, 4))))
        parts += [para, ""]
        size += len(para) + 2
    parts.append("")
    depth_of_last = None
    while size < target_chars:
        if depth_of_last is not None and rng.random() < 0.4:  # a reply under the previous comment
            indent = "    " + "  " * (depth_of_last + 1)
            body = (SPAM[rng.randrange(len(SPAM))].format(n=n) if rng.random() < 0.15
                    else " ".join(_comment_sentence(rng) for _ in range(rng.randint(1, 3))))
            block = [f"{indent}\u2022 {_name(rng).replace(' ', '') if rng.random() < 0.3 else _name(rng)}", "",
                     f"{indent}  {body}", ""]
            depth_of_last = min(depth_of_last + 1, 2)
        else:
            body = " ".join(_comment_sentence(rng) for _ in range(rng.randint(1, 4)))
            block = [f"    {_name(rng)}, {body}", ""]
            depth_of_last = 0
        parts += block
        size += sum(len(b) + 1 for b in block)
    return "\n".join(parts)


def real_pages() -> list[tuple[str, str]]:
    """Real pages from ../shared/realdata (read here at run time, never copied into the project)."""
    pages: list[tuple[str, str]] = []
    docs = REALDATA / "dragnet" / "docs"
    if docs.is_dir():
        for p in sorted(docs.glob("*.txt")):
            raw = p.read_bytes()
            for codec in ("utf-8", "utf-16", "cp1252", "latin-1"):
                try:
                    text = raw.decode(codec)
                    break
                except UnicodeDecodeError:
                    continue
            pages.append((p.stem, text.replace(DRAGNET_MARK + "\n", "").replace(DRAGNET_MARK, "")))
    news = REALDATA / "fakenewscorpus" / "news_sample.csv"
    if news.is_file():
        import csv

        csv.field_size_limit(2**31 - 1)
        with news.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row.get("content", "").strip():
                    pages.append((f"fn{row['id']}", row["content"]))
    return pages


def build_corpus(path: Path, mb: float, doc_kb: float, real_share: float, seed: int = 0) -> dict:
    rng = random.Random(seed)
    real = real_pages() if real_share > 0 else []
    target = int(mb * 1e6)
    written = docs = n_real = 0
    with path.open("w", encoding="utf-8") as f:
        while written < target:
            if real and rng.random() < real_share:
                doc_id, text = real[n_real % len(real)]
                doc_id = f"r{docs}-{doc_id}"
                n_real += 1
            else:
                doc_id, text = f"g{docs}", generate_page(rng, docs, int(doc_kb * 1000 * rng.uniform(0.6, 1.4)))
            line = json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            docs += 1
    return {"documents": docs, "bytes": written, "real": n_real}


# ------------------------------------------------------------------------------- measuring

FLOOR = r"""
import sys, pyarrow as pa, pyarrow.json as pj, pyarrow.parquet as pq
src, dst = sys.argv[1], sys.argv[2]
schema = pa.schema([("id", pa.string()), ("text", pa.string())])
reader = pj.open_json(src, read_options=pj.ReadOptions(block_size=8 << 20),
                      parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))
with pq.ParquetWriter(dst, schema, compression="zstd") as w:
    for batch in reader:
        w.write_batch(batch)
"""


def one_record(doc) -> list[dict]:
    """The engine run's stand-in segmenter: the whole text as one article record."""
    from builder.segment import SCHEMA_VERSION, collapse, record_id

    return [{"record_id": record_id(doc.doc_id, 0, len(doc.text), False), "doc_id": doc.doc_id, "type": "article",
             "text": collapse(doc.text), "char_start": 0, "char_end": len(doc.text), "parent_id": None, "depth": 0,
             "position": 0, "author": None, "speaker": None, "speaker_resolved": None, "title": doc.title,
             "url": doc.url, "domain": doc.domain, "encoding": doc.encoding, "score": 1.0, "origin": "segmenter",
             "segmenter_version": "bench-one-record", "schema_version": SCHEMA_VERSION}]


ENGINE = r"""
import sys
sys.path.insert(0, sys.argv[3])
from throughput import one_record
from builder.run import segment_corpus
segment_corpus([sys.argv[1]], sys.argv[2], workers=1, segment=one_record)
"""


def _tree_rss_kb(root: int) -> dict[int, int]:
    """RSS of `root` and of each of its descendants, from /proc: pid → kB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        tree[pid] = rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return tree


def _is_worker(pid: int) -> bool:
    """A worker of the local engine's pool (multiprocessing's spawn entry point; not its resource tracker)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"spawn_main" in f.read()
    except OSError:
        return False


def measure(cmd: list[str]) -> dict:
    """Run cmd in a fresh wrapper process; its RUSAGE_CHILDREN then covers exactly this command and
    the workers it reaped (CPU summed; ru_maxrss the largest single process)."""
    wrapper = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "stderr": proc.stderr[-2000:], "wall": wall,
                  "cpu": ru.ru_utime + ru.ru_stime, "maxrss_mb": ru.ru_maxrss / 1024}))
"""
    p = subprocess.Popen([sys.executable, "-c", wrapper, json.dumps(cmd)], stdout=subprocess.PIPE, text=True)
    peak = worker_peak = 0
    workers: dict[int, bool] = {}
    stop = threading.Event()

    def sample():
        nonlocal peak, worker_peak
        while not stop.is_set():
            tree = _tree_rss_kb(p.pid)
            peak = max(peak, sum(tree.values()))
            for pid, kb in tree.items():
                if pid not in workers:
                    workers[pid] = _is_worker(pid)
                if workers[pid]:
                    worker_peak = max(worker_peak, kb)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = p.communicate()
    stop.set()
    sampler.join()
    result = json.loads(out)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({result['rc']}): {result['stderr']}")
    result["tree_peak_mb"] = peak / 1024
    result["worker_peak_mb"] = worker_peak / 1024 if worker_peak else None
    return result


def profile(corpus: Path, workdir: Path, limit_docs: int) -> str:
    """cProfile of the in-process engine (1 worker) over the first limit_docs documents."""
    from builder.run import segment_corpus

    head = workdir / "head.jsonl"
    with corpus.open(encoding="utf-8") as src, head.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= limit_docs:
                break
            dst.write(line)
    prof = cProfile.Profile()
    prof.enable()
    segment_corpus([head], workdir / "profile.parquet", workers=1)
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    by_file: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        key = filename.split("/builder/")[-1] if "/builder/" in filename else (
            "regex" if "regex" in filename else "pyarrow" if "pyarrow" in filename else
            "json" if "json" in filename else "other (stdlib, builtins)")
        by_file[key] = by_file.get(key, 0.0) + tottime
    total = sum(by_file.values()) or 1.0
    buf.write("self time by file:\n")
    for k, v in sorted(by_file.items(), key=lambda kv: -kv[1])[:12]:
        buf.write(f"  {v / total:6.1%}  {v:7.2f}s  {k}\n")
    buf.write("\ntop functions by self time:\n")
    stats.sort_stats("tottime").print_stats(15)
    return buf.getvalue()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20, help="corpus size in MB of JSONL (default 20)")
    ap.add_argument("--doc-kb", type=float, default=5, help="mean size of a generated document (default 5)")
    ap.add_argument("--real-share", type=float, default=0.25,
                    help="share of documents taken from ../shared/realdata when present (default 0.25)")
    ap.add_argument("--workers", type=int, default=None, help="the 'all cores' run (default: all cores)")
    ap.add_argument("--workdir", type=Path, default=None, help="where to build the corpus (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and outputs")
    ap.add_argument("--profile", action="store_true", help="also profile 1 worker over the first 2,000 documents")
    args = ap.parse_args(argv)

    from builder.run import default_workers

    workers = args.workers or default_workers()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="builder-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    builder = [sys.executable, "-m", "builder"]
    try:
        corpus = workdir / "corpus.jsonl"
        t = time.perf_counter()
        info = build_corpus(corpus, args.mb, args.doc_kb, args.real_share if REALDATA.is_dir() else 0.0)
        mb = info["bytes"] / 1e6
        print(f"corpus: {info['documents']:,} documents, {mb:,.1f} MB JSONL ({info['real']:,} real pages), "
              f"mean {info['bytes'] / info['documents'] / 1000:.1f} KB/document; built in "
              f"{time.perf_counter() - t:.1f}s at {corpus}")
        runs = [("floor (pyarrow json → zstd parquet)", 1,
                 [sys.executable, "-c", FLOOR, str(corpus), str(workdir / "floor.parquet")]),
                ("engine only (1 record/doc, 1 worker)", 1,
                 [sys.executable, "-c", ENGINE, str(corpus), str(workdir / "engine.parquet"), str(Path(__file__).parent)]),
                ("builder --workers 1", 1,
                 [*builder, "segment", str(corpus), "--out", str(workdir / "w1.parquet"), "--workers", "1"])]
        if workers > 1:
            runs.append((f"builder --workers {workers}", workers,
                         [*builder, "segment", str(corpus), "--out", str(workdir / f"w{workers}.parquet"),
                          "--workers", str(workers)]))
        results = []
        for name, cores, cmd in runs:
            r = measure(cmd)
            results.append((name, cores, r))
        print(f"\n{'run':<38}{'wall s':>8}{'cpu s':>8}{'docs/s':>9}{'docs/s/core':>12}{'MB/s/core':>10}"
              f"{'cpu/floor':>10}{'max proc MB':>12}{'tree MB':>9}{'worker MB':>10}")
        floor_cpu = results[0][2]["cpu"]
        for name, cores, r in results:
            dps = info["documents"] / r["wall"]
            print(f"{name:<38}{r['wall']:>8.1f}{r['cpu']:>8.1f}{dps:>9,.0f}{dps / cores:>12,.0f}"
                  f"{mb / r['wall'] / cores:>10.2f}{r['cpu'] / floor_cpu:>10.1f}{r['maxrss_mb']:>12.0f}"
                  f"{r['tree_peak_mb']:>9.0f}"
                  f"{'-' if r['worker_peak_mb'] is None else format(r['worker_peak_mb'], '.0f'):>10}")
        engine_cpu, builder_cpu = results[1][2]["cpu"], results[2][2]["cpu"]
        print(f"\nbuilder CPU cost: {info['documents'] / builder_cpu:,.0f} documents per CPU-second "
              f"({builder_cpu / floor_cpu:.1f}x the floor's CPU time); of it, the engine around the segmenter "
              f"{engine_cpu / builder_cpu:.0%} ({engine_cpu / floor_cpu:.1f}x the floor), the segmenter the rest")
        print("targets (2 cores): >= 1,000 docs/s per core on 5 KB documents; CPU <= 10x floor; "
              "peak RSS < 500 MB at 2 GB")
        if args.profile:
            print("\n" + profile(corpus, workdir, 2000))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
