"""Document mode, push: one task per document with the segmenter's records as span regions, reply
relations and speakers/authors, against the real Label Studio server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from builder import docmode, studio
from builder.cli import cli
from builder.document import Document
from tests.helpers import SEED, need_shared


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def snapshot(client, project_id: int) -> list[dict]:
    return json.loads(studio.export_snapshot(client, project_id)[1])


def test_config_labels_are_the_schema_types():
    docmode.check_label_config(docmode.label_config())
    bad = docmode.label_config().replace('<Label value="spam"', '<Label value="junk"')
    with pytest.raises(docmode.DocModeError, match="differ from the schema's types"):
        docmode.check_label_config(bad)


def test_offsets_count_utf16_units_both_ways():
    text = "a😀b\r\nc𝔸𝔹d"
    off = docmode.Offsets(text)
    for i in range(len(text) + 1):
        u = off.to_units(i)
        assert u == len(text[:i].encode("utf-16-le")) // 2
        assert off.from_units(u) == i
    assert off.from_units(2) is None, "between the two halves of 😀"
    assert off.from_units(off.units + 1) is None and off.from_units(-1) is None and off.from_units("3") is None


@pytest.mark.studio
def test_example_document_pushed_twice_gives_one_task_with_a_region_per_record(tmp_path, write_records, studio_env,
                                                                                studio_client, project_name):
    """One region per record and one relation per reply or spam reply, whatever the segmenter
    currently finds on the page (tests/test_segment.py pins that)."""
    from builder.segment import segment

    records = segment(Document(doc_id=SEED.stem, text=need_shared(SEED).read_text(encoding="utf-8")))
    threaded = [r for r in records if r["type"] in ("reply", "spam") and r["parent_id"]]
    assert len(records) > 3 and threaded, "the example page has an article, comments and replies"
    path = write_records(records, tmp_path / "seed.parquet")
    first = run("push", path, "--project", project_name, "--mode", "document", "--docs", SEED)
    assert first.exit_code == 0, first.output
    assert (f"1 documents, 0 already there, 1 imported ({len(records)} regions, {len(threaded)} relations)"
            in first.output)
    again = run("push", path, "--project", project_name, "--mode", "document", "--docs", SEED)
    assert again.exit_code == 0, again.output
    assert "1 documents, 1 already there, 0 imported" in again.output

    project = studio.get_project(studio_client, project_name)
    assert studio_client.projects.get(id=project.id).task_number == 1
    (task,) = snapshot(studio_client, project.id)
    assert task["data"]["text"] == SEED.read_text(encoding="utf-8"), "the raw text exactly as segmented"
    (pred,) = studio_client.predictions.list(project=project.id)
    spans = [r for r in pred.result if r.get("from_name") == "span"]
    assert len(spans) == len(records)
    by_id = {r["record_id"]: r for r in records}
    for region in spans:
        rec = by_id[region["id"]]
        assert region["value"]["labels"] == [rec["type"]]
        assert (region["value"]["start"], region["value"]["end"]) == (rec["char_start"], rec["char_end"])
        assert docmode.collapse(region["value"]["text"]) == rec["text"]
    relations = {(r["from_id"], r["to_id"]) for r in pred.result if r["type"] == "relation"}
    assert relations == {(r["record_id"], r["parent_id"]) for r in records if r["type"] in ("reply", "spam")
                         and r["parent_id"]}
    assert len(relations) == len(threaded)
    who = {r["id"]: r["value"]["text"] for r in pred.result if r.get("from_name") == "who"}
    for rec in records:
        expected = rec["speaker"] if rec["type"] == "quote" else rec["author"] if rec["type"] != "article" else None
        assert who.get(rec["record_id"]) == ([expected] if expected else None)
    instructions = studio_client.projects.get(id=project.id).expert_instruction
    assert "Document mode" in instructions


@pytest.mark.studio
def test_a_changed_text_is_reported_not_replaced(tmp_path, write_records, harbour_records, studio_env, studio_client,
                                                  project_name):
    from tests.conftest import HARBOUR

    doc = tmp_path / "docs" / "harbour.txt"
    doc.parent.mkdir()
    doc.write_text(HARBOUR, encoding="utf-8")
    path = write_records(harbour_records, tmp_path / "h.parquet")
    rep = docmode.push(path, [doc], project_name, client=studio_client)
    assert (rep.imported, rep.regions, rep.relations) == (1, 8, 2)

    # the page got one more comment at its end: same records, another text
    doc.write_text(HARBOUR + "\nLate Reader says:\nMarch 9, 2024\n\nStill running?\n", encoding="utf-8")
    rep = docmode.push(path, [doc], project_name, client=studio_client)
    assert (rep.imported, rep.already, rep.changed) == (0, 0, ["harbour"])
    (task,) = snapshot(studio_client, rep.project_id)
    assert task["data"]["text"] == HARBOUR, "the labelled text is never silently replaced"


def test_documents_that_are_not_the_segmented_text_are_refused(tmp_path, write_records, harbour_records):
    from tests.conftest import HARBOUR

    doc = tmp_path / "harbour.txt"
    doc.write_text(HARBOUR.replace("About time.", "About  time!"), encoding="utf-8")
    path = write_records(harbour_records, tmp_path / "h.parquet")
    result = run("push", path, "--project", "never-made", "--mode", "document", "--docs", doc)
    assert result.exit_code == 2
    assert "is not the text its records were segmented from" in result.output
    other = tmp_path / "other" / "lighthouse.txt"
    other.parent.mkdir()
    other.write_text("Lighthouse keeper retires\n\nAfter forty years the keeper hands over the keys.\n", encoding="utf-8")
    result = run("push", path, "--project", "never-made", "--mode", "document", "--docs", other.parent)
    assert result.exit_code == 2 and "1 document(s) of" in result.output and "not in the documents given" in result.output
    result = run("push", path, "--project", "never-made", "--mode", "document")
    assert result.exit_code == 2 and "needs --docs" in result.output


@pytest.mark.studio
def test_push_is_resumable_and_pull_refuses_a_record_mode_project(tmp_path, write_records, harbour_records,
                                                                  harbour_parquet, studio_env, studio_client,
                                                                  project_name):
    from tests.conftest import HARBOUR
    from tests.test_docmode_pull import PAGE, segmenter_records

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (docs / "festival.txt").write_bytes(PAGE.encode("utf-8"))
    # a push that stopped after the first document, then the whole push again: nothing twice
    first = docmode.push(write_records(harbour_records, tmp_path / "one.parquet"), [docs], project_name,
                         client=studio_client)
    assert (first.imported, first.already) == (1, 0)
    both = write_records(harbour_records + segmenter_records(), tmp_path / "both.parquet")
    again = docmode.push(both, [docs], project_name, client=studio_client, batch_size=1)
    assert (again.imported, again.already, again.changed) == (1, 1, [])
    assert sorted(t["data"]["doc_id"] for t in snapshot(studio_client, again.project_id)) == ["festival", "harbour"]

    record_mode = project_name[:40] + "-records"
    studio.push(harbour_parquet, record_mode, client=studio_client)
    result = run("pull", "--project", record_mode, "--mode", "document", "--out", tmp_path / "L")
    assert result.exit_code == 2 and "is not a document-mode project" in result.output
    assert not (tmp_path / "L").exists()
    result = run("push", both, "--project", record_mode, "--mode", "document", "--docs", docs)
    assert result.exit_code == 2 and "is not a document-mode project" in result.output


@pytest.mark.studio
def test_ctrl_c_during_a_document_push_then_rerun(tmp_path, write_records, harbour_records, studio_env, studio_client,
                                                  project_name):
    """A real SIGINT to a running `builder push --mode document`: one line saying to run it again,
    exit 130, and the same command completes the project without a document twice."""
    import os
    import subprocess
    import sys

    from tests.conftest import HARBOUR
    from tests.helpers import interrupt_push

    many, docs = [], tmp_path / "docs.jsonl"
    with docs.open("w", encoding="utf-8") as f:
        for copy in range(150):  # one document per batch: seconds of work to interrupt
            ids = {r["record_id"]: f"{r['record_id']}-{copy}" for r in harbour_records}
            many += [r | {"record_id": ids[r["record_id"]], "doc_id": f"harbour-{copy}",
                          "parent_id": ids.get(r["parent_id"])} for r in harbour_records]
            f.write(json.dumps({"id": f"harbour-{copy}", "text": HARBOUR}) + "\n")
    records = write_records(many, tmp_path / "many.parquet")
    cmd = [sys.executable, "-m", "builder", "push", str(records), "--project", project_name, "--mode", "document",
           "--docs", str(docs), "--batch-size", "1"]
    project, err = interrupt_push(cmd, studio_env, studio_client, project_name)
    last = err.strip().splitlines()[-1]
    assert last.startswith("builder: interrupted after ") and "new documents were committed" in last, last
    assert "run the same push again to complete it" in last and "Traceback" not in err
    done = studio_client.projects.get(id=project.id).task_number
    assert 0 < done < 150

    again = subprocess.run(cmd, env=os.environ | studio_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"150 documents, {done} already there, {150 - done} imported" in again.stderr
    doc_ids = [t["data"]["doc_id"] for t in snapshot(studio_client, project.id)]
    assert len(doc_ids) == len(set(doc_ids)) == 150
