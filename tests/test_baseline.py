"""Baselines and the card's benchmark table: each baseline is what it says, reproducible by its one
command, and a release published with human labels carries the table the evaluator computed on the
staged data; one without says why it has none."""

from __future__ import annotations

import json
import shlex
import shutil
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from builder import baselines, release
from builder import evaluate as ev
from builder.cli import cli
from builder.schema import TYPE_NAMES
from tests.test_evaluate_support import make_release, stage_release


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("baseline")


@pytest.fixture(scope="module")
def rel(work):
    return make_release(work, benchmark=True)


@pytest.fixture(scope="module")
def unlabeled(work):
    return make_release(work, name="unlabeled", labels=False, seed=3, n_docs=40, benchmark=True)


def split_rows(rel, split):
    """The records of a split that the record tasks cover: the segmenter's (document mode's human-gold
    pages, origin human, are the segmentation task's)."""
    table = pa.concat_tables(pq.read_table(p) for p in sorted((rel / "data").glob(f"{split}-*.parquet")))
    return [r for r in table.to_pylist() if r["origin"] == "segmenter"]


def run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_majority_is_the_most_frequent_gold_class_of_train(rel):
    train = split_rows(rel, "train")
    counts = Counter(TYPE_NAMES[r["label"]] for r in train if r["label_status"] in ("agreed", "single"))
    top = max(counts, key=lambda c: (counts[c], -TYPE_NAMES.index(c)))
    preds = baselines.predict("majority", rel)
    assert set(preds["prediction"].to_pylist()) == {top}
    assert len(preds) == len(split_rows(rel, "test"))


def test_segmenter_baseline_is_the_pre_annotation(rel):
    test = split_rows(rel, "test")
    preds = dict(zip(*baselines.predict("segmenter", rel).to_pydict().values()))
    assert preds == {r["record_id"]: TYPE_NAMES[r["type"]] for r in test}
    spam = dict(zip(*baselines.predict("segmenter", rel, task="spam").to_pydict().values()))
    comment_like = [r for r in test if TYPE_NAMES[r["type"]] in ("comment", "reply", "spam")]
    assert spam == {r["record_id"]: "spam" if TYPE_NAMES[r["type"]] == "spam" else "not_spam" for r in comment_like}
    assert ev.evaluate(baselines.predict("segmenter", rel), rel, gold="silver")["macro_f1"] == 1.0


def test_tfidf_chooses_c_on_validation_and_is_deterministic(rel, tmp_path):
    model = baselines.fit_tfidf(rel, "type")
    assert set(model.validation) == set(baselines.C_GRID)
    best = max(model.validation.values())
    assert model.c == min(c for c, v in model.validation.items() if v == best)
    for i in (1, 2):
        run(["baseline", "tfidf", "--release", str(rel), "--out", str(tmp_path / f"t{i}.parquet")])
    assert (tmp_path / "t1.parquet").read_bytes() == (tmp_path / "t2.parquet").read_bytes()
    tfidf = ev.evaluate(tmp_path / "t1.parquet", rel)
    majority = ev.evaluate(baselines.predict("majority", rel), rel)
    assert tfidf["macro_f1"] > majority["macro_f1"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_baseline_files_carry_the_fingerprint_and_evaluate_reads_them(rel, tmp_path, fmt):
    out = tmp_path / f"p.{fmt}"
    run(["baseline", "majority", "--release", str(rel), "--task", "spam", "--out", str(out)])
    table, fingerprint = ev.read_predictions(out)
    assert fingerprint == json.loads((rel / "manifest.json").read_text())["fingerprint"]
    got = json.loads(run(["evaluate", str(out), "--release", str(rel), "--task", "spam", "--json"]))
    assert got["task"] == "spam" and got["n"] > 0


def test_baselines_without_human_labels_need_gold_silver(unlabeled, tmp_path):
    result = CliRunner().invoke(cli, ["baseline", "tfidf", "--release", str(unlabeled), "--out",
                                      str(tmp_path / "p.csv")])
    assert result.exit_code != 0 and "--gold silver" in result.stderr and "\n" not in result.stderr.strip()
    assert not (tmp_path / "p.csv").exists()
    run(["baseline", "tfidf", "--release", str(unlabeled), "--gold", "silver", "--out", str(tmp_path / "p.csv")])
    assert ev.evaluate(tmp_path / "p.csv", unlabeled, gold="silver")["gold"] == "silver"


def test_unknown_baseline_or_split(rel, tmp_path):
    result = CliRunner().invoke(cli, ["baseline", "bert", "--release", str(rel), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code != 0 and "majority" in result.stderr
    with pytest.raises(ev.InputError, match="no split 'dev'"):
        baselines.predict("majority", rel, split="dev")


# --- the card's table ------------------------------------------------------------------------------


def test_benchmark_table_on_a_staged_release(work):
    staged = stage_release(work / "staged", name="staged")
    try:
        rows = ev.benchmark_table(staged.path, release_ref="releases/staged/1.0.0")
        assert rows == ev.benchmark_table(staged.path, release_ref="releases/staged/1.0.0")
        assert [(r["task"], r["baseline"]) for r in rows] == [(t, b) for t in ev.TASKS for b in baselines.BASELINES]
        for r in rows:
            assert set(r) == set(release.BENCHMARK_KEYS)
            assert r["ci_low"] <= r["score"] <= r["ci_high"]
            assert r["metric"] == ev.TASKS[r["task"]].metric_label
        # the manifest may be absent while staging: the data files are enough
        bare = work / "bare"
        shutil.copytree(staged.path / "data", bare / "data")
        assert ev.benchmark_table(bare, release_ref="releases/staged/1.0.0") == rows
    finally:
        staged.discard()


def test_a_published_release_shows_the_table_and_its_commands_reproduce_it(rel, tmp_path, monkeypatch):
    card = (rel / "README.md").read_text()
    section = card[card.index("### Benchmark"):]
    lines = [line for line in section.splitlines() if line.startswith("| type") or line.startswith("| spam")]
    assert len(lines) == len(ev.TASKS) * len(baselines.BASELINES)
    # the tfidf row of the type task, run as the card says (from the folder that holds releases/)
    row = next(line for line in lines if "| tfidf |" in line and line.startswith("| type"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    score, command = float(cells[3]), cells[5].strip("`")
    monkeypatch.chdir(rel.parent.parent.parent)
    first, second = command.split(" && ")
    run(shlex.split(first)[1:])
    got = json.loads(run(shlex.split(second)[1:] + ["--json"]))
    assert round(got["score"], 4) == score
    assert cells[4] == f"{round(got['ci']['low'], 4)} – {round(got['ci']['high'], 4)}"


def test_a_release_without_human_labels_has_no_table_and_says_why(unlabeled):
    assert ev.benchmark_table(unlabeled) == []
    card = (unlabeled / "README.md").read_text()
    assert "There is no benchmark table in this release" in card and "without human labels" in card


def test_commands_have_help_and_their_choices_are_the_declared_ones():
    for command in ("evaluate", "baseline"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and len(result.stdout) > 300
    params = {p.name: p for p in cli.commands["baseline"].params}
    assert tuple(params["name"].type.choices) == baselines.BASELINES
    assert tuple(params["task"].type.choices) == tuple(ev.TASKS)
    eparams = {p.name: p for p in cli.commands["evaluate"].params}
    assert tuple(eparams["task"].type.choices) == (*ev.TASKS, *ev.TASKS_SCHEMA["document_tasks"])  # + segmentation (docmode)
    assert tuple(eparams["gold"].type.choices) == ev.GOLDS


def test_builder_publish_with_labels_puts_the_baselines_table_in_the_card(tmp_path):
    """The CLI chains release.stage → evaluate.benchmark_table → release.seal: the published card
    carries every baseline of every task, each figure from the official evaluator."""
    from click.testing import CliRunner

    from builder.cli import cli
    from tests.test_evaluate_support import generate_records, human_labels, write_labels, write_records

    recs = generate_records(60, seed=5)
    records = write_records(recs, tmp_path / "in" / "records.parquet")
    labels = write_labels(tmp_path / "in" / "labels", human_labels(recs, 5))
    res = CliRunner().invoke(cli, ["publish", str(records), "--labels", str(labels), "--name", "news", "--version",
                                   "1.0.0", "--out", str(tmp_path / "rel"), "--ratios", "50/25/25"])
    assert res.exit_code == 0, res.output + res.stderr
    card = (tmp_path / "rel" / "news" / "1.0.0" / "README.md").read_text(encoding="utf-8")
    bench = card.split("### Benchmark", 1)[1].split("\n## ", 1)[0]
    for task in ("type", "spam"):
        for baseline in ("majority", "segmenter", "tfidf"):
            assert any(f"| {task} |" in line and baseline in line for line in bench.splitlines()), (task, baseline)
    assert "builder baseline" in bench and "builder evaluate" in bench
    assert "no benchmark row" not in res.stderr

    # labels on no record of the test split: published, and the missing rows are said, not silently left out
    data = tmp_path / "rel" / "news" / "1.0.0" / "data"
    test_docs = set(pa.concat_tables(pq.read_table(f) for f in data.glob("test-*.parquet")).column("doc_id").to_pylist())
    kept = [r for r in recs if r["doc_id"] not in test_docs]
    labels2 = write_labels(tmp_path / "in" / "labels2", human_labels(kept, 5))
    res = CliRunner().invoke(cli, ["publish", str(records), "--labels", str(labels2), "--name", "news", "--version",
                                   "1.0.1", "--out", str(tmp_path / "rel"), "--ratios", "50/25/25"])
    assert res.exit_code == 0, res.output + res.stderr
    assert "note: the card has no benchmark row for task type, spam" in res.stderr
