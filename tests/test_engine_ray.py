"""`builder segment --engine ray`: the same records, quarantine and report as the local engine, on a
real local Ray instance (one for the whole session, 2 CPUs), through the real segmenter and readers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install '.[ray]' (the test extra includes it)")

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from builder import engine_ray, run  # noqa: E402
from builder.cli import cli  # noqa: E402
from builder.document import Document  # noqa: E402
from builder.errors import BuilderError, InputError  # noqa: E402
from builder.schema import FIELDS, TYPE_NAMES  # noqa: E402
from tests.helpers import SEED  # noqa: E402  (the example page, when ../shared is here)

# Ray Data's own DataContext trips its deprecation warnings on every execution: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

BUILDER = Path(sys.executable).with_name("builder")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Pages written for these tests, each in the markup of a different kind of site.
FORUM = """Bridge Repairs to Close the River Crossing in May

The old river bridge will close for six weeks from the first of May while engineers replace its deck, the county said on Tuesday.

“The deck is forty years old and it has reached the end of its life,” said Alan Kerr, the county's chief engineer. Buses will run a shuttle over the rail bridge during the works.

Shopkeepers on the north bank said the closure would hurt trade. “Six weeks without passing traffic is a long time for a small shop,” said Priya Nair, who runs a bakery near the bridge.

12 Comments

Tom Haddow says:
April 2, 2025 at 8:01 am

Six weeks is optimistic. The last repair took three months.

Reply

    Lena Fischer says:
    April 2, 2025 at 9:30 am

    The last repair was a different contractor. Let's see.

    Reply

    Best Loans Direct says:
    April 2, 2025 at 9:45 am

    NEED CASH FAST??? Get a loan in 5 minutes, no credit check!!! Visit http://quick-loans.example/apply now!!!

    Reply

Marta Ruiz says:
April 3, 2025 at 7:12 pm

Will cyclists still be able to cross?

Reply
"""

PLAIN = """Library Extends Opening Hours on Weekends

The central library will open until eight in the evening on Saturdays and Sundays from next month, after a survey found that most readers wanted longer weekend hours.

“Weekends are when families come in together,” the head librarian, Grace Obi, said. The extra hours will be paid for by a grant from the city.

The library will also add a study room for students during the exam season.
"""

BULLETS = """Night Market Returns to the Old Docks

The night market is back at the old docks every Friday this summer, with forty stalls selling food and crafts.

“We had more applications for stalls than ever before,” said organiser Femi Adeyemi.

    Joan P, Great news, we loved it last year. The dumpling stall was the best thing there.

    • Carl B

      Agreed. Parking was a nightmare though.

    • Free Crypto Signals

      Earn 500% in a week!!! Join our group at http://moon-signals.example and get rich now!!!
"""


def fragile_segment(doc: Document) -> list[dict]:
    """The real segmenter, except that it raises on documents whose id says so, and spins on those
    whose id says 'slow': how a segmenter bug or a runaway pattern on one document looks to an
    engine. Module-level, so Ray pickles it by reference."""
    if "boom" in doc.doc_id:
        raise ValueError(f"cannot segment {doc.doc_id}")
    if "slow" in doc.doc_id:
        while True:  # CPU time, which is what --doc-timeout counts
            pass
    from builder.segment import segment

    return segment(doc)


@pytest.fixture(scope="session")
def ray_local():
    """One private local Ray instance for the session (2 CPUs, loopback, no dashboard, no usage
    reporting); the engine finds it running and leaves it to us to shut down."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Workers must import this module (fragile_segment is pickled by reference) under whichever
    # name pytest gave it: `tests.test_engine_ray` or `test_engine_ray`.
    pythonpath = os.pathsep.join(p for p in [str(REPO), str(HERE), os.environ.get("PYTHONPATH")] if p)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": pythonpath}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    """Pages in three markups as .txt (one cp1252), a .jsonl with variants, and the bad cases the
    ingest quarantines (empty file, malformed line, row without text, duplicate id) or the
    segmenter fails on (ids with 'boom'); plus the example page when ../shared is here."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "forum.txt").write_text(FORUM, encoding="utf-8")
    (root / "plain.txt").write_text(PLAIN, encoding="utf-8")
    (root / "bullets.txt").write_text(BULLETS, encoding="utf-8")
    (root / "legacy.txt").write_bytes(PLAIN.replace("Library", "Museum").encode("cp1252"))
    (root / "blank.txt").write_bytes(b"\n  \n")
    with (root / "rows.jsonl").open("w", encoding="utf-8") as f:
        pages = [FORUM, PLAIN, BULLETS]
        for i in range(9):
            text = pages[i % 3].replace("May", f"month {i}").replace("summer", f"season {i}")
            f.write(json.dumps({"id": f"row{i}", "text": text, "url": f"https://www.news{i % 2}.example/{i}"}) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"id": "no-text", "content": None}) + "\n")
        f.write(json.dumps({"id": "forum", "text": FORUM}) + "\n")  # the id of forum.txt: a duplicate
        f.write(json.dumps({"id": "boom-1", "text": PLAIN}) + "\n")
        f.write(json.dumps({"id": "row-last", "text": BULLETS, "title": "Given title"}) + "\n")
    inputs = [root]
    if SEED.exists():
        inputs.append(SEED)
    return inputs


@pytest.fixture(scope="module")
def small_batches():
    """Batches of 3 documents, so the corpus spans several batches, units (shards) and windows and
    the quarantine order across them is tested."""
    mp = pytest.MonkeyPatch()
    mp.setattr(run, "BATCH_DOCS", 3)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def both(corpus, small_batches, ray_local, tmp_path_factory):
    """The corpus through the local engine and the Ray engine (one shard per batch, a window of two
    units), with a segmenter that fails on one document."""
    out = tmp_path_factory.mktemp("out")
    local = run.segment_corpus(corpus, out / "local", workers=1, segment=fragile_segment)
    ray_report = engine_ray.segment_corpus(corpus, out / "ray", segment=fragile_segment, shard_chars=1,
                                           window_chars=2)
    return out, local, ray_report


def sorted_rows(table: pa.Table) -> pa.Table:
    return table.sort_by([("doc_id", "ascending"), ("position", "ascending")])


# --------------------------------------------------------------------------- same results as local


def test_records_equal_the_local_engines(both):
    out, local, _ = both
    a, b = pq.read_table(out / "local"), pq.read_table(out / "ray")
    assert a.num_rows > 20 and set(a.column("doc_id").to_pylist()) >= {"forum", "plain", "bullets", "row-last"}
    assert list(b.column_names) == list(FIELDS)
    assert b.schema.equals(run.storage_schema(), check_metadata=True), "same file schema, features metadata included"
    assert sorted_rows(b).equals(sorted_rows(a)), "the same rows, all columns"
    # Stronger, by construction: shards in name order give the local engine's row order.
    assert b.equals(a)


def test_every_type_is_produced(both):
    out, _, report = both
    types = {TYPE_NAMES[t] for t in pq.read_table(out / "ray").column("type").to_pylist()}
    assert types == set(TYPE_NAMES), f"the corpus should exercise every record type, got {types}"
    assert report["records"] == {"total": sum(report["records"][t] for t in TYPE_NAMES),
                                 **{t: report["records"][t] for t in TYPE_NAMES}}


def test_quarantine_and_report_equal_the_local_engines(both):
    out, local, ray_report = both
    assert (out / "ray.quarantine.jsonl").read_text() == (out / "local.quarantine.jsonl").read_text()
    kinds = [json.loads(line)["kind"] for line in (out / "ray.quarantine.jsonl").read_text().splitlines()]
    assert sorted(kinds) == ["duplicate_id", "empty", "malformed", "missing_text", "segmenter_error"]
    on_disk = json.loads((out / "ray.report.json").read_text())
    assert on_disk == ray_report
    differ = {"output", "shards", "quarantine"}  # paths, and shard bounds (by text, not rows)
    assert {k: v for k, v in ray_report.items() if k not in differ} == \
           {k: v for k, v in local.items() if k not in differ}
    docs = ray_report["documents"]
    assert docs["read"] == docs["segmented"] + docs["quarantined"] and docs["quarantined"] == 5
    assert sum(ray_report["quarantined"].values()) == docs["quarantined"]


def test_shards_are_listed_named_by_unit_and_add_up(both):
    out, _, report = both
    files = sorted(p.name for p in (out / "ray").iterdir())
    assert files == sorted(s["path"] for s in report["shards"]) and len(files) >= 4
    assert all(f.startswith("part-") and f.endswith(".parquet") for f in files)
    for s in report["shards"]:
        assert pq.ParquetFile(out / "ray" / s["path"]).metadata.num_rows == s["rows"] > 0
    assert sum(s["rows"] for s in report["shards"]) == report["records"]["total"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary left behind"


def test_rerun_is_byte_identical(corpus, small_batches, ray_local, both, tmp_path):
    out, _, _ = both
    engine_ray.segment_corpus(corpus, tmp_path / "again", segment=fragile_segment, shard_chars=1, window_chars=2)
    first = {p.name: p.read_bytes() for p in (out / "ray").iterdir()}
    again = {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()}
    assert again == first, "shard names and bytes depend only on the input, not on scheduling"


def test_readable_by_datasets_with_type_a_classlabel(both):
    import datasets

    out, _, report = both
    ds = datasets.load_dataset("parquet", data_files=str(out / "ray" / "*.parquet"), split="train")
    assert ds.num_rows == report["records"]["total"]
    assert isinstance(ds.features["type"], datasets.ClassLabel) and ds.features["type"].names == list(TYPE_NAMES)


def test_nothing_segmentable_still_writes_a_readable_empty_shard(ray_local, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "blank.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "in" / "boom.txt").write_text(PLAIN, encoding="utf-8")
    report = engine_ray.segment_corpus([tmp_path / "in"], tmp_path / "rec", segment=fragile_segment)
    assert report["documents"] == {"read": 2, "segmented": 0, "quarantined": 2, "without_records": 0}
    assert report["shards"] == [{"path": "part-00000.parquet", "rows": 0}]
    table = pq.read_table(tmp_path / "rec")
    assert table.num_rows == 0 and table.schema.equals(run.storage_schema(), check_metadata=True)


def test_doc_timeout_quarantines_as_the_local_engine_does(ray_local, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "plain.txt").write_text(PLAIN, encoding="utf-8")
    (tmp_path / "in" / "slow.txt").write_text(PLAIN, encoding="utf-8")
    reports = {}
    for name, engine in (("l", run), ("r", engine_ray)):
        reports[name] = engine.segment_corpus([tmp_path / "in"], tmp_path / name, workers=1, segment=fragile_segment,
                                              doc_timeout=0.5)
    assert reports["r"]["quarantined"] == reports["l"]["quarantined"] == {"segmenter_timeout": 1}
    assert (tmp_path / "r.quarantine.jsonl").read_text() == (tmp_path / "l.quarantine.jsonl").read_text()
    assert pq.read_table(tmp_path / "r").equals(pq.read_table(tmp_path / "l"))
    with pytest.raises(InputError, match="--doc-timeout -1: must be 0"):
        engine_ray.segment_corpus([tmp_path / "in"], tmp_path / "x", doc_timeout=-1)


# --------------------------------------------------------------------------- the command


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_engine_ray_matches_engine_local(corpus, ray_local, tmp_path):
    res = invoke("segment", *corpus, "--out", tmp_path / "r", "--engine", "ray", "--doc-timeout", 60)
    assert res.exit_code == 0, res.output
    assert "segmented" in res.output and "quarantined" in res.output
    res = invoke("segment", *corpus, "--out", tmp_path / "l", "--engine", "local", "--workers", 1)
    assert res.exit_code == 0, res.output
    assert sorted_rows(pq.read_table(tmp_path / "r")).equals(sorted_rows(pq.read_table(tmp_path / "l")))
    assert (tmp_path / "r.quarantine.jsonl").read_text() == (tmp_path / "l.quarantine.jsonl").read_text()


def test_help_documents_the_engine_options():
    res = invoke("segment", "--help")
    assert res.exit_code == 0
    for text in ["--engine", "[local|ray]", "--ray-address", "RAY_ADDRESS", "pip install '.[ray]'"]:
        assert text in " ".join(res.output.split()), text


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/one.parquet", "--engine", "ray"], "writes a directory of part-NNNNN.parquet shards"),
    (["--out", "{tmp}/d", "--engine", "ray", "--shard-rows", "10"], "--shard-rows 10: applies to --engine local"),
    (["--out", "{tmp}/d", "--ray-address", "auto"], "--ray-address applies to --engine ray"),
])
def test_bad_options_are_one_line_and_exit_2_before_any_output(corpus, tmp_path, args, message):
    res = invoke("segment", *corpus, *[a.format(tmp=tmp_path) for a in args])
    assert res.exit_code == 2
    assert res.output.startswith("builder: error: ") and res.output.count("\n") == 1 and message in res.output
    assert list(tmp_path.iterdir()) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens on it once the socket is closed


def test_unreachable_cluster_is_one_line_and_exit_2(corpus, tmp_path):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    port = _closed_port()
    proc = subprocess.run([str(BUILDER), "segment", *map(str, corpus), "--out", str(tmp_path / "d"), "--engine", "ray",
                           "--ray-address", f"127.0.0.1:{port}"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("builder: error: cannot start or reach the Ray cluster")
    assert f"127.0.0.1:{port}" in lines[0] and "--ray-address" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_ray_not_installed_is_one_line_naming_the_extra(corpus, tmp_path):
    # A Python where `import ray` fails as it does without the extra (sys.modules entry None).
    code = ("import sys; sys.modules['ray'] = None; from builder.cli import main; "
            "sys.argv = ['builder'] + sys.argv[1:]; main()")
    proc = subprocess.run([sys.executable, "-c", code, "segment", *map(str, corpus), "--out", str(tmp_path / "d"),
                           "--engine", "ray"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "builder: error: --engine ray needs Ray, which is not installed here: install the extra: "
        "pip install '.[ray]' (or use --engine local)"]
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- a cluster


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A Ray cluster head started as a user starts one (`ray start --head --block`), on a free port,
    1 CPU; stopped through its own process (never `ray stop`, which stops every Ray on the machine),
    without the graceful drain that would hold it 30 s."""
    port = _closed_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    env.pop("RAY_ADDRESS", None)
    log = tmp_path_factory.mktemp("head") / "head.log"
    with log.open("w") as f:
        proc = subprocess.Popen([str(BUILDER.with_name("ray")), "start", "--head", "--block", f"--port={port}",
                                 "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"],
                                stdout=f, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`ray start --head` did not come up: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_runs_on_a_cluster_named_by_RAY_ADDRESS(corpus, ray_head, tmp_path):
    # The head enables Ray's token authentication; a client says it uses it too (README, Scale).
    env = {**os.environ, "RAY_ADDRESS": ray_head, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.run([str(BUILDER), "segment", *map(str, corpus), "--out", str(tmp_path / "c"), "--engine", "ray"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    local = run.segment_corpus(corpus, tmp_path / "l", workers=1)
    assert local["records"]["total"] > 20
    assert pq.read_table(tmp_path / "c").equals(pq.read_table(tmp_path / "l"))
    assert (tmp_path / "c.quarantine.jsonl").read_text() == (tmp_path / "l.quarantine.jsonl").read_text()


# --------------------------------------------------------------------------- failures


class WorkerBroke(BaseException):
    """Not an Exception, so the per-document guard does not catch it: a failure of the run, not of
    one document."""


def broken_segment(doc: Document) -> list[dict]:
    raise WorkerBroke("the worker broke down")


def test_failed_run_leaves_the_previous_output_and_no_temporary(corpus, ray_local, both, tmp_path):
    out, _, _ = both
    target = tmp_path / "rec"
    first = engine_ray.segment_corpus(corpus, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    report_before = (tmp_path / "rec.report.json").read_text()
    with pytest.raises(BaseException) as info:
        engine_ray.segment_corpus(corpus, target, segment=broken_segment)
    assert not isinstance(info.value, AssertionError)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert (tmp_path / "rec.report.json").read_text() == report_before and first["records"]["total"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec", "rec.quarantine.jsonl", "rec.report.json"]


def test_an_output_unwritable_at_the_end_is_one_line_and_leaves_nothing(corpus, ray_local, tmp_path):
    """Only the report's temporary name is too long, so the failure comes after the workers wrote
    their shards: one BuilderError line as with the local engine, and no temporary left."""
    (tmp_path / "o").mkdir()
    with pytest.raises(BuilderError, match="cannot write the output: .*File name too long"):
        engine_ray.segment_corpus(corpus, tmp_path / "o" / "rec", report=tmp_path / "o" / ("x" * 245 + ".json"))
    assert list((tmp_path / "o").iterdir()) == []


# --------------------------------------------------------------------------- downstream


def test_publish_from_the_shards_gives_the_local_engines_release_data(both, tmp_path):
    """publish takes a directory of shards from any engine and orders rows itself: the release's
    data files from the Ray shards are byte-identical to those from the local engine's output."""
    out, _, _ = both
    for engine in ("local", "ray"):
        res = invoke("publish", out / engine, "--name", "engines", "--version", "1.0.0", "--out", tmp_path / engine)
        assert res.exit_code == 0, res.output
    data = {e: {p.name: p.read_bytes() for p in (tmp_path / e / "engines" / "1.0.0" / "data").iterdir()}
            for e in ("local", "ray")}
    assert data["ray"] == data["local"] and len(data["ray"]) == 3


def test_workers_running_another_segmenter_stop_the_run(corpus, ray_local, monkeypatch, tmp_path):
    """A cluster whose nodes run other code than the driver: here the driver believes in another
    segmenter version (patched in this process only; the workers import the real module)."""
    from builder.segment import SEGMENTER_VERSION

    monkeypatch.setattr(engine_ray, "_segmenter_version", lambda segment: "9.9.9")
    with pytest.raises(engine_ray.ClusterError) as info:
        engine_ray.segment_corpus(corpus, tmp_path / "rec")
    assert str(info.value).startswith(f"the Ray workers run segmenter {SEGMENTER_VERSION}, this machine 9.9.9: "
                                      f"install the same builder on every node")
    assert list(tmp_path.iterdir()) == []


def sigterm_segment(doc: Document, pid: int) -> list[dict]:
    """Stands for an operator's `kill PID` in the middle of a run: the worker signals the driver,
    then keeps busy, as a long document would."""
    os.kill(pid, signal.SIGTERM)
    time.sleep(10)
    return []


def test_sigterm_stops_the_run_and_leaves_no_output(corpus, ray_head, tmp_path):
    """In a process of its own, joined to the cluster (so the engine disconnects at the end, as it
    stops an instance it started): SIGTERM in the middle of a window ends the run within seconds,
    without output or temporaries."""
    code = ("import functools, os; from builder import engine_ray; from tests.test_engine_ray import sigterm_segment; "
            f"engine_ray.segment_corpus({[str(p) for p in corpus]!r}, {str(tmp_path / 'rec')!r}, workers=1, "
            "segment=functools.partial(sigterm_segment, pid=os.getpid()))")
    env = {**os.environ, "RAY_ADDRESS": ray_head, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH")] if p)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=90)
    assert proc.returncode != 0 and "KeyboardInterrupt: signal 15" in proc.stderr, proc.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [], "no records, quarantine, report or temporary left"
