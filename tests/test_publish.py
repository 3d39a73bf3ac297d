"""The publish, verify and diff commands, end to end through the CLI, including the example
document of the specification (../shared/seeds, read when present) segmented by the real segmenter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from builder.cli import cli
from tests.test_release_data import corpus, doc_records, write_records

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def run(*args, ok=True):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok is not None:
        assert (res.exit_code == 0) == ok, res.output + res.stderr
    return res


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", ["publish", "verify", "diff"])
def test_every_command_has_help(command):
    res = run(command, "--help")
    assert "Usage: " in res.output and len(res.output.splitlines()) > 5


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    work = tmp_path_factory.mktemp("publish")
    rows = corpus(24)
    records = write_records(rows, work / "records", shards=4, reverse=True)
    res = run("publish", records, "--name", "news", "--version", "1.0.0", "--out", work / "releases",
              "--ratios", "70/15/15")
    return work, rows, res


def test_publish_prints_where_and_how_to_load(published):
    work, _, res = published
    rel = work / "releases" / "news" / "1.0.0"
    assert str(rel) in res.stdout and "load_dataset(" in res.stdout
    assert "published news 1.0.0" in res.stderr
    m = json.loads((rel / "manifest.json").read_text())
    assert m["split_method"]["ratios"] == {"train": 0.7, "validation": 0.15, "test": 0.15}


def test_publishing_an_existing_version_is_refused_in_one_line(published):
    work, _, _ = published
    rel = work / "releases" / "news" / "1.0.0"
    before = tree_bytes(rel)
    res = run("publish", work / "records", "--name", "news", "--version", "1.0.0", "--out", work / "releases", ok=False)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "already exists" in res.stderr and "Traceback" not in res.stderr
    assert tree_bytes(rel) == before


@pytest.mark.parametrize("args, message", [
    (["missing-dir"], "do not exist"),
    (["RECORDS", "--ratios", "80/20"], "three non-negative"),
    (["RECORDS", "--version", "v1"], "X.Y.Z"),
])
def test_bad_input_is_one_line(published, args, message):
    work, _, _ = published
    args = [work / "records" if a == "RECORDS" else (work / a if a == "missing-dir" else a) for a in args]
    base = {"--name": "news", "--version": "4.0.0", "--out": work / "releases"}
    for i, a in enumerate(args):
        if a in base:
            base[a] = args[i + 1]
    positional = [a for i, a in enumerate(args) if a not in base and (i == 0 or args[i - 1] not in base)]
    res = run("publish", *positional, *[x for kv in base.items() for x in kv], ok=False)
    assert res.exit_code == 2 and message in res.stderr and res.stderr.count("\n") == 1
    assert not (work / "releases" / "news" / "4.0.0").exists()


def test_verify_passes_then_catches_a_flipped_byte(published, tmp_path):
    work, _, _ = published
    rel = work / "releases" / "news" / "1.0.0"
    res = run("verify", rel)
    assert res.stdout.startswith("ok news 1.0.0")
    copy = tmp_path / "news" / "1.0.0"
    shutil.copytree(rel, copy)
    f = next((copy / "data").glob("train-*.parquet"))
    data = bytearray(f.read_bytes())
    data[100] ^= 0x40
    f.write_bytes(bytes(data))
    res = run("verify", copy, ok=False)
    assert res.exit_code == 1
    assert f"FAIL data/{f.name}: sha256 differs" in res.stderr


def test_an_out_path_the_file_system_refuses_is_one_line(published, tmp_path):
    """A place that cannot be written (here under a plain file) is one line and exit 2 from publish
    and baseline alike, not an OSError traceback, and nothing is left."""
    work, _, _ = published
    (tmp_path / "plain").write_text("a file, not a directory")
    res = run("publish", work / "records", "--name", "news", "--version", "9.0.0", "--out", tmp_path / "plain" / "rel",
              ok=False)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.startswith("builder: error: ") and str(tmp_path / "plain") in res.stderr
    rel = work / "releases" / "news" / "1.0.0"
    res = run("baseline", "majority", "--release", rel, "--gold", "silver", "--out", tmp_path / "plain" / "p.jsonl",
              ok=False)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and res.stderr.startswith("builder: error: "), res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


def test_a_damaged_release_is_one_line_for_diff_evaluate_and_baseline(published, tmp_path):
    """verify lists the damage; the commands that read the data say which file and point at verify."""
    import shutil

    work, _, _ = published
    rel = work / "releases" / "news" / "1.0.0"
    damaged = tmp_path / "news" / "1.0.0"
    shutil.copytree(rel, damaged)
    victim = sorted((damaged / "data").glob("*.parquet"))[0]
    victim.chmod(0o644)
    victim.write_bytes(b"junk")
    for args in (["diff", damaged, rel], ["evaluate", tmp_path / "p.jsonl", "--release", damaged, "--gold", "silver"],
                 ["baseline", "majority", "--release", damaged, "--gold", "silver", "--out", tmp_path / "p.jsonl"]):
        if args[0] == "evaluate":
            (tmp_path / "p.jsonl").write_text('{"record_id": "x", "prediction": "spam"}\n')
        res = run(*args, ok=False)
        assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, (args, res.stderr)
        assert "cannot be read" in res.stderr and f"builder verify {damaged}" in res.stderr, res.stderr


def test_verify_of_something_that_is_not_a_release(tmp_path):
    res = run("verify", tmp_path, ok=False)
    assert res.exit_code == 2 and "no manifest.json" in res.stderr


def test_diff_between_two_versions(published):
    work, rows, _ = published
    new_rows = [r for r in rows if r["doc_id"] != "page-0003"] + doc_records("page-0500", 2)
    recs = write_records(new_rows, work / "records-2.parquet")
    run("publish", recs, "--name", "news", "--version", "1.0.1", "--out", work / "releases", "--ratios", "70/15/15")
    old, new = work / "releases" / "news" / "1.0.0", work / "releases" / "news" / "1.0.1"
    d = json.loads(run("diff", old, new, "--json").stdout)
    assert d["added"] == sorted(r["record_id"] for r in new_rows if r["doc_id"] == "page-0500")
    assert d["removed"] == sorted(r["record_id"] for r in rows if r["doc_id"] == "page-0003")
    assert d["changed"] == [] and d["labels_changed"] == []
    text = run("diff", old, new).stdout
    assert f"added {len(d['added'])}, removed {len(d['removed'])}, changed 0" in text
    assert "news 1.0.0 → news 1.0.1" in text


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds (the specification's example document) is not present")
def test_the_example_document_publishes_identically_twice(tmp_path):
    run("segment", SEEDS, "--out", tmp_path / "records")
    a = run("publish", tmp_path / "records", "--name", "example", "--version", "1.0.0", "--out", tmp_path / "r1")
    b = run("publish", tmp_path / "records", "--name", "example", "--version", "1.0.0", "--out", tmp_path / "r2")
    rel1, rel2 = tmp_path / "r1" / "example" / "1.0.0", tmp_path / "r2" / "example" / "1.0.0"
    assert tree_bytes(rel1) == tree_bytes(rel2)
    assert a.stderr.split("fingerprint")[1] == b.stderr.split("fingerprint")[1]
    run("publish", tmp_path / "records", "--name", "example", "--version", "1.0.0", "--out", tmp_path / "r1", ok=False)
    run("verify", rel1)

    import datasets

    ds = datasets.load_dataset(str(rel1))
    m = json.loads((rel1 / "manifest.json").read_text())
    # one document fills one split; datasets cannot load a split without rows, so only that one is declared
    assert sorted(ds) == sorted(s for s in ("train", "validation", "test") if m["splits"][s]["rows"])
    assert isinstance(next(iter(ds.values())).features["type"], datasets.ClassLabel)


def test_publish_with_labels_and_a_warning_for_a_giant_group(tmp_path):
    """Every page carries the same spam campaign: all 100 pages form one group (one split), and
    publish says so; labels given with --labels reach the card and the manifest."""
    from tests.test_release_data import labels_row, write_labels

    rows = corpus(100, spam_every=1)
    records = write_records(rows, tmp_path / "records.parquet")
    labels = write_labels(tmp_path / "labels", [labels_row(r["record_id"], [("ann-a", "comment")]) for r in rows[:5]])
    res = run("publish", records, "--labels", labels, "--name", "spammy", "--version", "1.0.0", "--out", tmp_path / "out")
    assert "warning: 100 of 100 documents are joined into one group" in res.stderr
    rel = tmp_path / "out" / "spammy" / "1.0.0"
    m = json.loads((rel / "manifest.json").read_text())
    assert m["labels"]["snapshot"] == 7 and m["dedup"]["largest_cluster"] == 100
    assert sum(1 for s in m["splits"].values() if s["rows"]) == 1
    assert "| label_status = single | 5 |" in (rel / "README.md").read_text()


def test_a_labeled_release_is_byte_identical_wherever_it_is_published(tmp_path):
    """With human labels the card carries the benchmark table; its commands must not name this
    machine's --out path, or the same inputs would give different cards and manifests."""
    from builder.schema import TYPE_NAMES
    from tests.test_release_data import labels_row, write_labels

    rows = corpus(40)
    records = write_records(rows, tmp_path / "records.parquet")
    labels = write_labels(tmp_path / "labels", [labels_row(r["record_id"], [("ann-a", TYPE_NAMES[r["type"]])])
                                                for r in rows])
    for out in ("a", "b/deeper"):
        run("publish", records, "--labels", labels, "--name", "news", "--version", "1.0.0", "--out", tmp_path / out)
    rel_a, rel_b = tmp_path / "a" / "news" / "1.0.0", tmp_path / "b" / "deeper" / "news" / "1.0.0"
    assert "### Benchmark\n\n| task |" in (rel_a / "README.md").read_text()
    assert str(tmp_path) not in (rel_a / "README.md").read_text()
    assert tree_bytes(rel_a) == tree_bytes(rel_b)
