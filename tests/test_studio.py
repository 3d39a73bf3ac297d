"""push and pull against the real Label Studio server (one per session, a project per test)."""

from __future__ import annotations

import json
import os
import stat
from collections import Counter

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from builder import labels, studio
from builder.cli import cli
from builder.document import Document
from builder.schema import TYPE_NAMES
from tests.helpers import SEED, need_shared


pytestmark = pytest.mark.studio


def run(*args, env=None):
    result = CliRunner().invoke(cli, list(map(str, args)), env=env, catch_exceptions=False)
    return result


def tasks_of(client, project_id: int) -> list[dict]:
    """Every task of the project, read through an export snapshot (as pull does)."""
    return json.loads(studio.export_snapshot(client, project_id)[1])


def test_example_document_pushed_twice_gives_a_task_per_record(tmp_path, write_records, studio_env, studio_client,
                                                                project_name):
    """One task per record, whatever the segmenter currently finds on the page (tests/test_segment.py
    pins that), and none twice."""
    from builder.segment import segment

    text = need_shared(SEED).read_text(encoding="utf-8")
    segmented = segment(Document(doc_id=SEED.stem, text=text))
    n = len(segmented)
    assert n > 3, "the example page has an article, quotes and comments"
    records = write_records(segmented, tmp_path / "seed.parquet")
    first = run("push", records, "--project", project_name)
    assert first.exit_code == 0, first.output
    assert f"{n} records, 0 already there, {n} imported" in first.output
    again = run("push", records, "--project", project_name)
    assert again.exit_code == 0, again.output
    assert f"{n} records, {n} already there, 0 imported" in again.output
    project = studio.get_project(studio_client, project_name)
    assert studio_client.projects.get(id=project.id).task_number == n
    ids = [t["data"]["record_id"] for t in tasks_of(studio_client, project.id)]
    assert sorted(ids) == sorted(r["record_id"] for r in segmented)


def test_push_adds_only_new_records_with_predictions(tmp_path, write_records, harbour_records, studio_client,
                                                    project_name):
    some = write_records(harbour_records[:3], tmp_path / "some.parquet")
    all_ = write_records(harbour_records, tmp_path / "all.parquet")
    rep = studio.push(some, project_name, client=studio_client)
    assert (rep.created, rep.imported, rep.already) == (True, 3, 0)
    rep = studio.push(all_, project_name, client=studio_client)
    assert (rep.created, rep.imported, rep.already) == (False, len(harbour_records) - 3, 3)

    tasks = tasks_of(studio_client, rep.project_id)
    task_of = {t["data"]["record_id"]: t["id"] for t in tasks}
    assert sorted(task_of) == sorted(r["record_id"] for r in harbour_records)
    preds = {p.task: p for p in studio_client.predictions.list(project=rep.project_id)}
    assert len(preds) == len(harbour_records)
    for r in harbour_records:
        pred = preds[task_of[r["record_id"]]]
        assert pred.model_version == r["segmenter_version"]
        assert pred.score == pytest.approx(r["score"], abs=1e-6)
        assert pred.result[0]["from_name"] == "type"
        assert pred.result[0]["value"]["choices"] == [r["type"]]
    project = studio_client.projects.get(id=rep.project_id)
    assert studio.config_choices(project.label_config)["type"] == list(TYPE_NAMES)
    assert project.maximum_annotations == 2, "two annotators per task by default: agreement needs overlap"
    assert "A reply that is spam" in project.expert_instruction and project.show_instruction


def test_task_carries_title_and_context(harbour_records, harbour_parquet, studio_client, project_name):
    rep = studio.push(harbour_parquet, project_name, client=studio_client)
    data = {t["data"]["record_id"]: t["data"] for t in tasks_of(studio_client, rep.project_id)}
    recs = {r["record_id"]: r for r in harbour_records}
    assert {d["title"] for d in data.values()} == {"Harbour Town Votes to Keep Its Ferry Running Through Winter"}

    reply = next(r for r in harbour_records if r["type"] == "reply")
    parent = recs[reply["parent_id"]]
    assert data[reply["record_id"]]["context"] == parent["text"]
    assert parent["author"] in data[reply["record_id"]]["context_label"]

    quote = next(r for r in harbour_records if r["type"] == "quote" and r["speaker"] == "Ruth Ambler")
    ctx = data[quote["record_id"]]
    assert "Ruth Ambler" in ctx["context_label"]
    assert quote["text"] in ctx["context"] and "said after the vote" in ctx["context"]
    assert "Fishermen" not in ctx["context"], "the context is the quote's sentence, not the whole article"

    comment = next(r for r in harbour_records if r["type"] == "comment" and r["author"])
    assert comment["author"] in data[comment["record_id"]]["context"]


def test_interrupted_push_completes_on_rerun_without_duplicates(harbour_records, harbour_parquet, studio_client,
                                                                project_name):
    def interrupt(n):
        raise KeyboardInterrupt  # as Ctrl-C right after the first batch was committed

    with pytest.raises(KeyboardInterrupt):
        studio.push(harbour_parquet, project_name, client=studio_client, batch_size=3, on_batch=interrupt)
    project = studio.get_project(studio_client, project_name)
    assert studio_client.projects.get(id=project.id).task_number == 3

    rep = studio.push(harbour_parquet, project_name, client=studio_client, batch_size=3)
    assert (rep.already, rep.imported) == (3, len(harbour_records) - 3)
    ids = [t["data"]["record_id"] for t in tasks_of(studio_client, project.id)]
    assert Counter(ids) == Counter(r["record_id"] for r in harbour_records)


def test_two_annotators_give_rows_labels_agreement_and_alpha(tmp_path, harbour_records, harbour_parquet,
                                                              studio_server, annotators, studio_env, project_name):
    rep = studio.push(harbour_parquet, project_name, client=studio.connect())
    admin = studio.connect()
    task_of = {t["data"]["record_id"]: t["id"] for t in tasks_of(admin, rep.project_id)}
    recs = sorted(harbour_records, key=lambda r: r["position"])
    alice = studio.connect(studio_server.url, annotators["alice"]["token"])
    bob = studio.connect(studio_server.url, annotators["bob"]["token"])

    # alice: the segmenter's type everywhere, except record 1, which she re-labels (her latest counts)
    for r in recs:
        studio.annotate(alice, task_of[r["record_id"]], r["type"], lead_time=2.5)
    studio.annotate(alice, task_of[recs[1]["record_id"]], "comment")
    # bob: agrees on 0 and 1, disagrees on 2, skips 3, gives a label outside the schema on 4,
    # flags a wrong boundary on 5
    studio.annotate(bob, task_of[recs[0]["record_id"]], recs[0]["type"])
    studio.annotate(bob, task_of[recs[1]["record_id"]], "comment")
    other = next(t for t in TYPE_NAMES if t != recs[2]["type"])
    studio.annotate(bob, task_of[recs[2]["record_id"]], other)
    studio.annotate(bob, task_of[recs[3]["record_id"]], None, cancelled=True)
    studio.annotate(bob, task_of[recs[4]["record_id"]], "advert")
    studio.annotate(bob, task_of[recs[5]["record_id"]], recs[5]["type"],
                    extra=[{"from_name": "boundary", "to_name": "text", "type": "choices",
                            "value": {"choices": ["wrong boundary"]}}])

    out = tmp_path / "LABELS"
    result = run("pull", "--project", project_name, "--out", out)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "labels.json").read_text())
    a, b = annotators["alice"]["email"], annotators["bob"]["email"]

    ann = pq.read_table(out / "annotations.parquet")
    assert ann.schema.equals(labels.ANNOTATIONS_SCHEMA)
    rows = {(r["record_id"], r["annotator"]): r for r in ann.to_pylist()}
    assert len(rows) == len(recs) + 4  # alice on every record; bob on 0, 1, 2, 5
    assert rows[(recs[1]["record_id"], a)]["label"] == "comment"
    assert rows[(recs[1]["record_id"], a)]["changed_prediction"] is (recs[1]["type"] != "comment")
    assert rows[(recs[0]["record_id"], a)]["changed_prediction"] is False
    assert rows[(recs[0]["record_id"], a)]["lead_time"] == 2.5
    assert rows[(recs[2]["record_id"], b)]["changed_prediction"] is True
    assert (recs[3]["record_id"], b) not in rows and (recs[4]["record_id"], b) not in rows
    assert all(r["created_at"] and r["updated_at"] for r in rows.values())

    lab = pq.read_table(out / "labels.parquet")
    assert lab.schema.equals(labels.LABELS_ARROW_SCHEMA)
    by_id = {r["record_id"]: r for r in lab.to_pylist()}
    assert len(by_id) == len(recs)
    assert by_id[recs[0]["record_id"]]["label_status"] == "agreed"
    assert by_id[recs[0]["record_id"]]["label"] == TYPE_NAMES.index(recs[0]["type"])
    assert by_id[recs[1]["record_id"]]["label"] == TYPE_NAMES.index("comment")
    assert by_id[recs[2]["record_id"]] | {"annotator_labels": None} == {
        "record_id": recs[2]["record_id"], "annotator_labels": None, "label": None, "n_annotators": 2,
        "agreement": 0.5, "label_status": "disputed"}
    assert [x["annotator"] for x in by_id[recs[2]["record_id"]]["annotator_labels"]] == [a, b]
    assert by_id[recs[3]["record_id"]]["label_status"] == "single"
    assert by_id[recs[6]["record_id"]]["label_status"] == "single"

    assert report["project"] == {"name": project_name, "id": rep.project_id}
    assert report["label_status"] == {"unlabeled": 0, "single": len(recs) - 4, "agreed": 3, "disputed": 1}
    assert report["annotations"]["skipped_or_cancelled"] == 1
    assert report["annotations"]["superseded"] == 1
    assert [(x["record_id"], x["label"]) for x in report["rejected"]] == [(recs[4]["record_id"], ["advert"])]
    assert "not a record type" in report["rejected"][0]["reason"]
    assert report["boundary_flags"] == [{"record_id": recs[5]["record_id"], "annotator": b,
                                         "annotation_id": report["boundary_flags"][0]["annotation_id"]}]
    # 4 records with two answers: 3 pairs agree, 1 disagrees
    expected = labels.krippendorff_alpha([[recs[i]["type"], recs[i]["type"]] for i in (0, 5)]
                                         + [["comment", "comment"], [recs[2]["type"], other]])
    assert report["krippendorff_alpha_nominal"] == pytest.approx(expected)
    assert report["alpha_records"] == 4
    assert report["annotators"] == sorted([a, b])

    export = out / report["export_file"]
    assert report["export_file"] == f"export-{report['snapshot_id']}.json"
    import hashlib

    assert hashlib.sha256(export.read_bytes()).hexdigest() == report["export_sha256"]
    assert not os.stat(export).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["annotations.parquet", "labels.parquet", "labels.json", report["export_file"]])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary left behind"


def test_pull_of_an_unlabeled_project(tmp_path, harbour_parquet, studio_client, studio_env, project_name):
    studio.push(harbour_parquet, project_name, client=studio_client)
    result = run("pull", "--project", project_name, "--out", tmp_path / "L")
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "L" / "labels.parquet")
    assert set(table.column("label_status").to_pylist()) == {"unlabeled"}
    assert table.column("label").null_count == table.num_rows
    assert json.loads((tmp_path / "L" / "labels.json").read_text())["krippendorff_alpha_nominal"] is None


# --- errors a user meets: one line, non-zero exit, nothing written ------------------------------


def one_line_error(result, *needles):
    assert result.exit_code != 0
    err = result.stderr.strip()
    assert err.startswith("builder: error: ") and "\n" not in err, err
    for n in needles:
        assert n in err, err
    assert "Traceback" not in result.output


def test_server_not_running_names_the_url(tmp_path, harbour_parquet, monkeypatch):
    import socket

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": "0" * 40}
    one_line_error(run("push", harbour_parquet, "--project", "x", env=env), url, "not running")
    one_line_error(run("pull", "--project", "x", "--out", tmp_path / "L", env=env), url)
    assert not (tmp_path / "L").exists()


def test_no_server_configured(tmp_path, harbour_parquet, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    monkeypatch.setenv("BUILDER_STATE_DIR", str(tmp_path / "state"))
    one_line_error(run("push", harbour_parquet, "--project", "x"), "builder studio start", "LABEL_STUDIO_URL")


def test_half_configured_server_is_refused(harbour_parquet, studio_server):
    env = {"LABEL_STUDIO_URL": studio_server.url, "LABEL_STUDIO_API_KEY": None}
    one_line_error(run("push", harbour_parquet, "--project", "x", env=env),
                   "LABEL_STUDIO_URL is set but LABEL_STUDIO_API_KEY is not")


def test_wrong_token(tmp_path, harbour_parquet, studio_server):
    env = {"LABEL_STUDIO_URL": studio_server.url, "LABEL_STUDIO_API_KEY": "f" * 40}
    one_line_error(run("push", harbour_parquet, "--project", "x", env=env), "refused the API token",
                   studio_server.url)


def test_unknown_project(tmp_path, harbour_parquet, studio_client, studio_env, project_name):
    studio.push(harbour_parquet, project_name, client=studio_client)
    one_line_error(run("pull", "--project", "no-such-project", "--out", tmp_path / "L"),
                   "no Label Studio project named 'no-such-project'", project_name)
    assert not (tmp_path / "L").exists()


def test_record_pull_of_a_project_with_another_config(tmp_path, harbour_parquet, studio_client, studio_env,
                                                     project_name):
    studio_client.projects.create(title=project_name, label_config=(
        '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
        '<Choice value="positive"/><Choice value="negative"/></Choices></View>'))
    one_line_error(run("pull", "--project", project_name, "--out", tmp_path / "L"),
                   "is not a record type project", "--mode document")
    one_line_error(run("push", harbour_parquet, "--project", project_name), "is not a record type project",
                   "push to a new project name")
    assert not (tmp_path / "L").exists()
    assert studio_client.projects.get(id=studio.find_project(studio_client, project_name).id).task_number == 0


def test_bad_records_input(tmp_path, write_records, studio_env, harbour_records, project_name):
    one_line_error(run("push", tmp_path / "missing.parquet", "--project", project_name), "does not exist")
    (tmp_path / "notes.parquet").write_text("not parquet")
    one_line_error(run("push", tmp_path / "notes.parquet", "--project", project_name), "Parquet")
    dup = write_records(harbour_records + harbour_records[:1], tmp_path / "dup.parquet")
    one_line_error(run("push", dup, "--project", project_name), "occurs more than once")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(dup).slice(0, 3)
    table = table.set_column(table.schema.get_field_index("score"), "score", pa.array([0.5, None, 0.5], pa.float32()))
    pq.write_table(table, tmp_path / "noscore.parquet")
    one_line_error(run("push", tmp_path / "noscore.parquet", "--project", project_name), "1 records have no score")
    assert studio.find_project(studio.connect(), project_name) is None, "nothing was created for bad input"


def test_pull_keeps_an_earlier_labels_dir_until_it_succeeds(tmp_path, harbour_parquet, studio_client, studio_env,
                                                            project_name):
    studio.push(harbour_parquet, project_name, client=studio_client)
    out = tmp_path / "L"
    assert run("pull", "--project", project_name, "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    one_line_error(run("pull", "--project", "no-such-project", "--out", out), "no-such-project")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    (tmp_path / "file").write_text("x")
    one_line_error(run("pull", "--project", project_name, "--out", tmp_path / "file"), "not a LABELS directory")
    assert (tmp_path / "file").read_text() == "x"


def test_pull_interrupted_while_judging_leaves_the_earlier_labels_and_no_download(
        tmp_path, harbour_parquet, studio_client, studio_env, project_name, monkeypatch):
    studio.push(harbour_parquet, project_name, client=studio_client)
    out = tmp_path / "L"
    assert run("pull", "--project", project_name, "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(self, task):
        raise KeyboardInterrupt

    monkeypatch.setattr(labels._Judge, "add", interrupted)
    assert run("pull", "--project", project_name, "--out", out).exit_code != 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["L"], "no download, temporary LABELS or bucket left"


def test_pull_whose_download_is_cut_short_is_one_line_and_leaves_no_download(
        tmp_path, harbour_parquet, studio_client, studio_env, project_name, monkeypatch):
    """The server's connection drops after the first chunk of the real download (what a long download
    of a large project meets): one line, the earlier LABELS as it was, the partial file removed."""
    import httpx
    from label_studio_sdk.projects.exports.client import ExportsClient

    studio.push(harbour_parquet, project_name, client=studio_client)
    out = tmp_path / "L"
    assert run("pull", "--project", project_name, "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    download = ExportsClient.download

    def dropped(self, *args, **kwargs):
        chunks = iter(download(self, *args, **{**kwargs, "request_options": {"chunk_size": 100}}))
        yield next(chunks)
        chunks.close()  # the response, closed as a dropped connection leaves it
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    monkeypatch.setattr(ExportsClient, "download", dropped)
    result = run("pull", "--project", project_name, "--out", out)
    assert result.exit_code != 0 and "Traceback" not in result.output
    *_, last = result.stderr.strip().splitlines()  # after the "taking an export snapshot" progress line
    assert last.startswith("builder: error: the connection to Label Studio failed") and "pull again" in last, last
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["L"], "the partial download is removed"


def test_push_whose_connection_breaks_is_one_line_and_completes_on_rerun(
        harbour_parquet, studio_client, studio_env, project_name, monkeypatch):
    """The connection drops on the second import batch: one line saying to push again, the first
    batch stays, and pushing again imports only the rest."""
    import httpx
    from label_studio_sdk.projects.client import ProjectsClient

    real = ProjectsClient.import_tasks
    calls = []

    def breaks_on_the_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ProjectsClient, "import_tasks", breaks_on_the_second)
    result = run("push", harbour_parquet, "--project", project_name, "--batch-size", "3")
    assert result.exit_code != 0 and "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("builder: error: the connection to Label Studio broke") and "push again" in last, last
    monkeypatch.setattr(ProjectsClient, "import_tasks", real)
    rep = studio.push(harbour_parquet, project_name, client=studio_client)
    assert rep.already == 3 and rep.already + rep.imported == rep.records


def test_ctrl_c_during_push_then_rerun(tmp_path, write_records, harbour_records, studio_env, studio_client,
                                       project_name):
    """A real SIGINT to a running `builder push`: it stops with a one-line hint, keeps what was
    committed, and the same command run again completes the project without duplicates."""
    import subprocess
    import sys

    from tests.helpers import interrupt_push

    many = []
    for copy in range(100):  # 800 records: 80 batches of 10, seconds of work to interrupt
        ids = {r["record_id"]: f"{r['record_id']}-{copy}" for r in harbour_records}
        many += [r | {"record_id": ids[r["record_id"]], "doc_id": f"harbour-{copy}",
                      "parent_id": ids.get(r["parent_id"])} for r in harbour_records]
    records = write_records(many, tmp_path / "many.parquet")
    cmd = [sys.executable, "-m", "builder", "push", str(records), "--project", project_name]
    project, err = interrupt_push([*cmd, "--batch-size", "10"], studio_env, studio_client, project_name)
    assert "run the same push again to complete it" in err.strip().splitlines()[-1]
    done = studio_client.projects.get(id=project.id).task_number
    assert 0 < done < len(many)

    again = subprocess.run(cmd, env=os.environ | studio_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(many)} records, {done} already there, {len(many) - done} imported" in again.stderr
    ids = studio.project_record_ids(studio_client, project.id)
    assert len(ids) == len(set(ids)) == len(many)


def test_push_a_directory_of_shards(tmp_path, write_records, harbour_records, studio_client, project_name):
    """A records directory as `builder segment` writes it: a reply in one shard keeps the context of
    its parent comment in the other."""
    shards = tmp_path / "records"
    shards.mkdir()
    write_records(harbour_records[:4], shards / "part-00000.parquet")
    write_records(harbour_records[4:], shards / "part-00001.parquet")
    rep = studio.push(shards, project_name, client=studio_client, batch_size=3)
    assert (rep.imported, rep.batches) == (len(harbour_records), 3)
    data = {t["data"]["record_id"]: t["data"] for t in tasks_of(studio_client, rep.project_id)}
    reply = next(r for r in harbour_records if r["type"] == "reply")
    parent = next(r for r in harbour_records if r["record_id"] == reply["parent_id"])
    assert harbour_records.index(parent) < 4 <= harbour_records.index(reply)
    assert data[reply["record_id"]]["context"] == parent["text"]
    assert [data[r["record_id"]]["segmenter_type"] for r in harbour_records] == [r["type"] for r in harbour_records]


def test_an_annotator_password_may_start_with_a_dash(studio_server, studio_base):
    """Generated passwords start with "-" one time in 64 (token_urlsafe); the server's init must
    not read such a value as an option. The account's own token works afterwards."""
    acct = studio.add_annotator("dashpw", password="-starts-with-dash", base=studio_base)
    assert acct["password"] == "-starts-with-dash"
    me = studio.connect(studio_server.url, acct["token"]).users.whoami()
    assert me.email == acct["email"]
