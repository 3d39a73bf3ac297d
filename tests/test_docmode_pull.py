"""Document mode, pull: annotations made through the API on a page with emoji, other characters
outside the Basic Multilingual Plane and \\r\\n come back as per-annotator records at the right
Python offsets; offsets that do not hold their text are repaired or left out with a reason;
impossible threads are reported; agreement and gold."""

from __future__ import annotations

import hashlib
import json
import stat

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from builder import docmode, studio
from builder.cli import cli

# A page written for these tests in the markup of a blog with threaded comments, \r\n line ends
# throughout, emoji (astral, and one with a skin-tone modifier and a joiner), mathematical letters
# (astral, not emoji) in the article, and a BMP symbol or two.
LINES = [
    "Lighthouse Festival Draws Record Crowd 🎉",
    "",
    "The lighthouse festival at Porthkell drew a record crowd on Saturday, organisers said. 🌊 Visitors came from "
    "as far as the 𝔑𝔬𝔯𝔡𝔦𝔠 countries, and the brass band ☂ played in the rain.",
    "",
    "“It was the best year we have ever had,” said the festival director, Ines Carr. 👩🏽‍🚒 Firefighters ran the "
    "barbecue.",
    "",
    "Kai Brant says:",
    "June 2, 2024 at 8:01 pm",
    "",
    "Loved it 😍😍 the fireworks were amazing",
    "",
    "Reply",
    "",
    "    Lena O says:",
    "    June 2, 2024 at 9:15 pm",
    "",
    "    Agreed 👍 but the parking was a mess.",
    "",
    "    Reply",
    "",
    "Tom Hale says:",
    "June 3, 2024 at 7:40 am",
    "",
    "Next year bring more food stalls 🍔🍟 please",
    "",
    "More benches!",
    "",
    "Reply",
    "",
]
PAGE = "\r\n".join(LINES)
TITLE = LINES[0]


def span(first: str, last: str, start_at: int = 0) -> tuple[int, int]:
    s = PAGE.index(first, start_at)
    return s, PAGE.index(last, s) + len(last)


def utf16(i: int) -> int:
    """What a JavaScript string's length counts: UTF-16 code units (computed apart from docmode)."""
    return len(PAGE[:i].encode("utf-16-le")) // 2


ARTICLE = span("The lighthouse festival", "ran the barbecue.")
QUOTE = span("It was the best year", "ever had,")
KAI = span("Loved it", "were amazing")
LENA = span("Agreed 👍", "was a mess.")
TOM_SHORT = span("Next year bring", "food stalls")  # the segmenter cut Tom's comment before its emoji
TOM = span("Next year bring", "More benches!")  # two paragraphs


def segmenter_records() -> list[dict]:
    from builder.schema import SCHEMA_VERSION
    from builder.segment import record_id

    rows = [("article", ARTICLE, None, None, None), ("quote", QUOTE, 0, None, "Ines Carr"),
            ("comment", KAI, None, "Kai Brant", None), ("comment", LENA, None, "Lena O", None),  # should be a reply
            ("comment", TOM_SHORT, None, "Tom Hale", None)]
    out = []
    for kind, (s, e), parent, author, speaker in rows:
        out.append({
            "record_id": record_id("festival", s, e, kind == "quote"), "doc_id": "festival", "type": kind,
            "text": " ".join(PAGE[s:e].split()), "char_start": s, "char_end": e,
            "parent_id": out[parent]["record_id"] if parent is not None else None, "depth": 0, "position": 0,
            "author": author, "speaker": speaker, "speaker_resolved": speaker, "title": TITLE, "url": None,
            "domain": "porthkell.example", "encoding": "utf-8", "score": 0.8, "origin": "segmenter",
            "segmenter_version": "test-by-hand", "schema_version": SCHEMA_VERSION,
        })
    out.sort(key=lambda r: r["char_start"])
    for i, r in enumerate(out):
        r["position"] = i
    return out


def region(rid: str, s: int, e: int, label: str, who: str | None = None, *, at: tuple[int, int] | None = None,
           text: str | None = None) -> list[dict]:
    """A span region as Label Studio 1.23.2 sends it: offsets in code points (`at` overrides them)."""
    u = at or (s, e)
    value = {"start": u[0], "end": u[1], "text": PAGE[s:e] if text is None else text}
    out = [{"id": rid, "from_name": "span", "to_name": "text", "type": "labels", "origin": "manual",
            "value": value | {"labels": [label]}}]
    if who:
        out.append({"id": rid, "from_name": "who", "to_name": "text", "type": "textarea",
                    "value": value | {"text": [who]}})
    return out


def relation(a: str, b: str, direction: str = "right") -> dict:
    return {"from_id": a, "to_id": b, "type": "relation", "direction": direction, "labels": ["answers"]}


@pytest.fixture
def pushed(tmp_path, write_records, studio_env, studio_client, project_name):
    doc = tmp_path / "docs" / "festival.txt"
    doc.parent.mkdir()
    doc.write_bytes(PAGE.encode("utf-8"))  # bytes: \r\n kept as written
    path = write_records(segmenter_records(), tmp_path / "festival.parquet")
    rep = docmode.push(path, [doc], project_name, client=studio_client)
    assert rep.imported == 1
    (task,) = json.loads(studio.export_snapshot(studio_client, rep.project_id)[1])
    assert task["data"]["text"] == PAGE, "the server keeps \\r\\n and astral characters as given"
    return rep, task


def alice_result() -> list[dict]:
    """Alice's corrections: Lena's comment is a reply to Kai's, Tom's comment ends after its emoji,
    the quote's speaker is the full name; and three regions whose offsets do not hold their text."""
    return [
        *region("a1", *ARTICLE, "article", at=(utf16(ARTICLE[0]), utf16(ARTICLE[1]))),  # a client counting UTF-16
        *region("q1", *QUOTE, "quote", "the festival director, Ines Carr"),
        *region("k1", *KAI, "comment", "Kai Brant", at=(KAI[0] + 3, KAI[1] + 3)),  # 3 characters off
        *region("l1", LENA[0] - 4, LENA[1], "reply", "Lena O"),  # dragged over the indentation: trimmed
        *region("t1", *TOM, "comment", "Tom Hale"),
        *region("x1", *TOM, "comment", text="a text that is not on the page"),
        relation("l1", "k1"),
    ]


@pytest.mark.studio
def test_pull_returns_each_annotators_records_at_python_offsets(tmp_path, pushed, studio_server, annotators,
                                                                 project_name):
    rep, task = pushed
    alice = studio.connect(studio_server.url, annotators["alice"]["token"])
    alice.annotations.create(id=task["id"], result=alice_result(), lead_time=42.0)

    out = tmp_path / "LABELS"
    result = CliRunner().invoke(cli, ["pull", "--project", project_name, "--mode", "document", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "docmode.json").read_text())
    export = out / report["export_file"]
    assert hashlib.sha256(export.read_bytes()).hexdigest() == report["export_sha256"]
    assert not export.stat().st_mode & stat.S_IWUSR, "the raw export is kept read-only"

    rows = pq.read_table(out / "records.parquet").to_pylist()
    assert {r["annotator"] for r in rows} == {annotators["alice"]["email"]}
    got = {(r["type"], r["char_start"], r["char_end"]) for r in rows}
    assert got == {("article", *ARTICLE), ("quote", *QUOTE), ("comment", *KAI), ("reply", *LENA),
                   ("comment", *TOM)}
    by_span = {(r["char_start"], r["char_end"]): r for r in rows}
    for r in rows:
        assert r["text"] == " ".join(PAGE[r["char_start"]:r["char_end"]].split())
    assert "🍔🍟" in by_span[TOM]["text"], "the corrected boundary holds the emoji"
    kai, lena, quote = by_span[KAI], by_span[LENA], by_span[QUOTE]
    assert (lena["parent_id"], lena["depth"], lena["author"]) == (kai["record_id"], 1, "Lena O")
    assert (quote["parent_id"], quote["speaker"]) == (by_span[ARTICLE]["record_id"], "the festival director, Ines Carr")

    repaired = {r["region"]: r["repair"] for r in report["repaired"]}
    assert sorted(repaired) == ["a1", "k1"]
    assert "only as UTF-16 code units" in repaired["a1"] and "moved by -3" in repaired["k1"]
    (lost,) = report["left_out"]
    assert lost["region"] == "x1" and "nowhere in the document" in lost["reason"]
    assert report["regions"]["trimmed_whitespace"] == 1
    (doc,) = pq.read_table(out / "documents.parquet").to_pylist()
    assert (doc["status"], doc["gold_spans"], doc["disputed_spans"]) == ("single", 5, 0)
    gold = pq.read_table(out / docmode.GOLD_FILE).to_pylist()
    assert sorted((r["char_start"], r["char_end"]) for r in gold) == sorted(by_span)
    assert {r["origin"] for r in gold} == {"human"}


@pytest.mark.studio
def test_two_annotators_give_agreement_and_gold(tmp_path, pushed, studio_server, annotators, project_name):
    rep, task = pushed
    alice = studio.connect(studio_server.url, annotators["alice"]["token"])
    bob = studio.connect(studio_server.url, annotators["bob"]["token"])
    alice.annotations.create(id=task["id"], result=alice_result())
    # Bob keeps Tom's short boundary and types Lena's comment spam (answering Kai)
    bob.annotations.create(id=task["id"], result=[
        *region("a", *ARTICLE, "article"), *region("q", *QUOTE, "quote", "the festival director, Ines Carr"),
        *region("k", *KAI, "comment", "Kai Brant"), *region("l", *LENA, "spam", "Lena O"),
        *region("t", *TOM_SHORT, "comment", "Tom Hale"), relation("l", "k")])
    out = tmp_path / "LABELS"
    result = CliRunner().invoke(cli, ["pull", "--project", project_name, "--mode", "document", "--out", str(out)])
    assert result.exit_code == 0, result.output
    (doc,) = pq.read_table(out / "documents.parquet").to_pylist()
    # 5 spans each; exact: article, quote, Kai, Lena = 4 → F1 0.8; overlap also Tom (IoU 32/44 ≥ .5) → 1.0
    assert doc["status"] == "disputed" and doc["annotators"] == sorted(a["email"] for a in annotators.values())
    assert doc["span_f1_exact"] == pytest.approx(0.8)
    assert doc["span_f1_overlap"] == pytest.approx(1.0)
    assert doc["type_agreement"] == pytest.approx(4 / 5)
    assert doc["parent_agreement"] == pytest.approx(1.0)
    assert (doc["gold_spans"], doc["disputed_spans"]) == (3, 4)
    assert pq.read_table(out / docmode.GOLD_FILE).num_rows == 0, "a disputed document gives no gold records"
    report = json.loads((out / "docmode.json").read_text())
    assert report["status"]["disputed"] == 1 and report["human_gold_documents"] == []


# ------------------------------------------------------------------------------------ without a server


def judge(result: list[dict]):
    return docmode.judge_annotation("festival", PAGE, docmode.Offsets(PAGE), {"id": 7, "result": result}, "ann")


def base() -> list[dict]:
    return [*region("a", *ARTICLE, "article"), *region("q", *QUOTE, "quote"), *region("k", *KAI, "comment"),
            *region("l", *LENA, "reply"), *region("t", *TOM, "comment")]


def test_a_valid_annotation_gives_records():
    j = judge([*base(), relation("l", "k")])
    assert not j.problems and len(j.records) == 5
    assert [r["position"] for r in sorted(j.records, key=lambda r: r["char_start"])] == list(range(5))


@pytest.mark.parametrize("extra, reason", [
    ([], "the reply at .* points at nothing"),
    ([relation("l", "k"), relation("k", "l")], "a comment .* answers another record"),
    ([relation("l", "zz")], "points at nothing: no span zz"),
    ([relation("l", "k", "bi")], "points both ways"),
    ([relation("l", "a")], "answers a article"),
    ([relation("l", "k"), relation("l", "t")], "answers two records"),
])
def test_impossible_threads_are_reported(extra, reason):
    j = judge([*base(), *extra])
    assert j.records == [] and any(__import__("re").search(reason, p) for p in j.problems), j.problems


def test_a_reply_cycle_and_a_quote_outside_every_container_are_impossible():
    res = [*region("a", *ARTICLE, "article"), *region("k", *KAI, "reply"), *region("l", *LENA, "reply"),
           relation("k", "l"), relation("l", "k"), *region("q", *span("Kai Brant", "says:"), "quote")]
    j = judge(res)
    assert any(p.startswith("relation cycle") for p in j.problems)
    assert any("outside every article and comment" in p for p in j.problems)


def test_offsets_inside_a_surrogate_pair_are_repaired_from_the_text():
    s, e = span("Next year bring", "🍔🍟")
    j = judge([*base()[:-1], *region("t", s, e, "comment", at=(utf16(s), utf16(e) - 1)), relation("l", "k")])
    # UTF-16 offsets whose end falls between the halves of 🍟: no reading holds the text, which is
    # found at the nearest place, and said so
    assert not j.problems and [r["region"] for r in j.repairs] == ["t"]
    assert f"moved by {s - utf16(s):+d}" in j.repairs[0]["repair"]
    assert any((r["char_start"], r["char_end"]) == (s, e) for r in j.records)


def test_majority_gold_of_three_annotators():
    good = judge([*base(), relation("l", "k")]).records
    other = judge([*base()[:-1], *region("t", *TOM_SHORT, "comment"), relation("l", "k")]).records
    status, gold, disputed = docmode.gold("festival", {"x": good, "y": good, "z": other})
    assert status == "disputed"
    assert len(gold) == 5 and {(d["char_start"], d["char_end"]) for d in disputed} == {TOM_SHORT}
    assert all(g["agreement"] == pytest.approx(2 / 3) for g in gold if (g["char_start"], g["char_end"]) == TOM)
    status, gold, disputed = docmode.gold("festival", {"x": good, "y": good})
    assert (status, len(gold), disputed) == ("agreed", 5, [])


def test_only_each_annotators_latest_submitted_annotation_counts():
    def annotation(aid: int, who: str, updated: str, result: list, cancelled: bool = False) -> dict:
        return {"id": aid, "completed_by": {"email": who}, "updated_at": updated, "created_at": updated,
                "was_cancelled": cancelled, "result": result}

    good = [*base(), relation("l", "k")]
    older = [*base()[:-1], relation("l", "k")]  # without Tom's comment
    task = {"id": 1, "data": {"doc_id": "festival", "text": PAGE, "text_sha256": docmode.text_sha256(PAGE)},
            "annotations": [annotation(1, "x@a", "2024-01-01T00:00:00Z", older),
                            annotation(2, "x@a", "2024-01-02T00:00:00Z", good),
                            annotation(3, "y@a", "2024-01-03T00:00:00Z", good, cancelled=True)]}
    pulled = docmode.from_export([task])
    assert {r["annotation_id"] for r in pulled.records} == {2}
    assert pulled.report["annotations"] == {"kept": 1, "impossible": 0, "skipped_or_cancelled": 1, "superseded": 1,
                                            "drafts_not_submitted": 0}
    assert pulled.documents[0]["status"] == "single" and len(pulled.gold) == 5
    edited = task | {"data": task["data"] | {"text": PAGE + "!"}}
    with pytest.raises(docmode.DocModeError, match="does not match its text_sha256"):
        docmode.from_export([edited])


def test_a_selection_over_line_breaks_is_checked_in_label_studios_exported_form():
    """Label Studio 1.23.2 writes each line-break character of a selection's value.text as a
    backslash and an `n` (measured in tests/test_browser_docmode.py)."""
    s, e = TOM
    exported = PAGE[s:e].replace("\r", "\\n").replace("\n", "\\n")
    assert "\\n\\n\\n\\n" in exported and "\r" not in exported
    ok = judge([*base()[:-1], *region("t", s, e, "comment", text=exported), relation("l", "k")])
    assert not ok.problems and ok.repairs == [] and any((r["char_start"], r["char_end"]) == TOM for r in ok.records)
    off = judge([*base()[:-1], *region("t", s, e, "comment", at=(s - 5, e - 5), text=exported), relation("l", "k")])
    assert [r["region"] for r in off.repairs] == ["t"] and "moved by +5" in off.repairs[0]["repair"]
    assert any((r["char_start"], r["char_end"]) == TOM for r in off.records)


def test_labels_dir_must_be_new_or_an_earlier_document_pull(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(docmode.InputError, match="is not a document-mode LABELS directory"):
        docmode.check_out(tmp_path / "other")
    docmode.check_out(tmp_path / "new")
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / docmode.REPORT_FILE).write_text("{}")
    docmode.check_out(tmp_path / "earlier")


def test_streamed_pull_equals_the_in_memory_judgement(tmp_path, monkeypatch):
    """docmode.write sorts the export's documents on disk (runs of 20 KB here: one document a run)
    and judges them one by one; its files and report are those of the in-memory from_export."""
    from builder import spill
    from builder.run import storage_schema

    monkeypatch.setattr(spill, "RUN_BYTES", 20_000)

    def annotation(aid: int, who: str, result: list) -> dict:
        return {"id": aid, "completed_by": {"email": who}, "updated_at": "2024-01-01T00:00:00Z",
                "created_at": "2024-01-01T00:00:00Z", "was_cancelled": False, "result": result}

    good = [*base(), relation("l", "k")]
    short = [*base()[:-1], *region("t", *TOM_SHORT, "comment"), relation("l", "k")]
    tasks = []
    for i in range(40):  # agreed, disputed, single, impossible and unlabeled documents, in no doc_id order
        doc = f"page-{(i * 17) % 40:02d}"
        anns = [annotation(10 * i, "x@a", good), annotation(10 * i + 1, "y@a", short if i % 3 == 0 else good)]
        anns = anns[: i % 4] if i % 4 < 2 else anns
        if i % 7 == 0:
            anns.append(annotation(10 * i + 2, "z@a", [*base()]))  # Lena's reply answers nothing: impossible
        tasks.append({"id": i + 1, "data": {"doc_id": doc, "text": PAGE, "text_sha256": docmode.text_sha256(PAGE)},
                      "annotations": anns})
    tasks.append({"id": 99, "data": {"text": "no doc_id"}, "annotations": []})
    expected = docmode.from_export(tasks)
    assert {d["status"] for d in expected.documents} >= {"agreed", "disputed", "single", "unlabeled"}
    assert expected.report["annotations"]["impossible"] > 0

    path = tmp_path / "download.json"
    path.write_bytes(json.dumps(tasks).encode())
    rep = docmode.write(tmp_path / "L", export_file=path, snapshot_id=3, project="p", project_id=1)
    assert {k: v for k, v in rep.items() if k not in ("project", "snapshot_id", "export_file", "export_sha256")} \
        == expected.report
    out = tmp_path / "L"
    assert pq.read_table(out / "documents.parquet").to_pylist() == expected.documents
    assert pq.read_table(out / "gold.parquet").equals(docmode.gold_table(expected.gold, storage_schema()))
    in_order = sorted(expected.records, key=lambda r: (r["doc_id"], r["annotator"], r["position"]))
    assert pq.read_table(out / "records.parquet").to_pylist() == [
        {k: r.get(k) for k in docmode.ANNOTATOR_RECORDS_SCHEMA.names} for r in in_order]
    assert sorted(p.name for p in out.iterdir()) == ["docmode.json", "documents.parquet", "export-3.json",
                                                     "gold.parquet", "records.parquet"]

    tasks.append(tasks[0] | {"id": 100})
    path.write_bytes(json.dumps(tasks).encode())
    with pytest.raises(docmode.DocModeError, match="page-00' has 2 tasks"):
        docmode.write(tmp_path / "L2", export_file=path, snapshot_id=4, project="p", project_id=1)
    assert not (tmp_path / "L2").exists()
