"""Fixtures shared by the test files. The Label Studio ones start ONE real server for the whole
session (from the cached, set-up data dir: about 10 s; the first run on a machine also installs the
server's environment, about 2 minutes, and sets up the data dir, about a minute) and give each test
its own project."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

# A page written for these tests in the markup of a blog with threaded comments: author lines with
# "says:" and a stamp, "Reply" controls, indentation for answers. One of each record type, and the
# hard cases: a reply that is spam, a quote inside a reply.
HARBOUR = """Harbour Town Votes to Keep Its Ferry Running Through Winter

The harbour council voted on Thursday to keep the island ferry running through the winter months, reversing a plan to suspend the service from November to March.

“We will not cut off the island for five months,” the council leader, Ruth Ambler, said after the vote. Fishermen had warned that the closure would ruin the winter catch.

The operator said the extra sailings would cost about 400,000 pounds a year. A spokesman added that fares “may have to rise a little” next spring.

Morwenna T says:
March 3, 2024 at 9:12 am

About time. My mother lives on the island and the winter closure would have left her stranded.

Reply

    harbourwatcher says:
    March 3, 2024 at 10:40 am

    Agreed, but who pays for it? The council said “fares may rise”, which means us.

    Reply

    Cheap-Flights-Deals says:
    March 3, 2024 at 11:02 am

    Earn $90 per hour from home!!! No experience n-e-e-d-e-d, check w-w-w dot easy-cash-now dot example for details!!! http://EasyCashNow/earn/hourly

    Reply

Ged Polglase says:
March 4, 2024 at 8:15 am

Sensible decision. The fishermen would have lost their whole winter season.

Reply
"""


def _write_records(records: list[dict], path: Path) -> Path:
    """Records as `builder segment` stores them: the record schema, `type` as its class index."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from builder.schema import TYPE_INDEX, arrow_schema

    rows = [r | {"type": TYPE_INDEX[r["type"]]} for r in records]
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), path)
    return path


# HARBOUR's records, written by hand (spans found by their text) so that the studio tests do not
# move with the segmenter's quality: (type, first words, last words, parent index, depth, author, speaker)
_HARBOUR_SPANS = [
    ("article", "The harbour council voted", "rise a little” next spring.", None, 0, None, None),
    ("quote", "We will not cut off", "for five months,", 0, 0, None, "Ruth Ambler"),
    ("quote", "may have to rise", "rise a little", 0, 0, None, "A spokesman"),
    ("comment", "About time.", "left her stranded.", None, 0, "Morwenna T", None),
    ("reply", "Agreed, but who pays", "which means us.", 3, 1, "harbourwatcher", None),
    ("quote", "fares may rise", "fares may rise", 4, 1, None, "The council"),
    ("spam", "Earn $90 per hour", "/earn/hourly", 3, 1, "Cheap-Flights-Deals", None),
    ("comment", "Sensible decision.", "winter season.", None, 0, "Ged Polglase", None),
]


def harbour_by_hand() -> list[dict]:
    import hashlib

    from builder.schema import SCHEMA_VERSION

    def record_id(start: int, end: int, quote: bool) -> str:
        return hashlib.blake2b(f"harbour:{start}:{end}:{quote}".encode(), digest_size=8).hexdigest()

    records, cursor = [], 0
    for kind, first, last, parent, depth, author, speaker in _HARBOUR_SPANS:
        start = HARBOUR.index(first, 0 if kind == "quote" else cursor)
        end = HARBOUR.index(last, start) + len(last)
        cursor = end if kind != "quote" else cursor
        records.append({
            "record_id": record_id(start, end, kind == "quote"), "doc_id": "harbour", "type": kind,
            "text": " ".join(HARBOUR[start:end].split()), "char_start": start, "char_end": end,
            "parent_id": records[parent]["record_id"] if parent is not None else None, "depth": depth,
            "position": len(records), "author": author, "speaker": speaker, "speaker_resolved": speaker,
            "title": "Harbour Town Votes to Keep Its Ferry Running Through Winter", "url": None, "domain": None,
            "encoding": "utf-8", "score": 0.5 + 0.05 * len(records), "origin": "segmenter",
            "segmenter_version": "test-by-hand", "schema_version": SCHEMA_VERSION,
        })
    return records


@pytest.fixture(scope="session")
def harbour_records() -> list[dict]:
    return harbour_by_hand()


@pytest.fixture(scope="session")
def write_records():
    """write_records(records, path): record dicts → a records Parquet file, as `builder segment` writes."""
    return _write_records


@pytest.fixture(scope="session")
def harbour_parquet(tmp_path_factory, harbour_records) -> Path:
    return _write_records(harbour_records, tmp_path_factory.mktemp("records") / "harbour.parquet")


@pytest.fixture(scope="session")
def studio_base(tmp_path_factory) -> Path:
    """The state directory of the session's server (what $BUILDER_STATE_DIR is for a user)."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def studio_server(studio_base):
    """The real Label Studio server on loopback, stopped (process group) when the session ends."""
    from builder import studio

    server = studio.start(studio_base)
    yield server
    studio.stop(studio_base)


@pytest.fixture(scope="session")
def studio_client(studio_server):
    from builder import studio

    return studio.connect(studio_server.url, studio_server.token)


@pytest.fixture
def studio_env(studio_server, monkeypatch) -> dict:
    """The SDK's variables pointing at the session's server, as a user of `builder push` sets them."""
    env = {"LABEL_STUDIO_URL": studio_server.url, "LABEL_STUDIO_API_KEY": studio_server.token}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


_PROJECTS = itertools.count(1)


@pytest.fixture
def project_name(request) -> str:
    """A project title of this test's own (each test gets a new project; the number keeps titles
    apart when two files have tests of the same name; Label Studio takes at most 50 characters)."""
    return f"t{next(_PROJECTS)}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name.removeprefix("test_"))[:44]


@pytest.fixture(scope="session")
def annotators(studio_server, studio_base) -> dict[str, dict]:
    """Two annotator accounts made as `builder studio add-annotator` makes them: they log in
    through the web page and have their own tokens."""
    from builder import studio

    return {name: studio.add_annotator(name, base=studio_base) for name in ("alice", "bob")}
