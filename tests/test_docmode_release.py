"""Document mode end to end with the real server: push, two annotators, pull, a release whose
human-gold documents carry the annotators' records (origin "human"), and the `segmentation` task
scoring the segmenter against them."""

from __future__ import annotations

import json
from collections import defaultdict

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from builder import docmode, evaluate_segmentation, studio
from builder.cli import cli
from builder.document import Document
from builder.schema import TYPE_NAMES
from tests.conftest import HARBOUR
from tests.test_docmode_pull import KAI, LENA, PAGE, TOM, alice_result, segmenter_records

LIGHTHOUSE = ("Lighthouse Keeper Retires After Forty Years\n\nThe keeper of the Porthkell light handed over its keys "
              "on Friday after forty years of service.\n\n“I will miss the storms most,” he said.\n")


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def clean_festival() -> list[dict]:
    """Alice's corrections without the two broken regions."""
    return [x for x in alice_result() if x.get("id") not in ("x1",) and x.get("from_id") != "x1"]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, studio_server, annotators):
    """Three documents pushed in document mode; festival labelled alike by Alice and Bob (agreed),
    harbour by Alice alone, accepting the pre-annotation (single); lighthouse by nobody."""
    from builder.segment import segment
    from tests.conftest import _write_records, harbour_by_hand

    tmp = tmp_path_factory.mktemp("docmode-release")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "festival.txt").write_bytes(PAGE.encode("utf-8"))
    (docs / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (docs / "lighthouse.txt").write_text(LIGHTHOUSE, encoding="utf-8")
    records = segmenter_records() + harbour_by_hand() + segment(Document(doc_id="lighthouse", text=LIGHTHOUSE))
    path = _write_records(records, tmp / "records.parquet")
    admin = studio.connect(studio_server.url, studio_server.token)
    project = "t-docmode-release"
    rep = docmode.push(path, [docs], project, client=admin)
    assert rep.imported == 3
    tasks = {t["data"]["doc_id"]: t for t in json.loads(studio.export_snapshot(admin, rep.project_id)[1])}
    alice = studio.connect(studio_server.url, annotators["alice"]["token"])
    bob = studio.connect(studio_server.url, annotators["bob"]["token"])
    alice.annotations.create(id=tasks["festival"]["id"], result=clean_festival())
    bob.annotations.create(id=tasks["festival"]["id"], result=clean_festival())
    (pred,) = admin.predictions.list(task=tasks["harbour"]["id"])
    alice.annotations.create(id=tasks["harbour"]["id"], result=pred.result)
    out = tmp / "DOCLABELS"
    env = {"LABEL_STUDIO_URL": studio_server.url, "LABEL_STUDIO_API_KEY": studio_server.token}
    result = CliRunner().invoke(cli, ["pull", "--project", project, "--mode", "document", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    return {"records": path, "records_list": records, "docs": docs, "labels": out, "tmp": tmp}


@pytest.mark.studio
def test_two_annotators_agreeing_give_agreed_gold(labelled):
    documents = {d["doc_id"]: d for d in pq.read_table(labelled["labels"] / "documents.parquet").to_pylist()}
    assert documents["festival"]["status"] == "agreed" and len(documents["festival"]["annotators"]) == 2
    assert documents["festival"]["span_f1_exact"] == 1.0 and documents["festival"]["parent_agreement"] == 1.0
    assert documents["harbour"]["status"] == "single"
    assert documents["lighthouse"]["status"] == "unlabeled"
    report = json.loads((labelled["labels"] / "docmode.json").read_text())
    assert report["human_gold_documents"] == ["festival", "harbour"]


@pytest.fixture(scope="module")
def release_dir(labelled):
    out = labelled["tmp"] / "RELEASES"
    result = run("publish", labelled["records"], "--documents", labelled["labels"], "--name", "docmode",
                 "--version", "1.0.0", "--out", out, "--ratios", "0/0/100")
    assert result.exit_code == 0, result.output
    assert "2 human-gold documents publish 13 human records in place of 13 segmenter records" in result.output
    return out / "docmode" / "1.0.0"


@pytest.mark.studio
def test_a_release_marks_which_records_are_human(labelled, release_dir):
    rows = pq.read_table(release_dir / "data").to_pylist()
    origin = defaultdict(set)
    for r in rows:
        origin[r["doc_id"]].add(r["origin"])
    assert origin == {"festival": {"human"}, "harbour": {"human"}, "lighthouse": {"segmenter"}}
    festival = {(r["char_start"], r["char_end"]): r for r in rows if r["doc_id"] == "festival"}
    assert TYPE_NAMES[festival[LENA]["type"]] == "reply"
    assert festival[LENA]["parent_id"] == festival[KAI]["record_id"] and festival[LENA]["depth"] == 1
    assert TOM in festival, "the corrected boundary is what is published"
    assert " ".join(PAGE[TOM[0]:TOM[1]].split()) == festival[TOM]["text"]
    assert run("verify", release_dir).exit_code == 0
    import datasets

    ds = datasets.load_dataset(str(release_dir))
    assert sorted(set(ds["test"]["origin"])) == ["human", "segmenter"]
    n_human = sum(r["origin"] == "human" for r in rows)
    card = " ".join((release_dir / "README.md").read_text(encoding="utf-8").split())
    assert (f"{len(rows) - n_human} records come from the segmenter and {n_human} from annotators' corrections"
            in card and "in 2 documents whose records are all human" in card), "the card counts both origins"


def reference_macro_f1(gold: list[dict], pred: list[dict]) -> float:
    """Exact span F1 per type from plain sets, macro over the types present (independent of the module)."""
    f1s = []
    for t in TYPE_NAMES:
        g = {(r["doc_id"], r["char_start"], r["char_end"]) for r in gold if r["type"] == t}
        p = {(r["doc_id"], r["char_start"], r["char_end"]) for r in pred if r["type"] == t}
        if g or p:
            f1s.append(2 * len(g & p) / (len(g) + len(p)))
    return sum(f1s) / len(f1s)


@pytest.mark.studio
def test_evaluate_scores_the_segmenter_against_human_gold(labelled, release_dir):
    result = run("evaluate", labelled["records"], "--release", release_dir, "--task", "segmentation", "--json")
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    gold = [r_ | {"type": TYPE_NAMES[r_["type"]]} for r_ in pq.read_table(release_dir / "data").to_pylist()
            if r_["origin"] == "human"]
    pred = [x for x in labelled["records_list"] if x["doc_id"] in ("festival", "harbour")]
    assert r["documents"] == 2 and r["ignored_documents"] == 1
    assert r["score"] == pytest.approx(reference_macro_f1(gold, pred))
    assert r["score"] == pytest.approx((1 + 1 + 2 / 3 + 2 / 3 + 1) / 5)
    # matched by boundaries: 4 of festival's 5 (Tom's boundary differs), harbour's 8; Lena's parent and depth wrong
    assert r["matched_spans"] == 12
    assert r["parent_accuracy"] == pytest.approx(11 / 12) and r["depth_accuracy"] == pytest.approx(11 / 12)
    assert r["per_type"]["overlap"]["comment"]["f1"] > r["per_type"]["exact"]["comment"]["f1"]
    assert r["ci"]["low"] <= r["score"] <= r["ci"]["high"] and r["ci"]["documents"] == 2
    festival_only = reference_macro_f1([g for g in gold if g["doc_id"] == "festival"],
                                       [p for p in pred if p["doc_id"] == "festival"])
    assert r["per_domain"]["domains"] == {"porthkell.example": {"documents": 1, "score": pytest.approx(festival_only)}}
    assert r["per_domain"]["unknown_domain"] == 1, "harbour has no domain"
    again = run("evaluate", labelled["records"], "--release", release_dir, "--task", "segmentation", "--json")
    assert json.loads(again.output)["ci"] == r["ci"], "the same file gives the same interval"
    text = run("evaluate", labelled["records"], "--release", release_dir, "--task", "segmentation")
    assert "official metric macro_span_f1_exact" in text.output and "parent accuracy" in text.output
    card = (release_dir / "README.md").read_text(encoding="utf-8")
    row = next(line for line in card.splitlines() if line.startswith("| segmentation |"))
    assert f"| segmenter | {round(r['score'], 4)} | {round(r['ci']['low'], 4)} – {round(r['ci']['high'], 4)} |" in row


def test_segmentation_predictions_are_checked_before_scoring(tmp_path):
    from builder.evaluate import PredictionError
    import pyarrow as pa

    def spans(rows):
        return evaluate_segmentation.prediction_spans(pa.Table.from_pylist(rows))

    ok = {"doc_id": "d", "char_start": 0, "char_end": 5, "type": "comment", "record_id": "a", "parent_id": None}
    assert spans([ok])["d"][0]["parent"] is None
    with pytest.raises(PredictionError, match="is not a record type"):
        spans([ok | {"type": "tweet"}])
    with pytest.raises(PredictionError, match="0 <= char_start < char_end"):
        spans([ok | {"char_end": 0}])
    with pytest.raises(PredictionError, match="names no predicted record"):
        spans([ok | {"parent_id": "zz"}])
    with pytest.raises(PredictionError, match="predicted twice"):
        spans([ok, ok | {"record_id": "b"}])
    with pytest.raises(PredictionError, match="name no parents"):
        spans([{k: v for k, v in ok.items() if k not in ("record_id", "parent_id")}])
    by_pos = spans([{"doc_id": "d", "char_start": 0, "char_end": 9, "type": "comment", "position": 0,
                     "parent_position": None},
                    {"doc_id": "d", "char_start": 10, "char_end": 19, "type": "reply", "position": 1,
                     "parent_position": 0}])
    assert by_pos["d"][1]["parent"] == 0
    (tmp_path / "preds").mkdir()
    (tmp_path / "preds" / "part-00000.parquet").write_bytes(b"junk")
    with pytest.raises(PredictionError, match="cannot read its .parquet files"):
        evaluate_segmentation.read_predictions(tmp_path / "preds")


@pytest.mark.studio
def test_publish_refuses_records_of_another_text(labelled, tmp_path):
    """Records re-segmented from an edited page: the gold's offsets would land on other characters."""
    from tests.conftest import _write_records

    edited = [r | {"text": "Loved it so much"} if r["char_start"] == KAI[0] and r["doc_id"] == "festival" else r
              for r in labelled["records_list"]]
    path = _write_records(edited, tmp_path / "edited.parquet")
    result = run("publish", path, "--documents", labelled["labels"], "--name", "docmode", "--version", "1.0.0",
                 "--out", tmp_path / "RELEASES")
    assert result.exit_code == 2
    assert "was segmented from another text than the one annotators labelled" in result.output
    assert not (tmp_path / "RELEASES").exists()


def test_an_altered_labels_directory_is_one_line_and_publishes_nothing(tmp_path, harbour_parquet):
    """publish --documents reads gold.parquet and docmode.json as pull wrote them; files damaged
    since are one line each (not a traceback), before anything is written."""
    labels = tmp_path / "L"
    labels.mkdir()
    (labels / "docmode.json").write_text("{", encoding="utf-8")
    (labels / "gold.parquet").write_bytes(b"junk")
    args = ("publish", harbour_parquet, "--documents", labels, "--name", "news", "--version", "1.0.0",
            "--out", tmp_path / "releases")
    result = run(*args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    line = result.output.strip()
    assert "\n" not in line and "gold.parquet is not the gold records" in line and "pull it again" in line, line

    pq.write_table(pq.read_table(harbour_parquet), labels / "gold.parquet")  # readable gold, a report that is not
    result = run(*args)
    line = result.output.strip()
    assert result.exit_code == 2 and "\n" not in line, result.output
    assert "docmode.json does not name a readable export" in line and "pull it again" in line, line
    assert not (tmp_path / "releases").exists()


def test_publish_says_when_the_test_split_has_no_gold_document(tmp_path, harbour_records, write_records):
    """A LABELS directory made as pull makes it (export kept with its sha256, gold records), whose
    only gold page lands in train: the release is published and the missing segmentation row is
    said, not silently left out."""
    import hashlib

    from builder.run import storage_schema
    from tests.conftest import HARBOUR

    records = write_records(harbour_records, tmp_path / "records.parquet")
    labels = tmp_path / "L"
    labels.mkdir()
    export = json.dumps([{"id": 1, "data": {"doc_id": "harbour", "text": HARBOUR}}]).encode()
    (labels / "export-1.json").write_bytes(export)
    (labels / "docmode.json").write_text(json.dumps({"export_file": "export-1.json",
                                                     "export_sha256": hashlib.sha256(export).hexdigest()}))
    pq.write_table(docmode.gold_table([r | {"origin": "human"} for r in harbour_records], storage_schema()),
                   labels / "gold.parquet")
    result = run("publish", records, "--documents", labels, "--name", "news", "--version", "1.0.0", "--ratios",
                 "100/0/0", "--out", tmp_path / "releases")
    assert result.exit_code == 0, result.output
    assert "the test split holds no human-gold document, so the card has no segmentation row" in result.output
    card = (tmp_path / "releases" / "news" / "1.0.0" / "README.md").read_text()
    assert "| segmentation |" not in card
