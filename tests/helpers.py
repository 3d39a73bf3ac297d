"""Paths and invariants shared by several test files."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from builder.schema import TYPE_NAMES

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SHARED = REPO.parent / "shared"
SEED = SHARED / "seeds" / "000_9af9844975475935.txt"


def need_shared(path: Path) -> Path:
    """The ../shared material, or a skip that says why: it is not part of the project."""
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared is the workplace's material, not the project's)")
    return path


def check_invariants(raw: str, records: list[dict]) -> None:
    """What every record of every document must satisfy, whatever the markup."""
    ids = [r["record_id"] for r in records]
    assert len(ids) == len(set(ids)), "record_id must be unique within a document"
    by_id = {r["record_id"]: r for r in records}
    assert [r["position"] for r in records] == list(range(len(records)))
    for r in records:
        assert r["type"] in TYPE_NAMES
        s, e = r["char_start"], r["char_end"]
        assert 0 <= s < e <= len(raw), (r["type"], s, e)
        assert " ".join(raw[s:e].split()) == r["text"], f"offsets of {r['type']} do not hold its text"
        assert r["text"] and r["text"] == r["text"].strip()
        assert 0.0 <= r["score"] <= 1.0
        parent = by_id.get(r["parent_id"]) if r["parent_id"] else None
        if r["parent_id"] is not None:
            assert parent is not None, f"{r['type']} points at a record that is not there"
        if r["type"] == "quote":
            assert parent is not None and parent["type"] in {"article", "comment", "reply"}
            assert parent["char_start"] <= s and e <= parent["char_end"], "a quote lies inside its container"
            assert r["depth"] == parent["depth"] and r["author"] is None
        elif r["type"] in {"article", "comment"}:
            assert r["parent_id"] is None and r["depth"] == 0 and r["speaker"] is None
        elif r["type"] == "reply":
            assert parent is not None and parent["type"] in {"comment", "reply", "spam"}
            assert r["depth"] == parent["depth"] + 1
        elif r["type"] == "spam" and parent is not None:
            assert r["depth"] == parent["depth"] + 1
    blocks = sorted((r for r in records if r["type"] != "quote"), key=lambda r: r["char_start"])
    for a, b in zip(blocks, blocks[1:]):
        assert a["char_end"] <= b["char_start"], "article and comments do not overlap"


def interrupt_push(cmd: list[str], env: dict, client, project_name: str) -> tuple[object, str]:
    """Run a real `builder push` and send it SIGINT as soon as its project holds a task: an
    interruption in the middle of the import, as a person's Ctrl-C. Returns the project and stderr;
    the push must have exited 130 (interrupted), not finished or crashed."""
    from builder import studio

    proc = subprocess.Popen(cmd, env=os.environ | env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while (project := studio.find_project(client, project_name)) is None or not project.task_number:
        assert proc.poll() is None and time.monotonic() < deadline, "push ended before it could be interrupted"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    return project, err
