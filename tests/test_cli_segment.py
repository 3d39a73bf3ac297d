"""`builder segment`: inputs → records Parquet + quarantine + report, through the real segmenter, the
real worker pool and the real readers (pyarrow, datasets, polars, duckdb)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from builder.cli import cli
from builder.document import Document
from builder.run import segment_corpus, storage_schema
from builder.schema import TYPE_NAMES
from tests.helpers import SEED, need_shared

BUILDER = Path(sys.executable).with_name("builder")

# Pieces of documents in the markup of the example page: a title line, article paragraphs with
# quotes, then a comment thread (indented bodies, "• Name" headers for replies, a spam reply).
TITLES = ["Council Delays Vote on Bus Lanes", "Storm Closes Coastal Road for Two Days",
          "School Board Adds Evening Classes", "Orchard Harvest Smaller Than Expected"]
PARAS = [
    "The council postponed its vote on the new bus lanes after a long public hearing on Monday.",
    "\u201cWe need more time to read the traffic study,\u201d said councillor Jane Okafor.",
    "Residents of the east side have asked for the lanes since the route was cut last spring.",
    "Engineers said the work could start in autumn if the budget is approved in time.",
    "\u201cThe road will reopen once the crews have cleared the debris,\u201d a county spokesman said.",
    "Farmers blamed a late frost in April for the smaller crop of apples this year.",
]
COMMENTS = [
    ("Paul Grant", "This should have been decided months ago. Every delay costs us money."),
    ("Rosa Lind", "I drive that road every day and it floods every single winter."),
    ("Ken Ito", "Good to see the board listening to parents for once."),
]
REPLIES = [("Dana Wu", "Agreed, the hearing was a waste of everyone's evening."),
           ("Sam Cole", "Not true, the study was only published last week.")]
SPAM = ("Easy Cash Daily", "Make $90 an hour from home!!! I earned $8,500 last month. "
        "Go to http://fast-cash.example/start now and claim your bonus")


def make_doc(i: int, newline: str = "\n") -> str:
    paras = [PARAS[(i + k) % len(PARAS)] for k in range(2 + i % 3)]
    parts = [TITLES[i % len(TITLES)], "", *sum(([p, ""] for p in paras), [])]
    if i % 4 != 3:  # some pages have no comments
        name, body = COMMENTS[i % len(COMMENTS)]
        parts += ["", f"    {name}, {body}", ""]
        if i % 2 == 0:
            rname, rbody = REPLIES[i % len(REPLIES)]
            parts += [f"    \u2022 {rname}", "", f"      {rbody}", ""]
        if i % 5 == 0:
            parts += [f"    \u2022 {SPAM[0]}", "", f"      {SPAM[1]}", ""]
    return newline.join(parts)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def names(table: pa.Table) -> list[str]:
    return [TYPE_NAMES[t] for t in table.column("type").to_pylist()]


def run_builder(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BUILDER), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A mixed corpus: .txt (one with \\r\\n, one cp1252), .jsonl, .csv and .parquet of generated
    pages, and the bad cases (empty, binary, malformed row, duplicate id, row without text)."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "txt").mkdir()
    for i in range(6):
        (root / "txt" / f"page{i:02d}.txt").write_text(make_doc(i), encoding="utf-8")
    (root / "txt" / "crlf.txt").write_bytes(make_doc(6, "\r\n").encode("utf-8"))
    (root / "txt" / "legacy.txt").write_bytes(make_doc(8).encode("cp1252"))
    (root / "txt" / "blank.txt").write_bytes(b"\n\n")
    (root / "txt" / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 4)
    with (root / "rows.jsonl").open("w", encoding="utf-8") as f:
        for i in range(10, 40):
            f.write(json.dumps({"id": f"j{i}", "text": make_doc(i), "url": f"https://www.paper{i % 3}.example/{i}"}) + "\n")
        f.write("{broken json\n")
        f.write(json.dumps({"id": "j10", "text": make_doc(11)}) + "\n")  # duplicate id
        f.write(json.dumps({"id": "j99", "content": None}) + "\n")
    (root / "table.csv").write_text(
        "id,content,title,domain\n" +
        "".join(f'c{i},"{make_doc(i)}",Headline {i},csv.example\n' for i in range(40, 50)), encoding="utf-8")
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(50, 70)], "text": [make_doc(i) for i in range(50, 70)]}),
                   root / "table.parquet")
    return root


GOOD = 6 + 2 + 30 + 10 + 20  # documents the corpus fixture writes that can be segmented
BAD = {"empty": 1, "binary": 1, "malformed": 1, "duplicate_id": 1, "missing_text": 1}


@pytest.fixture(scope="module")
def seg_file(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "records.parquet"
    result = invoke("segment", corpus, "--out", out, "--workers", 1)
    assert result.exit_code == 0, result.output
    return out


# --------------------------------------------------------------------------- help and errors


def test_help_lists_the_command_and_its_options():
    top = invoke("--help")
    assert top.exit_code == 0 and "segment" in top.output
    sub = invoke("segment", "--help")
    assert sub.exit_code == 0
    for opt in ["--out", "--workers", "--quarantine", "--report", "--shard-rows", "--id-field", "--text-field",
                "--title-field", "--url-field", "--domain-field", ".txt", ".jsonl", ".csv", ".parquet"]:
        assert opt in sub.output, opt


def test_console_script_help():
    run = run_builder("segment", "--help")
    assert run.returncode == 0 and "Usage: builder segment" in run.stdout


def _one_line_error(run: subprocess.CompletedProcess, *words: str) -> str:
    assert run.returncode == 2, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("builder: error: "), run.stderr
    assert "Traceback" not in run.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def test_missing_input_is_one_line_and_exit_2(tmp_path):
    run = run_builder("segment", tmp_path / "absent", "--out", tmp_path / "r.parquet")
    _one_line_error(run, "absent", "no such file or directory")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_unknown_format_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "page.html").write_text("<p>hi</p>")
    run = run_builder("segment", tmp_path / "page.html", "--out", tmp_path / "r.parquet")
    _one_line_error(run, "page.html", ".txt", ".parquet")


def test_output_of_the_wrong_kind_is_refused(tmp_path):
    (tmp_path / "in.txt").write_text(make_doc(1))
    (tmp_path / "taken.parquet").mkdir()
    _one_line_error(run_builder("segment", tmp_path / "in.txt", "--out", tmp_path / "taken.parquet"), "is a directory")
    (tmp_path / "afile").write_text("keep me")
    r = invoke("segment", tmp_path / "in.txt", "--out", tmp_path / "afile")
    assert r.exit_code == 2 and "exists and is not a directory" in r.output
    assert (tmp_path / "afile").read_text() == "keep me"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a shard")
    r = invoke("segment", tmp_path / "in.txt", "--out", tmp_path / "mine")
    assert r.exit_code == 2 and "other than part-*.parquet" in r.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "not a shard"
    r = invoke("segment", tmp_path / "in.txt", "--out", tmp_path / "r.parquet", "--shard-rows", 10)
    assert r.exit_code == 2 and "--shard-rows applies to a directory output" in r.output
    r = invoke("segment", tmp_path / "in.txt", "--out", tmp_path / "d", "--report", tmp_path / "d" / "report.json")
    assert r.exit_code == 2 and "inside or replace the output" in r.output


def test_unwritable_output_is_one_line(tmp_path):
    (tmp_path / "in.txt").write_text(make_doc(1))
    (tmp_path / "plain").write_text("a file, not a directory")
    line = _one_line_error(run_builder("segment", tmp_path / "in.txt", "--out", tmp_path / "plain" / "r.parquet"),
                           "is a file, not a directory")
    assert str(tmp_path / "plain") in line
    # what only shows when writing is one line too (here: the temporary name is one too long)
    before = sorted(tmp_path.iterdir())
    long_name = "x" * 240 + ".parquet"
    _one_line_error(run_builder("segment", tmp_path / "in.txt", "--out", tmp_path / long_name,
                                "--quarantine", tmp_path / "q.jsonl", "--report", tmp_path / "rep.json"),
                    "cannot write the output", "File name too long")
    assert sorted(tmp_path.iterdir()) == before
    _one_line_error(run_builder("segment", tmp_path / "in.txt", "--out", tmp_path / ("y" * 300 + ".parquet")),
                    "File name too long")


def test_bad_table_column_is_one_line_before_any_work(tmp_path):
    (tmp_path / "t.csv").write_text("id,body\n1,some text\n")
    _one_line_error(run_builder("segment", tmp_path / "t.csv", "--out", tmp_path / "r.parquet"),
                    "no text column", "--text-field")
    assert not (tmp_path / "r.parquet").exists()
    ok = invoke("segment", tmp_path / "t.csv", "--out", tmp_path / "r.parquet", "--text-field", "body", "-j", 1)
    assert ok.exit_code == 0 and (tmp_path / "r.parquet").exists()


# --------------------------------------------------------------------------- the example


def test_example_gives_thirteen_records(tmp_path):
    seeds = need_shared(SEED).parent
    run = run_builder("segment", seeds, "--out", "r.parquet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    table = pq.read_table(tmp_path / "r.parquet")
    assert Counter(names(table)) == {"article": 1, "quote": 7, "comment": 2, "reply": 2, "spam": 1}
    assert table.num_rows == 13
    report = json.loads((tmp_path / "r.report.json").read_text())
    assert report["documents"] == {"read": 1, "segmented": 1, "quarantined": 0, "without_records": 0}
    assert (tmp_path / "r.quarantine.jsonl").read_text() == ""


# --------------------------------------------------------------------------- mixed inputs


def test_mixed_inputs_good_segmented_bad_quarantined_counts_add_up(corpus, seg_file):
    report = json.loads(seg_file.with_name("records.report.json").read_text())
    docs = report["documents"]
    assert docs["read"] == docs["segmented"] + docs["quarantined"] == GOOD + sum(BAD.values())
    assert docs["segmented"] == GOOD and report["quarantined"] == BAD
    assert report["encodings"]["cp1252"] == 1 and report["encodings"]["utf-8"] == GOOD - 1

    lines = seg_file.with_name("records.quarantine.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(x) for x in lines]
    assert len(entries) == docs["quarantined"]
    assert Counter(e["kind"] for e in entries) == BAD
    assert all(e["reason"] and e["source"] for e in entries)
    by_kind = {e["kind"]: e for e in entries}
    assert by_kind["empty"]["doc_id"] == "blank" and by_kind["binary"]["doc_id"] == "image"
    assert by_kind["duplicate_id"]["doc_id"] == "j10" and by_kind["malformed"]["location"] == "line 31"

    table = pq.read_table(seg_file)
    assert table.num_rows == report["records"]["total"]
    assert dict(Counter(names(table))) == {k: v for k, v in report["records"].items() if k != "total" and v}
    got_docs = set(table.column("doc_id").to_pylist())
    assert got_docs == {"page00", "page01", "page02", "page03", "page04", "page05", "crlf", "legacy",
                        *(f"j{i}" for i in range(10, 40)), *(f"c{i}" for i in range(40, 50)),
                        *(f"p{i}" for i in range(50, 70))}
    assert report["records"]["article"] == GOOD  # every generated page has its article
    assert report["records"]["comment"] > 0 and report["records"]["quote"] > 0


def test_records_keep_document_metadata_and_offsets(corpus, seg_file):
    rows = pq.read_table(seg_file).to_pylist()
    by_doc = {}
    for r in rows:
        by_doc.setdefault(r["doc_id"], []).append(r)
    # input order is kept: rows.jsonl, table.csv, table.parquet, then the txt folder, by sorted path
    first_seen = list(dict.fromkeys(r["doc_id"] for r in rows))
    assert first_seen[:2] == ["j10", "j11"] and first_seen[30] == "c40" and first_seen[40] == "p50"
    assert first_seen[60:] == ["crlf", "legacy", "page00", "page01", "page02", "page03", "page04", "page05"]
    j = by_doc["j11"][0]
    assert j["url"] == "https://www.paper2.example/11" and j["domain"] == "paper2.example"
    c = by_doc["c41"][0]
    assert c["title"] == "Headline 41" and c["domain"] == "csv.example"
    assert {r["encoding"] for r in by_doc["legacy"]} == {"cp1252"}
    raw = (corpus / "txt" / "crlf.txt").read_bytes().decode("utf-8")
    for r in by_doc["crlf"]:  # offsets index the text as decoded, \r\n kept
        assert " ".join(raw[r["char_start"]:r["char_end"]].split()) == r["text"]


# --------------------------------------------------------------------------- readers


def test_readable_by_pyarrow_with_the_schema_and_features(seg_file):
    table = pq.read_table(seg_file)
    assert table.schema.equals(storage_schema(), check_metadata=True)
    meta = pq.read_metadata(seg_file)
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_readable_by_datasets_with_type_a_classlabel(seg_file, tmp_path):
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(seg_file), split="train", cache_dir=str(tmp_path))
    assert isinstance(ds.features["type"], datasets.ClassLabel)
    assert ds.features["type"].names == list(TYPE_NAMES)
    assert ds.num_rows == pq.read_metadata(seg_file).num_rows
    assert ds.features["type"].int2str(ds[0]["type"]) == "article"


def test_readable_by_polars_and_duckdb(seg_file):
    import duckdb
    import polars as pl

    df = pl.read_parquet(seg_file)
    table = pq.read_table(seg_file)
    assert df.height == table.num_rows and df.columns == table.column_names
    counts = dict(duckdb.sql(f"select type, count(*) from read_parquet('{seg_file}') group by type").fetchall())
    assert counts == {TYPE_NAMES.index(k): v for k, v in Counter(names(table)).items()}


# --------------------------------------------------------------------------- workers and shards


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory) -> Path:
    """Enough documents for many batches in flight."""
    root = tmp_path_factory.mktemp("big")
    with (root / "docs.jsonl").open("w", encoding="utf-8") as f:
        for i in range(600):
            text = make_doc(i) if i % 97 else ""  # a few quarantined ones among them
            f.write(json.dumps({"id": f"d{i:04d}", "text": text}) + "\n")
    return root


def test_workers_1_and_2_write_byte_identical_files(big_corpus, tmp_path):
    for w in (1, 2):
        # the real command in a fresh process each time: both runs load the same segmenter code
        r = run_builder("segment", big_corpus, "--out", tmp_path / f"w{w}.parquet", "--workers", w)
        assert r.returncode == 0, r.stderr
    for suffix in (".parquet", ".quarantine.jsonl"):
        assert sha(tmp_path / f"w1{suffix}") == sha(tmp_path / f"w2{suffix}"), suffix
    reports = [json.loads((tmp_path / f"w{w}.report.json").read_text()) for w in (1, 2)]
    for rep in reports:  # the same report but for the paths it names
        del rep["output"], rep["quarantine"]
    assert reports[0] == reports[1]
    report = reports[1]
    assert report["documents"]["read"] == 600 and report["quarantined"] == {"empty": 7}


def test_directory_of_shards_identical_across_workers_and_readable(big_corpus, tmp_path):
    for w in (1, 2):
        r = run_builder("segment", big_corpus, "--out", tmp_path / f"d{w}", "--workers", w, "--shard-rows", 500)
        assert r.returncode == 0, r.stderr
    shards = sorted(p.name for p in (tmp_path / "d1").iterdir())
    assert shards == sorted(p.name for p in (tmp_path / "d2").iterdir())
    assert len(shards) > 2 and shards[0] == "part-00000.parquet"
    for name in shards:
        assert sha(tmp_path / "d1" / name) == sha(tmp_path / "d2" / name), name
    report = json.loads((tmp_path / "d1.report.json").read_text())
    assert [s["rows"] for s in report["shards"]][:-1] == [500] * (len(shards) - 1)
    assert sum(pq.read_metadata(tmp_path / "d1" / n).num_rows for n in shards) == report["records"]["total"]
    table = pq.read_table(tmp_path / "d1")
    assert table.num_rows == report["records"]["total"]

    import datasets

    ds = datasets.load_dataset("parquet", data_dir=str(tmp_path / "d1"), split="train", cache_dir=str(tmp_path / "c"))
    assert isinstance(ds.features["type"], datasets.ClassLabel) and ds.num_rows == table.num_rows


def test_row_groups_are_bounded_by_rows_and_by_text(tmp_path):
    from builder.run import _ParquetSink, _to_table
    from builder.segment import segment

    records = [r for i in range(40) for r in segment(Document(f"d{i}", make_doc(i)))]
    for rows, text in [(25, 10**9), (10**6, 1500)]:
        sink = _ParquetSink(tmp_path / f"{rows}.parquet", single=True, shard_rows=10**6, row_group_rows=rows,
                            row_group_text=text)
        for k in range(0, len(records), 7):  # arrival in uneven pieces
            sink.add(_to_table(records[k:k + 7]))
        sink.finish()
        meta = pq.read_metadata(tmp_path / f"{rows}.parquet")
        groups = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        assert sum(groups) == len(records) and len(groups) > 2
        assert max(groups) <= rows
        if text < 10**9:
            texts = [len(r["text"].encode()) for r in records]
            start = 0
            for n in groups[:-1]:  # each group stops at the row that reaches the text bound
                assert sum(texts[start:start + n - 1]) < text <= sum(texts[start:start + n])
                start += n


# --------------------------------------------------------------------------- failures of the segmenter


def flaky_segment(doc: Document) -> list[dict]:
    """The real segmenter, failing on purpose for some documents (picklable: workers import it)."""
    from builder.segment import segment

    if doc.doc_id.endswith("3"):
        raise ValueError(f"cannot parse {doc.doc_id}\nsecond line of the message")
    records = segment(doc)
    if doc.doc_id.endswith("5"):
        records[0]["char_end"] = len(doc.text) + 10
    if doc.doc_id.endswith("7"):
        records[0]["depth"] = "zero"
    if doc.doc_id.endswith("9"):
        records[0]["score"] = "high"
    return records


@pytest.mark.parametrize("workers", [1, 2])
def test_segmenter_failures_are_quarantined_and_the_run_goes_on(corpus, tmp_path, workers, monkeypatch):
    monkeypatch.setattr("builder.run.BATCH_DOCS", 4)  # several batches: with 2 workers, the real pool runs
    report = segment_corpus([corpus / "rows.jsonl"], tmp_path / "r.parquet", workers=workers, segment=flaky_segment)
    entries = [json.loads(x) for x in (tmp_path / "r.quarantine.jsonl").read_text().splitlines()]
    failed = {e["doc_id"]: e for e in entries if e["kind"] in ("segmenter_error", "invalid_records")}
    assert sorted(failed) == ["j13", "j15", "j17", "j19", "j23", "j25", "j27", "j29", "j33", "j35", "j37", "j39"]
    assert failed["j13"]["reason"] == "ValueError: cannot parse j13 second line of the message"
    assert failed["j15"]["kind"] == "invalid_records" and "not inside the text" in failed["j15"]["reason"]
    assert failed["j17"]["kind"] == "invalid_records" and "int" in failed["j17"]["reason"]
    assert failed["j19"]["kind"] == "invalid_records" and "str" in failed["j19"]["reason"]
    assert report["quarantined"]["segmenter_error"] == 3 and report["quarantined"]["invalid_records"] == 9
    assert report["documents"]["segmented"] == 30 - 12
    docs = set(pq.read_table(tmp_path / "r.parquet").column("doc_id").to_pylist())
    assert not docs & set(failed) and len(docs) == 18


def stuck_segment(doc: Document) -> list[dict]:
    """The real segmenter, but one document never finishes (a busy loop, as a runaway regex is)."""
    from builder.segment import segment

    if doc.doc_id == "j12":
        while True:
            pass
    return segment(doc)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_document_that_never_finishes_is_stopped_and_quarantined(corpus, tmp_path, workers, monkeypatch):
    monkeypatch.setattr("builder.run.BATCH_DOCS", 4)
    report = segment_corpus([corpus / "rows.jsonl"], tmp_path / "r.parquet", workers=workers, segment=stuck_segment,
                            doc_timeout=0.5)
    entries = [json.loads(x) for x in (tmp_path / "r.quarantine.jsonl").read_text().splitlines()]
    [stuck] = [e for e in entries if e["kind"] == "segmenter_timeout"]
    assert stuck["doc_id"] == "j12" and "more than 0.5 CPU seconds" in stuck["reason"]
    assert report["documents"]["segmented"] == 29


def test_doc_timeout_option(tmp_path):
    (tmp_path / "a.txt").write_text(make_doc(2))
    r = invoke("segment", tmp_path / "a.txt", "--out", tmp_path / "r.parquet", "--doc-timeout", 30, "-j", 1)
    assert r.exit_code == 0
    r = invoke("segment", tmp_path / "a.txt", "--out", tmp_path / "r.parquet", "--doc-timeout", -1)
    assert r.exit_code == 2 and "--doc-timeout" in r.output


@pytest.mark.parametrize("limit", ["inf", "nan", "1e+300"])
def test_a_doc_timeout_the_timer_cannot_take_is_refused_up_front(tmp_path, limit):
    # not every document quarantined with setitimer's OverflowError/ValueError and exit 0
    (tmp_path / "a.txt").write_text(make_doc(2))
    r = invoke("segment", tmp_path / "a.txt", "--out", tmp_path / "r.parquet", "--doc-timeout", limit, "-j", 1)
    assert r.exit_code != 0 and f"--doc-timeout {limit}" in r.output and "up to 1e+09" in r.output, r.output
    assert not (tmp_path / "r.parquet").exists() and not (tmp_path / "r.quarantine.jsonl").exists()


def interrupting_segment(doc: Document) -> list[dict]:
    from builder.segment import segment

    if doc.doc_id == "j30":
        raise KeyboardInterrupt
    return segment(doc)


def test_interrupted_run_leaves_no_output_and_keeps_the_previous_one(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("builder.run.BATCH_DOCS", 4)
    out = tmp_path / "r.parquet"
    segment_corpus([corpus / "txt"], out, workers=1)
    before = {p.name: sha(p) for p in tmp_path.iterdir()}
    with pytest.raises(KeyboardInterrupt):
        segment_corpus([corpus / "rows.jsonl"], out, workers=1, segment=interrupting_segment)
    assert {p.name: sha(p) for p in tmp_path.iterdir()} == before  # no temporaries, old output intact
    with pytest.raises(KeyboardInterrupt):
        segment_corpus([corpus / "rows.jsonl"], tmp_path / "new", workers=2, segment=interrupting_segment)
    assert {p.name: sha(p) for p in tmp_path.iterdir()} == before
    segment_corpus([corpus / "rows.jsonl"], out, workers=1)  # and it can simply be rerun
    assert set(pq.read_table(out).column("doc_id").to_pylist()) == {f"j{i}" for i in range(10, 40)}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)


def test_sigterm_leaves_no_half_output(big_corpus, tmp_path):
    proc = subprocess.Popen([str(BUILDER), "segment", str(big_corpus), "--out", str(tmp_path / "r"), "-j", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".r.tmp-*")) and proc.poll() is None:  # the run has begun writing
        assert time.monotonic() < deadline
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_rerun_replaces_the_output(corpus, tmp_path):
    out = tmp_path / "d"
    assert invoke("segment", corpus / "txt", "--out", out, "-j", 1).exit_code == 0
    assert invoke("segment", corpus / "table.csv", "--out", out, "-j", 1).exit_code == 0
    assert {p.name for p in out.iterdir()} == {"part-00000.parquet"}
    assert set(pq.read_table(out).column("doc_id").to_pylist()) == {f"c{i}" for i in range(40, 50)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "d.quarantine.jsonl", "d.report.json"]


def test_nothing_segmentable_still_writes_a_readable_empty_file(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.txt").write_text("")
    r = invoke("segment", tmp_path / "in", "--out", tmp_path / "r.parquet", "--quarantine", tmp_path / "q.jsonl",
               "--report", tmp_path / "rep.json")
    assert r.exit_code == 0
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.num_rows == 0 and table.schema.equals(storage_schema())
    assert json.loads((tmp_path / "rep.json").read_text())["documents"] == \
        {"read": 1, "segmented": 0, "quarantined": 1, "without_records": 0}
    assert json.loads((tmp_path / "q.jsonl").read_text())["kind"] == "empty"


def test_an_id_with_a_lone_surrogate_is_quarantined_not_a_crash(tmp_path):
    """JSON lets an id spell a lone surrogate (\\ud800), which UTF-8 cannot hold: that document is
    quarantined with its id escaped in the quarantine line, and the rest of the run goes on."""
    src = tmp_path / "docs.jsonl"
    src.write_text('{"id": "a\\ud800b", "text": "Ferry News\\n\\nThe winter boats run at nine."}\n'
                   '{"id": "fine", "text": "Ferry News\\n\\nThe spring boats run at eight."}\n', encoding="utf-8")
    r = invoke("segment", src, "--out", tmp_path / "r.parquet", "--quarantine", tmp_path / "q.jsonl",
               "--report", tmp_path / "rep.json")
    assert r.exit_code == 0, r.output
    (line,) = (tmp_path / "q.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["doc_id"] == "a\ud800b" and "\\ud800" in line
    assert json.loads((tmp_path / "rep.json").read_text())["documents"]["quarantined"] == 1
    assert set(pq.read_table(tmp_path / "r.parquet").column("doc_id").to_pylist()) == {"fine"}


# --------------------------------------------------------------------------- progress


def test_progress_bar_only_on_a_terminal(corpus, tmp_path):
    quiet = run_builder("segment", corpus / "txt", "--out", tmp_path / "a.parquet", "-j", 1)
    assert quiet.returncode == 0 and "doc/s" not in quiet.stderr and "it/s" not in quiet.stderr
    assert quiet.stderr.strip().splitlines() == [f"segmented 8 of 10 documents (2 quarantined) into "
                                                 f"{pq.read_metadata(tmp_path / 'a.parquet').num_rows} records: "
                                                 f"{tmp_path / 'a.parquet'}"]
    leader, follower = pty.openpty()
    # a terminal has a size; a fresh pty has 0 columns, on which tqdm draws nothing
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([str(BUILDER), "segment", str(corpus / "txt"), "--out", str(tmp_path / "b.parquet"),
                             "-j", "1"], stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    assert b"B/s" in seen and b"100%" in seen  # tqdm's bar over the input bytes...
    assert b"10 docs" in seen  # ...with the documents done
