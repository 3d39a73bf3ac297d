"""The official evaluator, against scikit-learn as the reference, on releases made by the real
release.stage/seal (tests/test_evaluate_support.py): every figure, the interval, the per-domain
figures, the input formats, and every refusal as one line with a non-zero exit."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from builder import evaluate as ev
from builder.cli import cli
from builder.errors import BuilderError
from builder.schema import TYPE_NAMES
from tests.test_evaluate_support import DOMAINS, make_release

SPAM_LABELS = ["not_spam", "spam"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("evaluate")


@pytest.fixture(scope="module")
def rel(work):
    return make_release(work)


@pytest.fixture(scope="module")
def unlabeled(work):
    return make_release(work, name="unlabeled", labels=False, seed=3, n_docs=40)


@pytest.fixture(scope="module")
def nodomain(work):
    return make_release(work, name="nodomain", domains=False, seed=5, n_docs=40)


def reference(rel, split="test", task="type"):
    """Gold read back with pyarrow alone, the way the task is described in the README: records the
    segmenter typed as the task's population, human label of status agreed or single."""
    cols = ["record_id", "doc_id", "type", "origin", "domain", "label", "label_status"]
    t = pa.concat_tables(pq.read_table(p, columns=cols) for p in sorted((rel / "data").glob(f"{split}-*.parquet")))
    rows = [r for r in t.to_pylist() if r["origin"] == "segmenter"]
    if task == "spam":
        rows = [r for r in rows if TYPE_NAMES[r["type"]] in ("comment", "reply", "spam")]
    gold = {}
    for r in rows:
        if r["label_status"] in ("agreed", "single") and r["label"] is not None:
            name = TYPE_NAMES[r["label"]]
            gold[r["record_id"]] = name if task == "type" else ("spam" if name == "spam" else "not_spam")
    return rows, gold


def noisy_predictions(rows, gold, labels, *, never=None, seed=0, wrong=0.3):
    """Gold with a share of wrong answers, for every record of the split (labeled or not); `never`
    is a class that is never predicted."""
    rnd = np.random.default_rng(seed)
    out = {}
    for r in rows:
        g = gold.get(r["record_id"], labels[0])
        p = g if rnd.random() > wrong else labels[int(rnd.integers(len(labels)))]
        if p == never:
            p = next(x for x in labels if x != never)
        out[r["record_id"]] = p
    return out


def run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def refused(args, *needles):
    code, out, err = run(args)
    assert code != 0, out
    line = err.strip()
    assert "\n" not in line and "Traceback" not in err and line.startswith("builder: error: "), err
    for n in needles:
        assert n in line, (n, line)
    return line


def write_jsonl(path, mapping, **extra):
    with open(path, "w") as f:
        for rid, p in mapping.items():
            f.write(json.dumps({"record_id": rid, "prediction": p, **extra}) + "\n")
    return path


# --- every figure against scikit-learn -----------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_scores_match_sklearn_with_classes_absent_from_gold_and_predictions(seed):
    rnd = np.random.default_rng(seed)
    n = 400
    y_true = rnd.choice([0, 1, 2, 3], size=n)  # spam (4) never in the gold
    y_pred = np.where(rnd.random(n) < 0.6, y_true, rnd.choice([0, 2, 3, 4], size=n))  # quote (1) never predicted
    y_pred[y_pred == 1] = 0
    got = ev.scores("type", y_true, y_pred)
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"), abs=1e-12)
    assert got["score"] == got["macro_f1"]
    assert got["micro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="micro"), abs=1e-12)
    assert got["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(5), zero_division=0)
    for i, name in enumerate(TYPE_NAMES):
        c = got["per_class"][name]
        assert (c["precision"], c["recall"], c["f1"], c["support"]) == pytest.approx((p[i], r[i], f[i], s[i]))
    assert np.array(got["confusion"]["matrix"]).tolist() == confusion_matrix(y_true, y_pred, labels=range(5)).tolist()


def test_spam_score_is_f1_of_the_positive_class():
    rnd = np.random.default_rng(7)
    y_true = (rnd.random(300) < 0.2).astype(int)
    y_pred = np.where(rnd.random(300) < 0.8, y_true, 1 - y_true)
    got = ev.scores("spam", y_true, y_pred)
    assert got["score"] == pytest.approx(f1_score(y_true, y_pred, pos_label=1), abs=1e-12)
    assert got["per_class"]["spam"]["f1"] == got["score"]
    none = ev.scores("spam", np.zeros(5, int), np.zeros(5, int))  # no spam anywhere: 0, as scikit-learn says
    assert none["score"] == 0.0 == f1_score([0] * 5, [0] * 5, pos_label=1, zero_division=0)


def test_missing_predictions_are_wrong_but_predict_no_class():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, -1, 1, -1, 2, 0])
    got = ev.scores("type", y_true, y_pred)
    # scikit-learn with a sentinel for "no prediction", averaged over the real classes present
    sent = np.where(y_pred < 0, 99, y_pred)
    present = sorted(set(y_true) | set(y_pred[y_pred >= 0]))
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, sent, labels=present, average="macro"))
    assert got["micro_f1"] == pytest.approx(f1_score(y_true, sent, labels=present, average="micro"))
    assert got["accuracy"] == pytest.approx(3 / 6)
    assert got["confusion"]["missing"][:3] == [1, 1, 0]


@pytest.mark.parametrize("task", ["type", "spam"])
def test_cli_figures_equal_sklearn_on_the_same_predictions(rel, tmp_path, task):
    rows, gold = reference(rel, task=task)
    labels = TYPE_NAMES if task == "type" else SPAM_LABELS
    preds = noisy_predictions(rows, gold, labels, never="quote" if task == "type" else None)
    path = write_jsonl(tmp_path / "p.jsonl", preds)
    code, out, err = run(["evaluate", str(path), "--release", str(rel), "--task", task, "--json"])
    assert code == 0, err
    got = json.loads(out)
    ids = sorted(gold)
    y_true = [gold[i] for i in ids]
    y_pred = [preds[i] for i in ids]
    assert got["n"] == len(ids) and got["gold"] == "human"
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"), abs=1e-12)
    assert got["micro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="micro"), abs=1e-12)
    assert got["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    if task == "spam":
        assert got["score"] == pytest.approx(f1_score(y_true, y_pred, pos_label="spam"), abs=1e-12)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    for i, name in enumerate(labels):
        assert got["per_class"][name]["f1"] == pytest.approx(f[i], abs=1e-12)
        assert got["per_class"][name]["precision"] == pytest.approx(p[i], abs=1e-12)
        assert got["per_class"][name]["recall"] == pytest.approx(r[i], abs=1e-12)
        assert got["per_class"][name]["support"] == s[i]
    assert got["confusion"]["matrix"] == confusion_matrix(y_true, y_pred, labels=list(labels)).tolist()
    statuses = {r["record_id"]: r["label_status"] for r in rows}
    assert got["excluded"] == {"disputed": sum(v == "disputed" for v in statuses.values()),
                               "unlabeled": sum(v == "unlabeled" for v in statuses.values())}
    assert got["excluded"]["disputed"] > 0 and got["excluded"]["unlabeled"] > 0
    for key in ("task", "split", "gold", "n", "accuracy", "macro_f1", "micro_f1", "per_class", "confusion", "ci",
                "per_domain"):
        assert key in got


def test_per_domain_figures_and_the_worst_domain(rel):
    rows, gold = reference(rel)
    preds = noisy_predictions(rows, gold, TYPE_NAMES, seed=3)
    got = ev.evaluate(preds, rel)
    dom = {r["record_id"]: r["domain"] for r in rows}
    per = got["per_domain"]
    assert set(per["domains"]) == set(DOMAINS)
    for d, v in per["domains"].items():
        ids = [i for i in gold if dom[i] == d]
        assert v["n"] == len(ids)
        assert v["score"] == pytest.approx(f1_score([gold[i] for i in ids], [preds[i] for i in ids], average="macro"))
    worst = min(per["domains"], key=lambda d: per["domains"][d]["score"])
    assert per["worst"]["domain"] == worst and per["worst"]["score"] == per["domains"][worst]["score"]
    assert f"worst domain: {worst}" in ev.format_report(got)


def test_a_release_without_domains_says_so(nodomain):
    rows, gold = reference(nodomain)
    got = ev.evaluate(noisy_predictions(rows, gold, TYPE_NAMES), nodomain)
    assert got["per_domain"] is None
    assert "the release knows no domains" in ev.format_report(got)


# --- the interval ----------------------------------------------------------------------------------


def test_interval_is_reproducible_and_contains_the_point(rel, tmp_path):
    rows, gold = reference(rel)
    preds = noisy_predictions(rows, gold, TYPE_NAMES, seed=11)
    path = write_jsonl(tmp_path / "p.jsonl", preds)
    runs = [json.loads(run(["evaluate", str(path), "--release", str(rel), "--json"])[1]) for _ in range(2)]
    assert runs[0] == runs[1]
    ci = runs[0]["ci"]
    assert ci["low"] <= runs[0]["score"] <= ci["high"] and ci["low"] < ci["high"]
    assert (ci["resamples"], ci["level"], ci["unit"]) == (1000, 0.95, "doc_id")
    assert ci["documents"] == len({r["doc_id"] for r in rows if r["record_id"] in gold})
    spam = ev.evaluate(noisy_predictions(*reference(rel, task="spam"), SPAM_LABELS, seed=2), rel, task="spam")
    assert spam["ci"]["low"] <= spam["score"] <= spam["ci"]["high"]


def test_bootstrap_resamples_documents_as_a_naive_loop_does():
    """The grouped multinomial draw has the law of drawing documents one by one: its interval agrees
    with a plain loop over resampled documents scored by scikit-learn."""
    rnd = np.random.default_rng(0)
    n_docs = 60
    docs = np.repeat(np.arange(n_docs), rnd.integers(1, 12, size=n_docs))
    y_true = rnd.integers(0, 5, size=len(docs))
    y_pred = np.where(rnd.random(len(docs)) < 0.7, y_true, rnd.integers(0, 5, size=len(docs)))
    task = ev.get_task("type")
    cells = ev._cells(y_true, y_pred, 5)
    low, high = ev._bootstrap(task, cells, docs, n_docs, 5, resamples=2000, seed=1, level=0.95)
    by_doc = [np.flatnonzero(docs == d) for d in range(n_docs)]
    naive = []
    loop = np.random.default_rng(2)
    for _ in range(800):
        idx = np.concatenate([by_doc[d] for d in loop.integers(0, n_docs, size=n_docs)])
        naive.append(f1_score(y_true[idx], y_pred[idx], average="macro"))
    n_low, n_high = np.percentile(naive, [2.5, 97.5])
    assert low == pytest.approx(n_low, abs=0.02) and high == pytest.approx(n_high, abs=0.02)
    # one-record documents take the grouped path (few distinct per-document matrices)
    single = np.arange(len(docs))
    s_low, s_high = ev._bootstrap(task, cells, single, len(docs), 5, resamples=1000, seed=1, level=0.95)
    assert s_low < f1_score(y_true, y_pred, average="macro") < s_high


# --- input formats -------------------------------------------------------------------------------


def test_csv_jsonl_parquet_names_and_indices_give_one_result(rel, tmp_path):
    rows, gold = reference(rel)
    preds = noisy_predictions(rows, gold, TYPE_NAMES, seed=5)
    ids = list(preds)
    names = [preds[i] for i in ids]
    index = [TYPE_NAMES.index(p) for p in names]
    base = ev.evaluate(preds, rel)
    pq.write_table(pa.table({"record_id": ids, "prediction": index}), tmp_path / "i.parquet")
    pq.write_table(pa.table({"record_id": ids, "prediction": names}), tmp_path / "n.parquet")
    (tmp_path / "n.csv").write_text("record_id,prediction\n" + "".join(f"{i},{p}\n" for i, p in zip(ids, names)))
    (tmp_path / "i.csv").write_text("record_id,prediction\n" + "".join(f"{i},{p}\n" for i, p in zip(ids, index)))
    mixed = {i: (p if k % 2 else TYPE_NAMES.index(p)) for k, (i, p) in enumerate(preds.items())}
    write_jsonl(tmp_path / "m.jsonl", mixed)
    for f in ("i.parquet", "n.parquet", "n.csv", "i.csv", "m.jsonl"):
        got = ev.evaluate(tmp_path / f, rel)
        assert got == base, f
    import pandas as pd
    import polars as pl

    frame = {"record_id": ids, "prediction": names}
    assert ev.evaluate(pd.DataFrame(frame), rel) == base
    assert ev.evaluate(pl.DataFrame(frame), rel) == base
    assert ev.evaluate(frame, rel) == base


def test_an_evaluator_object_serves_a_training_loop(rel):
    rows, gold = reference(rel, split="validation")
    evaluator = ev.Evaluator(rel, "type", "validation")
    a = evaluator.evaluate(noisy_predictions(rows, gold, TYPE_NAMES, seed=1))
    b = evaluator.evaluate(noisy_predictions(rows, gold, TYPE_NAMES, seed=1, wrong=0.0))
    assert a["split"] == "validation" and b["macro_f1"] == 1.0 > a["macro_f1"]


# --- refusals --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good(rel, tmp_path_factory):
    rows, gold = reference(rel)
    return rows, gold, noisy_predictions(rows, gold, TYPE_NAMES, seed=9)


def test_unknown_ids_are_refused_with_how_many_and_the_first(rel, good, tmp_path):
    _, _, preds = good
    path = write_jsonl(tmp_path / "p.jsonl", {**preds, "nope-1": "comment", "nope-2": "spam"})
    refused(["evaluate", str(path), "--release", str(rel)], "2 unknown record_id", "nope-1")


def test_duplicate_ids_are_refused(rel, good, tmp_path):
    _, _, preds = good
    first = next(iter(preds))
    path = write_jsonl(tmp_path / "p.jsonl", preds)
    with open(path, "a") as f:
        f.write(json.dumps({"record_id": first, "prediction": "comment"}) + "\n")
    refused(["evaluate", str(path), "--release", str(rel)], "1 record_id(s) appear more than once", first)


def test_a_label_that_is_not_a_class_is_refused_listing_the_valid_ones(rel, good, tmp_path):
    _, _, preds = good
    bad = dict(preds)
    bad[next(iter(bad))] = "advert"
    line = refused(["evaluate", str(write_jsonl(tmp_path / "p.jsonl", bad)), "--release", str(rel)],
                   "'advert'", "article, quote, comment, reply, spam")
    assert "1 prediction(s) are not a class" in line
    pq.write_table(pa.table({"record_id": list(preds), "prediction": [7] * len(preds)}), tmp_path / "i.parquet")
    refused(["evaluate", str(tmp_path / "i.parquet"), "--release", str(rel)], "not a class", "0-4")


def test_missing_predictions_are_refused_unless_allowed(rel, good, tmp_path):
    _, gold, preds = good
    dropped = [i for i in preds if i in gold][:3]
    path = write_jsonl(tmp_path / "p.jsonl", {i: p for i, p in preds.items() if i not in dropped})
    refused(["evaluate", str(path), "--release", str(rel)], f"missing for 3 of the {len(gold)} scored records",
            "--allow-missing")
    code, out, err = run(["evaluate", str(path), "--release", str(rel), "--allow-missing", "--json"])
    assert code == 0, err
    got = json.loads(out)
    assert got["missing"] == 3 and got["n"] == len(gold)
    full = ev.evaluate(preds, rel)
    right = sum(preds[i] == gold[i] for i in dropped)
    assert got["accuracy"] == pytest.approx(full["accuracy"] - right / len(gold))


def test_ids_of_another_split_are_refused(rel, tmp_path):
    rows, gold = reference(rel, split="validation")
    path = write_jsonl(tmp_path / "p.jsonl", noisy_predictions(rows, gold, TYPE_NAMES))
    refused(["evaluate", str(path), "--release", str(rel)], "belong to split 'validation'", "not 'test'")


def test_a_file_made_for_another_release_is_refused(rel, good, tmp_path):
    _, _, preds = good
    ids, names = list(preds), list(preds.values())
    ev.write_predictions(tmp_path / "p.parquet", ids, names, fingerprint="0" * 64)
    refused(["evaluate", str(tmp_path / "p.parquet"), "--release", str(rel)], "fingerprint 0000000000000000",
            "news 1.0.0")
    ev.write_predictions(tmp_path / "p.csv", ids, names, fingerprint="f" * 64)
    refused(["evaluate", str(tmp_path / "p.csv"), "--release", str(rel)], "made for release fingerprint")
    own = json.loads((rel / "manifest.json").read_text())["fingerprint"]
    ev.write_predictions(tmp_path / "ok.jsonl", ids, names, fingerprint=own)
    assert run(["evaluate", str(tmp_path / "ok.jsonl"), "--release", str(rel)])[0] == 0


def test_files_that_are_not_prediction_files_are_refused(rel, tmp_path):
    (tmp_path / "p.txt").write_text("x")
    refused(["evaluate", str(tmp_path / "p.txt"), "--release", str(rel)], ".csv, .jsonl, .parquet")
    (tmp_path / "p.csv").write_text("id,label\na,b\n")
    refused(["evaluate", str(tmp_path / "p.csv"), "--release", str(rel)], "missing column(s) record_id, prediction")
    (tmp_path / "p.jsonl").write_text('{"record_id": "a", "prediction": "spam"}\nnot json\n')
    refused(["evaluate", str(tmp_path / "p.jsonl"), "--release", str(rel)], "p.jsonl:2")
    # bytes that are not UTF-8, and numbers for ids (with mixed prediction types, as pyarrow cannot read them)
    (tmp_path / "p.jsonl").write_bytes(b'{"record_id": "a", "prediction": "spam"}\n\xff\xfe{}\n')
    refused(["evaluate", str(tmp_path / "p.jsonl"), "--release", str(rel)], "p.jsonl:2", "not UTF-8")
    (tmp_path / "p.jsonl").write_text('{"record_id": 5, "prediction": "spam"}\n{"record_id": 6, "prediction": 3}\n')
    refused(["evaluate", str(tmp_path / "p.jsonl"), "--release", str(rel)], "p.jsonl:1", "record_id 5 is not a string")
    refused(["evaluate", str(tmp_path / "p.csv"), "--release", str(tmp_path)], "not a release directory")
    refused(["evaluate", str(tmp_path / "p.csv"), "--release", str(rel), "--split", "dev"], "no split 'dev'",
            "train, validation, test")


# --- silver is never gold by accident --------------------------------------------------------------


def test_a_release_without_human_labels_needs_gold_silver(unlabeled, tmp_path):
    rows, _ = reference(unlabeled)
    preds = {r["record_id"]: "comment" for r in rows}
    path = write_jsonl(tmp_path / "p.jsonl", preds)
    refused(["evaluate", str(path), "--release", str(unlabeled)], "no human labels", "--gold silver")
    code, out, err = run(["evaluate", str(path), "--release", str(unlabeled), "--gold", "silver"])
    assert code == 0, err
    assert "gold: SILVER" in out and "not human labels" in out
    got = json.loads(run(["evaluate", str(path), "--release", str(unlabeled), "--gold", "silver", "--json"])[1])
    assert got["gold"] == "silver" and "SILVER" in got["gold_description"]
    silver = [TYPE_NAMES[r["type"]] for r in rows]
    assert got["n"] == len(rows)
    assert got["macro_f1"] == pytest.approx(f1_score(silver, ["comment"] * len(rows), average="macro"))


def test_errors_are_builder_errors(rel):
    with pytest.raises(BuilderError, match="valid tasks: type, spam"):
        ev.Evaluator(rel, "sentiment")
    with pytest.raises(BuilderError, match="valid: human, silver"):
        ev.Evaluator(rel, "type", gold="bronze")


def test_predictions_outside_the_task_are_ignored_and_counted(rel, good, tmp_path):
    rows, gold, preds = good
    spam_rows, spam_gold = reference(rel, task="spam")
    spam_preds = {i: ("spam" if p == "spam" else "not_spam") for i, p in preds.items()}
    code, out, err = run(["evaluate", str(write_jsonl(tmp_path / "p.jsonl", spam_preds)), "--release", str(rel),
                          "--task", "spam", "--json"])
    assert code == 0, err
    got = json.loads(out)
    assert got["outside_task"] == len(preds) - len(spam_rows) > 0 and got["n"] == len(spam_gold)
    ids = sorted(spam_gold)
    assert got["score"] == pytest.approx(f1_score([spam_gold[i] for i in ids], [spam_preds[i] for i in ids],
                                                  pos_label="spam"))


def test_records_annotators_drew_belong_to_no_record_task(rel):
    """Document mode's human-gold pages (origin human) are the segmentation task's; the record tasks
    neither score them nor ask for them, and the baselines do not predict them."""
    human = [r for r in pq.read_table(rel / "data" / "test-00000-of-00001.parquet").to_pylist() if r["origin"] == "human"]
    assert human, "the fixture has human-gold pages in test"
    rows, gold = reference(rel)
    assert not {r["record_id"] for r in human} & set(gold)
    from builder.baselines import predict

    assert not {r["record_id"] for r in human} & set(predict("segmenter", rel)["record_id"].to_pylist())
    preds = noisy_predictions(rows, gold, TYPE_NAMES)
    with_human = {**preds, **{r["record_id"]: TYPE_NAMES[r["type"]] for r in human}}
    got = ev.evaluate(with_human, rel)
    assert got["outside_task"] == len(human)
    assert {k: v for k, v in got.items() if k != "outside_task"} == \
        {k: v for k, v in ev.evaluate(preds, rel).items() if k != "outside_task"}


def test_write_predictions_is_atomic(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError):
        ev.write_predictions(tmp_path / "p.parquet", ["a"], ["spam"])
    assert list(tmp_path.iterdir()) == []


def test_pyarrow_reads_what_write_predictions_writes(tmp_path):
    ev.write_predictions(tmp_path / "p.parquet", ["a", "b"], ["spam", "quote"], fingerprint="abc")
    t = pq.read_table(tmp_path / "p.parquet")
    assert t.schema.metadata[b"fingerprint"] == b"abc"
    assert pc.equal(t["prediction"], pa.chunked_array([["spam", "quote"]])).to_pylist() == [True, True]


def test_the_hex_key_join_agrees_with_the_string_join():
    rnd = np.random.default_rng(4)
    ids = pa.array([f"{x:016x}" for x in rnd.integers(0, 2**63, size=5000).tolist()])
    keys = ev._id_keys(ids)
    assert keys is not None and len(set(keys.tolist())) == len(ids)
    probe = pa.array(ids.to_pylist()[::-7] + ["0123456789abcdef", "0123456789ABCDEF", "short"])
    want = pc.fill_null(pc.index_in(probe, value_set=ids), -1).to_numpy(zero_copy_only=False)
    assert ev._lookup(probe, ids, keys).tolist() == want.tolist()  # mixed shapes: the string join
    hexes = probe[: len(probe) - 2]
    assert ev._id_keys(hexes) is not None
    assert ev._lookup(hexes, ids, keys).tolist() == want[: len(hexes)].tolist()
    assert ev._id_keys(pa.array(["0123456789ABCDEF"])) is None and ev._id_keys(pa.array(["abc"])) is None


def test_codes_of_dictionary_chunks_with_different_dictionaries():
    col = pa.chunked_array([pa.array(["b", None, "a"]).dictionary_encode(), pa.array(["c", "a"]).dictionary_encode()])
    codes, names = ev._codes(col)
    assert [names[c] if c >= 0 else None for c in codes] == ["b", None, "a", "c", "a"]
    plain, plain_names = ev._codes(pa.chunked_array([["b", None, "a"], ["c", "a"]]))
    assert [plain_names[c] if c >= 0 else None for c in plain] == ["b", None, "a", "c", "a"]
