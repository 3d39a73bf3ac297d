"""Records and LABELS directories written by hand for the release tests (no tests here).

A small made-up corpus: news pages, each an article with a quote, then comments and replies;
one spam text is pasted (with small variations) under several pages, as spam campaigns do, and
one page is a syndicated copy of another. The texts are written for these tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from builder.schema import SCHEMA_VERSION, TYPE_INDEX, arrow_fields, arrow_schema
from builder.schema import LABELS_SCHEMA

TOPICS = [
    ("harbour", "The city council voted on Tuesday to rebuild the old harbour wall before the winter storms arrive",
     "We cannot wait another season while the sea takes the promenade", "the mayor"),
    ("library", "A new public library opened in the northern district with a reading garden and late opening hours",
     "Children here finally have a quiet place to do their homework", "the head librarian"),
    ("trains", "Regional trains will run every fifteen minutes from March after the signalling upgrade was finished",
     "Passengers told us reliability matters more than speed", "a spokesperson for the operator"),
    ("orchard", "Farmers in the valley expect a record apple harvest after a mild spring and a wet early summer",
     "The trees have never carried this much fruit in my lifetime", "one grower"),
    ("bridge", "Engineers closed the river bridge for inspection after cracks were found in two supporting piers",
     "Safety comes first and the bridge stays shut until we are certain", "the chief engineer"),
    ("festival", "The summer music festival sold out in an hour as organisers announced a fourth stage by the lake",
     "We had to add a stage because the lineup simply outgrew the field", "the festival director"),
    ("school", "Parents packed the school hall to debate plans to merge two primary schools on one campus",
     "Nobody asked the families who walk their children there every morning", "a parent"),
    ("hospital", "The regional hospital will add a second emergency ward to cut waiting times during the winter",
     "Our staff have carried this load for years without enough beds", "the hospital director"),
    ("market", "The Saturday farmers market moves to the old tram depot while the main square is repaved",
     "It is a bigger space and we hope more stallholders will join us", "the market organiser"),
    ("park", "Volunteers planted four hundred trees in the riverside park over a single rainy weekend",
     "Every tree has a name tag from the family that planted it", "a volunteer coordinator"),
    ("stadium", "The football club unveiled plans for a new stand that would add eight thousand seats",
     "Our supporters deserve a ground that matches their loyalty", "the club chairman"),
    ("museum", "The maritime museum reopened after a two year renovation with a restored steam tug in its courtyard",
     "Visitors can now climb aboard and stand where the crew once worked", "the curator"),
]

COMMENTS = [
    "I walked past the site yesterday and honestly the work looks far from finished to me",
    "About time the council listened to the people who actually live in this part of town",
    "Who is going to pay for all of this when the budget is already stretched so thin",
    "My grandfather used to talk about this place every single summer when we visited him",
    "The article leaves out how long residents have been asking for exactly this change",
    "Great to see some positive local news for a change instead of the usual complaints",
]
REPLIES = [
    "You are right, although the second phase was delayed by the contractor for months",
    "The budget was approved last year so the money is already set aside for it",
    "Same here, my family has stories about it going back three generations at least",
]
SPAM = [
    "Make 95 dollars an hour from your kitchen table with weekly payouts, I bought a new car last month, see quickcash-example.invalid now",
    "Make 95 dollars an hour from your kitchen table with weekly pay-outs! I bought a new car last month, see quickcash-example.invalid now",
    "MAKE 95 DOLLARS AN HOUR from your kitchen table with weekly payouts. I bought a new car last month — see quickcash-example.invalid now!!",
]


def _rid(doc_id: str, start: int, end: int, quote: bool) -> str:
    return hashlib.blake2b(f"{doc_id}\x1f{start}\x1f{end}\x1f{'q' if quote else 'b'}".encode(), digest_size=8).hexdigest()


VOCAB = ("council harbour wall storm winter promenade library garden district train signal march farmer valley "
         "apple harvest spring summer engineer bridge river pier festival music stage lake parent school campus "
         "hospital ward nurse market square tram depot volunteer tree park football stand seat museum tug crew "
         "resident budget contractor delay money family street corner bakery bus route cyclist lane neighbour "
         "weekend morning evening rain wind sunshine road repair plan vote meeting hall debate report question "
         "answer story photo window roof chimney garden fence dog cat bird fish boat sail harbourmaster mayor "
         "teacher pupil lesson book shelf reader writer poem song dance play theatre cinema ticket queue price").split()


def sentence(rnd, n: int) -> str:
    return " ".join(rnd.choice(VOCAB) for _ in range(n)).capitalize()


def doc_records(doc_id: str, topic: int, *, n_comments: int = 3, spam: int | None = None, reply: bool = True,
                article_text: str | None = None) -> list[dict]:
    """The records of one page, with offsets into a page text laid out as the segmenter would see it.
    Texts other than the spam are drawn from a vocabulary with a per-page seed: no accidental
    near-duplicates between pages."""
    import random

    rnd = random.Random(doc_id)
    name, lead, quote, speaker = TOPICS[topic % len(TOPICS)]
    article = article_text or (f"{lead} and {sentence(rnd, 14).lower()}. \u201c{sentence(rnd, 12)},\u201d "
                               f"said {speaker}. {sentence(rnd, 12)}.")
    pieces = [("article", article, None, 0, None)]
    for i in range(n_comments):
        pieces.append(("comment", f"{sentence(rnd, 14)}, {COMMENTS[(topic + i) % len(COMMENTS)].split()[0].lower()}",
                       f"reader{(topic * 7 + i) % 11}", 0, None))
        if reply and i == 0:
            pieces.append(("reply", f"{' '.join(REPLIES[topic % len(REPLIES)].split()[:3])} {sentence(rnd, 12).lower()}",
                           f"neighbour{topic % 5}", 1, len(pieces) - 1))
    if spam is not None:
        pieces.append(("spam", SPAM[spam % len(SPAM)], "Jenny Cash", 0, None))
    common = {"doc_id": doc_id, "title": f"{name.title()} news", "url": f"https://news.example.invalid/{doc_id}",
              "domain": "news.example.invalid", "encoding": "utf-8", "origin": "segmenter",
              "segmenter_version": "0.1.0", "schema_version": SCHEMA_VERSION}
    out, offset = [], 0
    for kind, text, author, depth, parent in pieces:
        start, end = offset, offset + len(text)
        offset = end + 2
        rec = {"record_id": _rid(doc_id, start, end, False), "type": TYPE_INDEX[kind], "text": text,
               "char_start": start, "char_end": end, "parent_id": out[parent]["record_id"] if parent is not None else None,
               "depth": depth, "position": 0, "author": author, "speaker": None, "speaker_resolved": None,
               "score": 0.875, **common}
        out.append(rec)
        if kind == "article":
            q0 = text.index("\u201c") + 1
            q1 = text.index("\u201d") - 1
            out.append({**rec, "record_id": _rid(doc_id, q0, q1, True), "type": TYPE_INDEX["quote"],
                        "text": text[q0:q1], "char_start": q0, "char_end": q1, "parent_id": rec["record_id"],
                        "speaker": speaker, "speaker_resolved": speaker, "author": None, "score": 0.75})
    out.sort(key=lambda r: (r["char_start"], -r["char_end"]))
    for i, r in enumerate(out):
        r["position"] = i
    return out


def corpus(n_docs: int = 40, *, spam_every: int = 4) -> list[dict]:
    """n_docs pages; every `spam_every`-th carries the spam campaign; page 1 is a syndicated copy of page 0's article."""
    rows = []
    for d in range(n_docs):
        doc_id = f"page-{d:04d}"
        article = None
        if d == 1:
            article = doc_records("page-0000", 0)[0]["text"]  # the same story, syndicated
        rows += doc_records(doc_id, d, n_comments=1 + d % 4, spam=d // spam_every if d % spam_every == 0 else None,
                            article_text=article)
    return rows


def write_records(rows: list[dict], path: Path, *, shards: int = 1, reverse: bool = False) -> Path:
    """One Parquet file (shards=1, path ends in .parquet) or a directory of part files in scrambled order."""
    table = pa.Table.from_pylist(rows, schema=arrow_schema())
    path = Path(path)
    if shards == 1 and path.suffix == ".parquet":
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        return path
    path.mkdir(parents=True, exist_ok=True)
    idx = list(range(len(rows)))
    idx = idx[::-1] if reverse else idx[1::2] + idx[0::2]  # any order, not by document
    for s in range(shards):
        part = table.take(pa.array(idx[s::shards]))
        pq.write_table(part, path / f"part-{(shards - 1 - s) if reverse else s:05d}-engine.parquet")
    (path / "_SUCCESS").write_text("")
    return path


def labels_row(record_id: str, answers: list[tuple[str, str]]) -> dict:
    """One labels.parquet row aggregated as `builder pull` does: strict majority, agreement share."""
    from collections import Counter

    answers = sorted(answers)
    n = len(answers)
    if not n:
        return {"record_id": record_id, "annotator_labels": [], "label": None, "n_annotators": 0,
                "agreement": None, "label_status": "unlabeled"}
    top, count = Counter(lab for _, lab in answers).most_common(1)[0]
    majority = count * 2 > n
    status = "single" if n == 1 else ("agreed" if majority else "disputed")
    return {"record_id": record_id, "annotator_labels": [{"annotator": a, "label": lab} for a, lab in answers],
            "label": TYPE_INDEX[top] if majority else None, "n_annotators": n, "agreement": count / n,
            "label_status": status}


def write_labels(path: Path, rows: list[dict], *, snapshot_id: int = 7, alpha: float | None = 0.81) -> Path:
    """A LABELS directory with the exact layout `builder pull` writes."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([pa.field("record_id", pa.string(), nullable=False), *arrow_fields(LABELS_SCHEMA)])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path / "labels.parquet")
    export = json.dumps([{"id": i, "data": {"record_id": r["record_id"]}} for i, r in enumerate(rows)]).encode()
    (path / f"export-{snapshot_id}.json").write_bytes(export)
    ann = [{"record_id": r["record_id"], "annotator": a["annotator"], "label": a["label"]}
           for r in rows for a in r["annotator_labels"]]
    pq.write_table(pa.Table.from_pylist(ann, schema=pa.schema([("record_id", pa.string()), ("annotator", pa.string()),
                                                               ("label", pa.string())])),
                   path / "annotations.parquet")
    statuses = {}
    for r in rows:
        statuses[r["label_status"]] = statuses.get(r["label_status"], 0) + 1
    meta = {"project": {"name": "news-test", "id": 3}, "snapshot_id": snapshot_id,
            "export_file": f"export-{snapshot_id}.json", "export_sha256": hashlib.sha256(export).hexdigest(),
            "records": len(rows), "label_status": statuses, "krippendorff_alpha_nominal": alpha,
            "annotators": sorted({a["annotator"] for r in rows for a in r["annotator_labels"]})}
    (path / "labels.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path
