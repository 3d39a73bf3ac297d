"""Releases for the evaluator's tests, made by the real `builder.release.stage/seal` from records and
LABELS written here: generated news pages (an article with quotes, comments, replies and spam) whose
texts are drawn from a vocabulary per page (so the near-duplicate check keeps pages apart), with a
segmenter's `type` that is wrong now and then, and human labels of every status. The tests of this
file check that the fixture is what the evaluator needs: loadable by `datasets` with the class names,
splits disjoint by document, every label status present in test."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from builder import release
from builder.schema import SCHEMA_VERSION, TYPE_INDEX, arrow_schema
from tests.test_release_data import labels_row, write_labels

DOMAINS = ["daily-courier.example", "metro-ledger.example", "harbor-times.example", "valley-post.example"]
WORDS = ("council budget bridge school library transit harbour water rates park zoning tax housing rent clinic "
         "road repair ferry museum market police fire station election ballot mayor district ward plan vote "
         "meeting hearing report contract delay cost estimate project spring winter summer autumn morning night "
         "street corner river hill valley neighbour family parent teacher student worker driver farmer nurse "
         "garden tree lamp bench sidewalk crossing signal tram bus depot stop route ticket fare price hour week").split()
PEOPLE = ["the mayor", "Councillor Okafor", "Ms. Lindqvist", "the transit chief", "a spokesperson"]
AUTHORS = ["kestrel77", "Margo P.", "dave_from_eastside", "LocalVoter", "anon_reader", "Ruth Abernathy"]
COMMENT_CUES = ["I think", "Honestly", "In my opinion", "Great reporting, but", "Who pays for this?"]
REPLY_CUES = ["@{} you are wrong,", "@{} agreed,", "Not true,", "Exactly,", "Read it again:"]
SPAM_CUES = ["Earn $500 a day from home, visit http://cash-now.example/{}", "Cheap watches, click www.deals.example/{}",
             "I made 8000 dollars last month, message me on WhatsApp {}", "FREE gift cards at http://free.example/{}"]


def _words(r: random.Random, n: int) -> str:
    return " ".join(r.choice(WORDS) for _ in range(n))


def _text(r: random.Random, kind: str) -> str:
    if kind == "article":
        return ". ".join(_words(r, 12).capitalize() for _ in range(r.randint(3, 5))) + "."
    if kind == "quote":
        return f"\u201c{_words(r, 8).capitalize()},\u201d said {r.choice(PEOPLE)}."
    if kind == "comment":
        return f"{r.choice(COMMENT_CUES)} {_words(r, r.randint(6, 14))}."
    if kind == "reply":
        return f"{r.choice(REPLY_CUES).format(r.choice(AUTHORS))} {_words(r, r.randint(6, 12))}."
    return f"{r.choice(SPAM_CUES).format(r.randrange(10**6))} {_words(r, 6)}!!!"


def generate_records(n_docs: int, seed: int = 0, domains: bool = True) -> list[dict]:
    """Records of n_docs pages in the record schema (`type` as a class index); each also carries
    `_true`, the type a careful person gives it (`type` is the segmenter's guess, wrong now and then).
    Every tenth page is a human-gold page of document mode (origin human, `type` from people)."""
    r = random.Random(seed)
    out = []
    for d in range(n_docs):
        dom = DOMAINS[d % len(DOMAINS)] if domains else None
        doc_id = f"s{seed}-doc{d:04d}"
        common = {"doc_id": doc_id, "title": f"{_words(r, 5).title()}", "url": f"https://{dom}/n/{d}" if dom else None,
                  "domain": dom, "encoding": "utf-8", "origin": "segmenter", "segmenter_version": "0.1.0",
                  "schema_version": SCHEMA_VERSION}
        recs: list[dict] = []
        pos = 0

        def add(kind: str, parent: dict | None = None, depth: int = 0, author: str | None = None) -> dict:
            nonlocal pos
            text = _text(r, kind)
            rid = hashlib.blake2b(f"{doc_id}\x1f{len(recs)}".encode(), digest_size=8).hexdigest()  # as segment's
            rec = {"record_id": rid, "type": kind, "_true": kind, "text": text,
                   "char_start": pos, "char_end": pos + len(text),
                   "parent_id": parent["record_id"] if parent else None, "depth": depth, "position": len(recs),
                   "author": author, "speaker": r.choice(PEOPLE) if kind == "quote" else None,
                   "speaker_resolved": None, "score": 0.9, **common}
            rec["speaker_resolved"] = rec["speaker"]
            pos += len(text) + 2
            recs.append(rec)
            return rec

        art = add("article")
        for _ in range(r.randint(0, 2)):
            add("quote", art)
        for _ in range(r.randint(2, 5)):
            top = add("spam" if r.random() < 0.15 else "comment", author=r.choice(AUTHORS))
            for _ in range(r.randint(0, 2)):
                add("spam" if r.random() < 0.1 else "reply", top, 1, r.choice(AUTHORS))
        if d % 10 == 9:  # a human-gold page of document mode: annotators' records replace the segmenter's
            for rec in recs:
                rec.update(origin="human", type=TYPE_INDEX[rec["_true"]], segmenter_version="0.1.0")
            out.extend(recs)
            continue
        for rec in recs:
            guess = rec["_true"]
            if guess == "spam" and r.random() < 0.3:
                guess = "comment" if rec["depth"] == 0 else "reply"
            elif guess == "reply" and r.random() < 0.15:
                guess = "comment"
            elif guess == "comment" and r.random() < 0.05:
                guess = "spam"
            rec["type"] = TYPE_INDEX[guess]
        out.extend(recs)
    return out


def write_records(records: list[dict], path: Path) -> Path:
    rows = [{k: v for k, v in rec.items() if k != "_true"} for rec in records]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), path)
    return path


def human_labels(records: list[dict], seed: int = 0) -> list[dict]:
    """labels.parquet rows as `builder pull` aggregates them: ~10% unlabeled (no row), ~10% disputed,
    ~25% single, the rest agreed; people give the true type."""
    r = random.Random(seed + 1)
    rows = []
    for rec in records:
        roll, true = r.random(), rec["_true"]
        if roll < 0.1 or rec["origin"] == "human":  # document-mode records carry no record-mode labels
            continue
        if roll < 0.2:
            rows.append(labels_row(rec["record_id"], [("ann-a", true), ("ann-b", "comment" if true != "comment"
                                                                        else "reply")]))
        elif roll < 0.45:
            rows.append(labels_row(rec["record_id"], [("ann-a", true)]))
        else:
            rows.append(labels_row(rec["record_id"], [("ann-a", true), ("ann-b", true)]))
    return rows


RATIOS = (0.5, 0.25, 0.25)  # more documents in test and validation than the default: intervals mean something


def stage_release(root: Path, *, name: str = "news", version: str = "1.0.0", n_docs: int = 80, seed: int = 0,
                  labels: bool = True, domains: bool = True) -> release.Staged:
    root = Path(root)
    recs = generate_records(n_docs, seed, domains)
    records = write_records(recs, root / "inputs" / f"{name}-{version}" / "records.parquet")
    labels_dir = write_labels(root / "inputs" / f"{name}-{version}" / "labels", human_labels(recs, seed)) \
        if labels else None
    return release.stage(records, labels_dir, name=name, version=version, out=root / "releases", ratios=RATIOS)


def make_release(root: Path, *, benchmark: bool = False, **kw) -> Path:
    """A sealed release RELEASES/NAME/X.Y.Z; with benchmark=True its card carries the evaluator's
    table, computed on the staged data as `builder publish` does."""
    from builder.evaluate import benchmark_table

    staged = stage_release(root, **kw)
    try:
        rows = benchmark_table(staged.path, release_ref=f"releases/{staged.name}/{staged.version}") if benchmark else None
        return release.seal(staged, rows)
    finally:
        staged.discard()


# ------------------------------------------------------------------------ the fixture is a release


def test_fixture_is_a_release_the_evaluator_can_score(tmp_path):
    import datasets

    rel = make_release(tmp_path)
    ds = datasets.load_dataset(str(rel))  # through the card's configs, as a researcher loads it
    assert ds["train"].features["type"].names == ["article", "quote", "comment", "reply", "spam"]
    assert ds["test"].features["label"].names == ["article", "quote", "comment", "reply", "spam"]
    docs = {s: set(ds[s]["doc_id"]) for s in ds}
    assert not docs["train"] & docs["test"] and not docs["validation"] & docs["test"]
    assert set(ds["test"]["label_status"]) == {"agreed", "single", "disputed", "unlabeled"}
    assert len(set(ds["test"]["doc_id"])) >= 10 and len(set(ds["test"]["domain"])) == len(DOMAINS)
    segmenter, gold = ds["test"]["type"], ds["test"]["label"]
    assert any(g is not None and g != t for t, g in zip(segmenter, gold)), "the segmenter must be wrong sometimes"
