"""Fixtures shared by the test files. The Label Studio ones start ONE real server for the whole
session (from the cached, set-up data dir: about 10 s; the first run on a machine also installs the
server's environment, about 2 minutes, and sets up the data dir, about a minute) and give each test
its own project."""

from __future__ import annotations

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


def write_records(records: list[dict], path: Path) -> Path:
    """Records as `builder segment` stores them: the record schema, `type` as its class index."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from builder.schema import TYPE_INDEX, arrow_schema

    rows = [r | {"type": TYPE_INDEX[r["type"]]} for r in records]
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), path)
    return path


@pytest.fixture(scope="session")
def harbour_records() -> list[dict]:
    from builder.document import Document
    from builder.segment import segment

    return segment(Document(doc_id="harbour", text=HARBOUR))


@pytest.fixture(scope="session")
def harbour_parquet(tmp_path_factory, harbour_records) -> Path:
    return write_records(harbour_records, tmp_path_factory.mktemp("records") / "harbour.parquet")


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


@pytest.fixture
def project_name(request) -> str:
    """A project title of this test's own (each test gets a new project)."""
    return "t-" + re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name.removeprefix("test_"))[:48]


@pytest.fixture(scope="session")
def annotators(studio_server, studio_base) -> dict[str, dict]:
    """Two annotator accounts made as `builder studio add-annotator` makes them: they log in
    through the web page and have their own tokens."""
    from builder import studio

    return {name: studio.add_annotator(name, base=studio_base) for name in ("alice", "bob")}
