"""`builder studio start|status|add-annotator|stop` as a user runs them: separate processes, a state
directory of their own, the real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from builder.cli import cli

BUILDER = [sys.executable, "-m", "builder"]


def builder(*args, state: Path, timeout: float = 600):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env["BUILDER_STATE_DIR"] = str(state)
    return subprocess.run([*BUILDER, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", [["studio"], ["studio", "start"], ["studio", "stop"], ["studio", "status"],
                                     ["studio", "add-annotator"], ["push"], ["pull"]])
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.split("\n\n")[1].strip()) > 30


@pytest.mark.studio
def test_start_status_add_annotator_stop(tmp_path):
    state = tmp_path / "state"
    started = builder("studio", "start", state=state)
    assert started.returncode == 0, started.stderr
    assert "Label Studio runs at http://127.0.0.1:" in started.stdout
    try:
        status = builder("studio", "status", "--json", state=state)
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        assert set(info) >= {"url", "token", "data_dir", "pid"} and info["running"] is True
        assert info["url"] in started.stdout and info["token"] in started.stdout
        assert Path(info["data_dir"]).is_relative_to(state) and Path(info["data_dir"], "label_studio.sqlite3").exists()
        who = httpx.get(f"{info['url']}/api/current-user/whoami", headers={"Authorization": f"Token {info['token']}"})
        assert who.status_code == 200

        again = builder("studio", "start", state=state)  # already running: the same server, not a second one
        assert again.returncode == 0 and f"(pid {info['pid']})" in again.stdout

        added = builder("studio", "add-annotator", "erin", "--password", "erin-secret-42", state=state)
        assert added.returncode == 0, added.stderr
        token = next(line.split()[-1] for line in added.stdout.splitlines() if "API token" in line)
        me = httpx.get(f"{info['url']}/api/current-user/whoami", headers={"Authorization": f"Token {token}"})
        assert me.status_code == 200 and me.json()["email"] == "erin@builder.local"
        # the account logs in through the web page (the login form's CSRF cookie, then a POST)
        with httpx.Client(base_url=info["url"], follow_redirects=False) as web:
            web.get("/user/login/")
            login = web.post("/user/login/", data={"email": "erin@builder.local", "password": "erin-secret-42",
                                                   "csrfmiddlewaretoken": web.cookies["csrftoken"]},
                             headers={"Referer": f"{info['url']}/user/login/"})
            assert login.status_code == 302 and "/user/login" not in login.headers["location"]
            assert web.get("/api/current-user/whoami").json()["email"] == "erin@builder.local"

        dup = builder("studio", "add-annotator", "erin", state=state)
        assert dup.returncode != 0 and "exists already" in dup.stderr and len(dup.stderr.strip().splitlines()) == 1
    finally:
        stopped = builder("studio", "stop", state=state)
    assert stopped.returncode == 0 and "stopped Label Studio" in stopped.stdout
    assert not Path(f"/proc/{info['pid']}").exists() or b"label_studio" not in Path(
        f"/proc/{info['pid']}/cmdline").read_bytes()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{info['url']}/api/current-user/whoami", timeout=5)
    down = builder("studio", "status", state=state)
    assert down.returncode == 1 and "not running" in down.stdout
    assert json.loads(builder("studio", "status", "--json", state=state).stdout) == {"running": False}
    assert builder("studio", "stop", state=state).stdout.strip() == "Label Studio was not running"


def test_add_annotator_needs_a_running_server(tmp_path):
    result = builder("studio", "add-annotator", "frank", state=tmp_path / "state")
    assert result.returncode == 2
    assert result.stderr.strip() == ("builder: error: no Label Studio server runs for this state directory: "
                                     "run `builder studio start` first")
