"""Label Studio, the real server: its lifecycle and the project's client side.

The only module that imports label_studio_sdk or starts the server.

Server. `label-studio==1.23.2` lives in its own virtual environment under the cache directory
($BUILDER_CACHE_DIR, default ~/.cache/builder), so its pins (pyarrow<25, an exact SDK) never touch
the project's environment. A fresh data directory takes about a minute to set up (migrations, the
admin account), so that is done once into a cached template, which every new state directory
($BUILDER_STATE_DIR, default ./.state) copies. The server runs on loopback in its own process
group, with a clean environment: it also reads unprefixed HOST, PORT, USERNAME and PASSWORD.

Client. `push` turns record rows into tasks with the segmenter's answer as a prediction, keyed by
record_id so that pushing again imports only what is missing; `export_snapshot` takes an export
snapshot and returns its raw bytes for labels.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO
from xml.etree import ElementTree

from builder.errors import BuilderError, InputError
from builder.schema import TYPE_NAMES, data_dir

LABEL_STUDIO_VERSION = "1.23.2"
ADMIN_EMAIL = "admin@builder.local"
ANNOTATOR_DOMAIN = "builder.local"  # `add-annotator alice` → alice@builder.local (Label Studio logs in by email)
CONFIG_FILE = "record_type.xml"
TYPE_CONTROL = "type"  # the <Choices> that holds the record type; other controls are flags and notes
OBJECT_NAME = "text"
BOUNDARY_CONTROL = "boundary"
FIRST_START_TIMEOUT = 600.0  # a fresh data dir migrates its database first: about 65 s here, more on a busy machine
RESTART_TIMEOUT = 180.0
CONTEXT_CHARS = 1500  # a reply's parent comment is cut here: enough to see what is answered
_SERVER_LINE = re.compile(r"Starting development server at (http://[^\s/]+:(\d+))/")


class StudioError(BuilderError):
    """The Label Studio server or project cannot be used as asked."""


# ---------------------------------------------------------------------------------------------
# Places


def cache_dir() -> Path:
    return Path(os.environ.get("BUILDER_CACHE_DIR") or Path.home() / ".cache" / "builder").expanduser()


def state_dir() -> Path:
    return Path(os.environ.get("BUILDER_STATE_DIR") or Path.cwd() / ".state").expanduser().resolve()


def _server_home() -> Path:
    return cache_dir() / f"label-studio-{LABEL_STUDIO_VERSION}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock across processes: two test sessions or a CLI call and a test may both be
    first to need the cached environment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_json_atomic(path: Path, obj, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# The server's environment and its cached, set-up data directory


def server_python(log: Callable[[str], None] = lambda s: None) -> Path:
    """The python of the server's own environment, installing label-studio into it on first use.
    The environment is built beside its final place and renamed into it, so an interrupted install
    leaves nothing that looks finished. It is always run as `python -m`, never through its
    scripts, whose first lines name the path they were installed at."""
    venv = _server_home() / "venv"
    python = venv / "bin" / "python"
    if (venv / ".builder-installed").exists():
        return python
    with _locked(_server_home() / "install.lock"):
        if (venv / ".builder-installed").exists():
            return python
        tmp = venv.with_name(f"venv.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"installing label-studio=={LABEL_STUDIO_VERSION} into {venv} (once; about 2 minutes)")
        pip_log = _server_home() / "install.log"
        try:
            with open(pip_log, "w") as out:
                subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True, stdout=out, stderr=out)
                subprocess.run(
                    [str(tmp / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                     f"label-studio=={LABEL_STUDIO_VERSION}"],
                    check=True, stdout=out, stderr=out,
                )
        except subprocess.CalledProcessError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StudioError(
                f"could not install label-studio=={LABEL_STUDIO_VERSION} (pip exited {e.returncode}); "
                f"see {pip_log}"
            ) from None
        (tmp / ".builder-installed").write_text(LABEL_STUDIO_VERSION + "\n")
        shutil.rmtree(venv, ignore_errors=True)
        os.replace(tmp, venv)
    return python


def _server_env(home: Path, admin: dict | None) -> dict[str, str]:
    """A clean environment: the server reads unprefixed HOST, PORT, USERNAME and PASSWORD too, so
    nothing of the caller's leaks in."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",  # the log line that names the port must reach the file at once
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    }
    if admin:
        env |= {
            "LABEL_STUDIO_USERNAME": admin["username"],
            "LABEL_STUDIO_PASSWORD": admin["password"],
            "LABEL_STUDIO_USER_TOKEN": admin["token"],
        }
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def template_data_dir(log: Callable[[str], None] = lambda s: None) -> Path:
    """A data directory whose database is migrated and whose admin exists, set up once per cache
    and copied for each state directory (a fresh one takes about a minute, a copy a second)."""
    tpl = _server_home() / "data-template"
    if (tpl / ".builder-ready").exists():
        return tpl
    python = server_python(log)
    with _locked(_server_home() / "template.lock"):
        if (tpl / ".builder-ready").exists():
            return tpl
        work = _server_home() / f"template.tmp-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        (work / "home").mkdir(parents=True)
        admin = {"username": ADMIN_EMAIL, "password": secrets.token_urlsafe(12), "token": secrets.token_hex(20)}
        log("setting up a Label Studio data directory (once; about a minute)")
        proc = _spawn(python, work / "data", work / "home", work / "server.log", admin)
        try:
            _wait_ready(proc, work / "server.log", admin["token"], FIRST_START_TIMEOUT)
        finally:
            _terminate(proc.pid)
        _write_json_atomic(work / "data" / "builder-admin.json", admin)
        (work / "data" / ".builder-ready").write_text(LABEL_STUDIO_VERSION + "\n")
        shutil.rmtree(tpl, ignore_errors=True)
        os.replace(work / "data", tpl)
        shutil.rmtree(work, ignore_errors=True)
    return tpl


def _spawn(python: Path, data: Path, home: Path, log_path: Path, admin: dict, port: int | None = None):
    port = port or _free_port()
    log_file = open(log_path, "ab")
    try:
        return subprocess.Popen(
            [str(python), "-m", "label_studio.server", "start", "--no-browser", "--internal-host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data), "--enable-legacy-api-token"],
            env=_server_env(home, admin), stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop ends the server and every child it made
            cwd=str(home),
        )
    finally:
        log_file.close()


def _log_tail(path: Path, n: int = 5) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])


def _wait_ready(proc, log_path: Path, token: str, timeout: float, offset: int = 0) -> str:
    """Wait for the log line naming the port (the server silently moves to port+1 when its port is
    taken), then for whoami to answer 200 with the token. Returns the URL."""
    import httpx

    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StudioError(f"the Label Studio server exited with {proc.returncode} while starting: "
                              f"{_log_tail(log_path)} (log: {log_path})")
        if url is None:
            m = _SERVER_LINE.search(log_path.read_text(errors="replace")[offset:])
            if m:
                url = m.group(1)
        if url is not None:
            try:
                r = httpx.get(f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {token}"},
                              timeout=5)
                if r.status_code == 200:
                    return url
                if r.status_code in (401, 403):
                    raise StudioError(f"the Label Studio server at {url} refused the admin token of this "
                                      f"data directory ({r.status_code}); remove {log_path.parent} to set it up anew")
            except httpx.TransportError:
                pass
        time.sleep(0.5)
    _terminate(proc.pid)
    raise StudioError(f"the Label Studio server was not ready after {timeout:.0f} s: {_log_tail(log_path)} "
                      f"(log: {log_path})")


def _is_server(pid: int, data: Path) -> bool:
    """True when pid is a Label Studio server on this data dir: a stale state file must never make
    us signal a process that merely got the same pid."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"label_studio.server" in cmd and str(data).encode() in cmd


def _terminate(pid: int, grace: float = 15.0) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever is left after the grace period."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@dataclass
class Server:
    url: str
    token: str
    username: str
    password: str
    data_dir: str
    pid: int
    log: str

    def public(self) -> dict:
        return {"url": self.url, "token": self.token, "data_dir": self.data_dir, "pid": self.pid}


def _studio_dir(base: Path | None) -> Path:
    return (base or state_dir()) / "studio"


def _read_state(sdir: Path) -> Server | None:
    try:
        return Server(**json.loads((sdir / "server.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def status(base: Path | None = None) -> Server | None:
    """The running server of this state directory, or None."""
    sdir = _studio_dir(base)
    srv = _read_state(sdir)
    if srv is None or not _is_server(srv.pid, Path(srv.data_dir)):
        return None
    return srv


def start(base: Path | None = None, log: Callable[[str], None] = lambda s: None) -> Server:
    """Start the server of this state directory (or return it when it runs already): install the
    environment and set up the data directory first if needed, wait until it answers."""
    sdir = _studio_dir(base)
    running = status(base)
    if running is not None:
        return running
    sdir.mkdir(parents=True, exist_ok=True)
    data = sdir / "data"
    with _locked(sdir / "start.lock"):
        running = status(base)
        if running is not None:
            return running
        python = server_python(log)
        if not (data / ".builder-ready").exists():
            tpl = template_data_dir(log)
            tmp = sdir / f"data.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(tpl, tmp)
            shutil.rmtree(data, ignore_errors=True)
            os.replace(tmp, data)
        admin = json.loads((data / "builder-admin.json").read_text())
        home = sdir / "home"
        home.mkdir(exist_ok=True)
        log_path = sdir / "server.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        proc = _spawn(python, data, home, log_path, admin)
        try:
            url = _wait_ready(proc, log_path, admin["token"], RESTART_TIMEOUT, offset)
        except BaseException:  # not ready, refused, or Ctrl-C: no server is left behind half-started
            _terminate(proc.pid)
            raise
        srv = Server(url=url, token=admin["token"], username=admin["username"], password=admin["password"],
                     data_dir=str(data), pid=proc.pid, log=str(log_path))
        _write_json_atomic(sdir / "server.json", asdict(srv))
        return srv


def stop(base: Path | None = None) -> Server | None:
    """Stop the server of this state directory; returns what was stopped, None when none ran."""
    sdir = _studio_dir(base)
    srv = _read_state(sdir)
    if srv is not None and _is_server(srv.pid, Path(srv.data_dir)):
        _terminate(srv.pid)
    else:
        srv = None
    with contextlib.suppress(FileNotFoundError):
        (sdir / "server.json").unlink()
    return srv


def add_annotator(name: str, password: str | None = None, base: Path | None = None) -> dict:
    """Create an annotator account that logs in through the web page and has its own API token.
    The server's own CLI does it (on the same data dir and environment): an account made through
    the API cannot log in. Returns email, password and token."""
    if not re.fullmatch(r"[A-Za-z0-9._+-]+(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})?", name):
        raise InputError(f"annotator name {name!r} is not usable: give a login name (letters, digits, . _ + -) "
                         f"or an e-mail address")
    srv = status(base)
    if srv is None:
        raise StudioError("no Label Studio server runs for this state directory: run `builder studio start` first")
    email = name if "@" in name else f"{name}@{ANNOTATOR_DOMAIN}"
    password = password or secrets.token_urlsafe(12)
    if len(password) < 8:
        raise InputError("the annotator's password must have at least 8 characters")
    client = connect(srv.url, srv.token)
    if any(u.email == email for u in client.users.list()):
        raise StudioError(f"an account {email} exists already on {srv.url}")
    token = secrets.token_hex(20)
    sdir = _studio_dir(base)
    proc = subprocess.run(
        [str(server_python()), "-m", "label_studio.server", "init", "--quiet", "--data-dir", srv.data_dir,
         # NAME=VALUE: a value that starts with "-" (token_urlsafe gives one in 64) is not read as an option
         f"--username={email}", f"--password={password}", f"--user-token={token}", "--enable-legacy-api-token"],
        env=_server_env(sdir / "home", None), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        cwd=str(sdir / "home"),
    )
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise StudioError(f"label-studio could not create {email}: {tail}")
    connect(srv.url, token)  # proves the new token works
    account = {"email": email, "password": password, "token": token}
    accounts_file = sdir / "annotators.json"
    accounts = json.loads(accounts_file.read_text()) if accounts_file.exists() else {}
    accounts[email] = account
    _write_json_atomic(accounts_file, accounts)
    return account


# ---------------------------------------------------------------------------------------------
# Client


def connect(url: str | None = None, token: str | None = None, base: Path | None = None):
    """A LabelStudio client that has been checked to reach the server with this token. URL and
    token: the arguments, else LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY (the SDK's names), else the
    running `builder studio` server of the state directory."""
    import httpx
    from label_studio_sdk import LabelStudio
    from label_studio_sdk.core.api_error import ApiError

    env_url, env_token = os.environ.get("LABEL_STUDIO_URL"), os.environ.get("LABEL_STUDIO_API_KEY")
    if url is None and token is None and bool(env_url) != bool(env_token):
        have, lack = ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY") if env_url else ("LABEL_STUDIO_API_KEY",
                                                                                  "LABEL_STUDIO_URL")
        raise StudioError(f"{have} is set but {lack} is not: set both for another server, or neither to use "
                          f"`builder studio start`'s")
    url = url or env_url
    token = token or env_token
    if not url or not token:
        srv = _read_state(_studio_dir(base))
        if srv is None:
            raise StudioError("no Label Studio server: run `builder studio start`, or set LABEL_STUDIO_URL and "
                              "LABEL_STUDIO_API_KEY")
        url, token = url or srv.url, token or srv.token
    url = url.rstrip("/")
    client = LabelStudio(base_url=url, api_key=token, timeout=300)
    try:
        client.users.whoami(request_options={"max_retries": 0})  # a server that is down: say so at once
    except httpx.TransportError:
        raise StudioError(f"Label Studio is not running at {url} (connection failed): start it with "
                          f"`builder studio start` or set LABEL_STUDIO_URL") from None
    except ApiError as e:
        if e.status_code in (401, 403):
            raise StudioError(f"Label Studio at {url} refused the API token ({e.status_code}): set "
                              f"LABEL_STUDIO_API_KEY to a valid token (Account & Settings → Legacy token)") from None
        raise StudioError(f"Label Studio at {url} answered {e.status_code} to whoami: is it a Label Studio "
                          f"server?") from None
    return client


def label_config() -> str:
    """The labeling config, checked against the schema before any use."""
    xml = data_dir("labels").joinpath(CONFIG_FILE).read_text(encoding="utf-8")
    check_label_config(xml)
    return xml


def config_choices(xml: str) -> dict[str, list[str]]:
    """Each <Choices> control's name → its choice values, in order."""
    root = ElementTree.fromstring(xml)
    return {c.get("name"): [ch.get("value") for ch in c.iter("Choice")] for c in root.iter("Choices")}


def config_variables(xml: str) -> set[str]:
    """The task data fields the config shows ($name in value attributes)."""
    root = ElementTree.fromstring(xml)
    return {v[1:] for el in root.iter() for k, v in el.attrib.items() if k == "value" and v.startswith("$")}


def check_label_config(xml: str) -> None:
    try:
        choices = config_choices(xml)
    except ElementTree.ParseError as e:
        raise StudioError(f"the labeling config is not valid XML: {e}") from None
    if choices.get(TYPE_CONTROL) != list(TYPE_NAMES):
        raise StudioError(f"the labeling config's `{TYPE_CONTROL}` choices {choices.get(TYPE_CONTROL)} differ from the "
                          f"schema's types {list(TYPE_NAMES)}")


def guidelines_html() -> str:
    """labels/GUIDELINES.md as HTML: Label Studio shows a project's instructions as HTML."""
    from markdown_it import MarkdownIt

    md = data_dir("labels").joinpath("GUIDELINES.md").read_text(encoding="utf-8")
    return MarkdownIt("commonmark").enable("table").render(md)


def find_project(client, name: str):
    """The project titled exactly `name`, or None. Titles are not unique in Label Studio: two
    projects with this title is an error, not a guess."""
    found = [p for p in client.projects.list(title=name) if p.title == name]
    if len(found) > 1:
        raise StudioError(f"{len(found)} projects are titled {name!r} (ids {', '.join(str(p.id) for p in found)}): "
                          f"rename all but one in Label Studio")
    return found[0] if found else None


def get_project(client, name: str):
    project = find_project(client, name)
    if project is None:
        names = sorted(p.title for p in client.projects.list())
        valid = ", ".join(names) if names else "none yet; `builder push` creates one"
        raise StudioError(f"no Label Studio project named {name!r}; projects there: {valid}")
    return project


# ---------------------------------------------------------------------------------------------
# Push


@dataclass
class PushReport:
    project: str
    project_id: int
    created: bool
    records: int
    already: int
    imported: int
    batches: int
    duplicates_in_project: list[str] = field(default_factory=list)


_TASK_COLUMNS = ["record_id", "doc_id", "type", "text", "parent_id", "position", "author", "speaker",
                 "speaker_resolved", "title", "score", "segmenter_version"]
_BATCH_ROWS = 4096


def _scan() -> dict:
    """Scanner options of push's reads: decode in the calling thread, two batches ahead, and do not
    pre-buffer (Arrow's default reads ahead the compressed column chunks of the whole file). With
    the defaults, checking and reading 1.16M records (200 MB of Parquet) peaked at 640 MB and
    grew with the file; with these, ~290 MB and flat."""
    import pyarrow.dataset as ds

    return {"batch_readahead": 2, "fragment_readahead": 1, "use_threads": False,
            "fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False)}


@dataclass
class RecordSource:
    """A records Parquet file or directory, checked where it enters and then read in batches: only
    the record_ids and doc_ids are ever held whole, so the input can be large."""
    path: Path
    dataset: object  # pyarrow.dataset.Dataset
    ids: object  # pyarrow.Array of every record_id
    type_is_index: bool
    grouped: bool = True  # each document's records are consecutive (as segment and publish write them)

    @property
    def num_rows(self) -> int:
        return len(self.ids)

    def _rows(self, batch) -> list[dict]:
        rows = batch.to_pylist()
        if self.type_is_index:
            for r in rows:
                r["type"] = TYPE_NAMES[r["type"]]
        return rows

    def batches(self, exclude=None) -> Iterator[list[dict]]:
        """Rows as dicts with `type` as its name, in file order, skipping record_ids in `exclude`
        (a pyarrow array)."""
        import pyarrow.dataset as ds

        flt = None if exclude is None or len(exclude) == 0 else ~ds.field("record_id").isin(exclude)
        for batch in self.dataset.to_batches(columns=_TASK_COLUMNS, filter=flt, batch_size=_BATCH_ROWS,
                                             **_scan()):  # one thread: file order is kept too
            yield self._rows(batch)

    def documents(self, exclude=None) -> Iterator[tuple[list[dict], list[bool]]]:
        """For grouped records: (a document's rows, whether each is in `exclude`), document by
        document in file order. Every row is read, excluded or not: a record already in the project
        is still the context of a new record that answers it."""
        import pyarrow.compute as pc

        skips = (None if exclude is None or len(exclude) == 0  # one look-up over all ids, in file order
                 else pc.is_in(self.ids, value_set=exclude.cast(self.ids.type)).to_numpy(zero_copy_only=False))
        doc: list[dict] = []
        skip: list[bool] = []
        at = 0
        for batch in self.dataset.to_batches(columns=_TASK_COLUMNS, batch_size=_BATCH_ROWS, **_scan()):
            known = [False] * batch.num_rows if skips is None else skips[at:at + batch.num_rows].tolist()
            at += batch.num_rows
            for row, k in zip(self._rows(batch), known):
                if doc and row["doc_id"] != doc[0]["doc_id"]:
                    yield doc, skip
                    doc, skip = [], []
                doc.append(row)
                skip.append(k)
        if doc:
            yield doc, skip

    def parents(self) -> dict[str, dict]:
        """record_id → {text, author, type} of every record that some record names as its parent."""
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        wanted = pc.unique(self.dataset.to_table(columns=["parent_id"]).column("parent_id").drop_null())
        if len(wanted) == 0:
            return {}
        table = self.dataset.to_table(columns=["record_id", "text", "author", "type"],
                                      filter=ds.field("record_id").isin(wanted))
        return {r["record_id"]: r for r in self._rows(table)}


def read_records(path: str | Path) -> RecordSource:
    """Open a records Parquet file or directory and check it in one streaming pass: the columns push
    needs, no missing record_id/doc_id/type/text/score, type names or class indices of the schema,
    each record_id once."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    path = Path(path)
    if not path.exists():
        raise InputError(f"records path {path} does not exist: give a records Parquet file or a directory of "
                         f"them")
    try:
        dataset = ds.dataset(path, format="parquet")
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{path} is not readable as Parquet records ({e}): give the output of "
                         f"`builder segment`") from None
    missing = [c for c in _TASK_COLUMNS if c not in dataset.schema.names]
    if missing:
        raise InputError(f"{path} lacks the record columns {', '.join(missing)}: give records written under "
                         f"schemas/record.v1.json")
    type_is_index = pa.types.is_integer(dataset.schema.field("type").type)
    checked = ["record_id", "doc_id", "type", "text", "score"]
    nulls = dict.fromkeys(checked, 0)
    ids, docs = [], []
    try:
        for batch in dataset.to_batches(columns=checked, batch_size=_BATCH_ROWS, **_scan()):
            for name in checked:
                nulls[name] += batch.column(name).null_count
            kinds = batch.column("type")
            if type_is_index:
                bad = pc.or_(pc.less(kinds, 0), pc.greater_equal(kinds, len(TYPE_NAMES)))
                if pc.any(bad).as_py():
                    raise InputError(f"{path}: a record's type index is outside 0..{len(TYPE_NAMES) - 1} "
                                     f"({', '.join(TYPE_NAMES)})")
            else:
                unknown = set(pc.unique(kinds.drop_null()).to_pylist()) - set(TYPE_NAMES)
                if unknown:
                    raise InputError(f"{path}: unknown record types {sorted(map(str, unknown))}; valid: "
                                     f"{', '.join(TYPE_NAMES)}")
            ids.append(batch.column("record_id"))
            docs.append(batch.column("doc_id"))
    except pa.ArrowInvalid as e:
        raise InputError(f"{path} is not readable as Parquet records ({e}): give the output of "
                         f"`builder segment`") from None
    for name, n in nulls.items():
        if n:
            raise InputError(f"{path}: {n} records have no {name}; every record has one (schemas/record.v1.json)")
    # whole columns as large_string: 32-bit string offsets overflow past 2 GiB of ids (~100M records)
    ids = pa.chunked_array(ids, type=dataset.schema.field("record_id").type).cast(pa.large_string()).combine_chunks()
    in_order = ids.take(pc.sort_indices(ids))
    if _runs(in_order) != len(ids):
        dup = in_order[pc.index(pc.equal(in_order[1:], in_order[:-1]), True).as_py()].as_py()
        raise InputError(f"{path}: record_id {dup} occurs more than once; a record file holds each record once")
    docs = pa.chunked_array(docs, type=dataset.schema.field("doc_id").type).cast(pa.large_string()).combine_chunks()
    grouped = _runs(docs) == _runs(docs.take(pc.sort_indices(docs)))
    return RecordSource(path=path, dataset=dataset, ids=ids, type_is_index=type_is_index, grouped=grouped)


def _runs(values) -> int:
    """How many runs of equal values an Arrow array has (its distinct values, when sorted). Sorting
    costs a few bytes a row; a hash count (count_distinct) cost ~300 MB at a million record ids."""
    import pyarrow.compute as pc

    return 0 if len(values) == 0 else 1 + (pc.sum(pc.not_equal(values[1:], values[:-1])).as_py() or 0)


_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)]*\s")


def _sentence_around(container: str, quote: str) -> str:
    """The sentence(s) of the container that hold the quote, with the attribution around it."""
    at = container.find(quote)
    if at < 0:
        return container[:CONTEXT_CHARS]
    lo = max(0, at - 400)
    starts = [m.end() for m in _SENTENCE_END.finditer(container, lo, at)]
    start = starts[-1] if starts else lo
    m = _SENTENCE_END.search(container, at + len(quote))
    end = m.end() if m and m.end() - (at + len(quote)) <= 400 else min(len(container), at + len(quote) + 400)
    return ("…" if start > 0 else "") + container[start:end].strip() + ("…" if end < len(container) else "")


def _context(rec: dict, parents: dict[str, dict]) -> tuple[str, str]:
    """What the annotator needs beside the text to decide: (label line, context text)."""
    kind, parent = rec["type"], parents.get(rec["parent_id"]) if rec["parent_id"] else None
    if kind == "quote":
        speaker = rec["speaker_resolved"] or rec["speaker"]
        if rec["speaker"] and rec["speaker_resolved"] and rec["speaker_resolved"] != rec["speaker"]:
            speaker = f"{rec['speaker']} (= {rec['speaker_resolved']})"
        label = f"Quoted words; speaker: {speaker or 'none found'}. The sentence around them:"
        if parent is None:
            return label, "(the record that contains the quote was not pushed)"
        return label, _sentence_around(parent["text"], rec["text"])
    if rec["parent_id"]:
        if parent is None:
            return "Answers a comment that was not pushed", "(parent record not pushed)"
        who = parent["author"] or "no author line"
        by = f" by {rec['author']}" if rec["author"] else " (no author line)"
        text = parent["text"]
        if len(text) > CONTEXT_CHARS:
            text = text[:CONTEXT_CHARS] + "…"
        return f"Comment{by}, answering this comment by {who}:", text
    if kind in ("comment", "spam"):
        author = rec["author"]
        return ("Reader comment under the article", f"Author line: {author}" if author
                else "No author line on the page.")
    return "Text of the page", "(article text: no context)"


def record_tasks(source: RecordSource, exclude=None, parents: dict[str, dict] | None = None) -> Iterator[dict]:
    """The Label Studio task of each record (record_ids in `exclude` skipped), in file order: the
    data the labeling config shows plus the segmenter's answer as a prediction. A record's context
    is its parent, which is a record of the same document: when each document's records are
    consecutive (builder's own outputs), the parents come from the document at hand and memory holds
    one document; otherwise every parent's text is looked up first and held for the whole push."""
    if parents is None and source.grouped:
        lookup = _DocParents(source)
        for doc, skip in source.documents(exclude):
            lookup.doc = {r["record_id"]: r for r in doc}
            for rec, known in zip(doc, skip):
                if not known:
                    yield _task(rec, lookup)
        return
    parents = source.parents() if parents is None else parents
    for rows in source.batches(exclude):
        for rec in rows:
            yield _task(rec, parents)


class _DocParents:
    """Parents by record_id from the document at hand (`doc`); one that is not there (a file that
    pushes a subset, or not builder's own) is looked up among all the file's parents, loaded once."""

    def __init__(self, source: RecordSource) -> None:
        self.source = source
        self.doc: dict[str, dict] = {}
        self.everywhere: dict[str, dict] | None = None

    def get(self, record_id: str) -> dict | None:
        found = self.doc.get(record_id)
        if found is None:
            if self.everywhere is None:
                self.everywhere = self.source.parents()
            found = self.everywhere.get(record_id)
        return found


def _task(rec: dict, parents: dict[str, dict] | _DocParents) -> dict:
    label, context = _context(rec, parents)
    return {
        "data": {
            "record_id": rec["record_id"],
            "doc_id": rec["doc_id"],
            "position": rec["position"],
            "title": rec["title"] or "(no title)",
            "context_label": label,
            "context": context,
            "text": rec["text"],
            "author": rec["author"],
            "speaker": rec["speaker"],
            "segmenter_type": rec["type"],
        },
        "predictions": [{
            "model_version": rec["segmenter_version"],
            "score": float(rec["score"]),
            "result": [{"from_name": TYPE_CONTROL, "to_name": OBJECT_NAME, "type": "choices",
                        "value": {"choices": [rec["type"]]}}],
        }],
    }


def project_record_ids(client, project_id: int) -> list[str]:
    """record_id of every task in the project. Asks the task list for ids and data only, in large
    pages: 10,000 tasks take about 12 s this way, 22 s through an export snapshot and over a minute
    with the full task list. Tasks without a record_id were not made by push and are left out."""
    ids = []
    for task in client.tasks.list(project=project_id, fields="task_only", include="id,data", page_size=5000):
        data = task.data if isinstance(task.data, dict) else {}
        if isinstance(data.get("record_id"), str) and data["record_id"]:
            ids.append(data["record_id"])
    return ids


def require_record_project(client, project, advice: str):
    """The project in full, when its config labels the record type with the schema's types (a
    document-mode project, or one made by hand with other choices, is refused with `advice`)."""
    full = client.projects.get(id=project.id)
    if config_choices(full.label_config or "<View/>").get(TYPE_CONTROL) != list(TYPE_NAMES):
        raise StudioError(f"project {project.title!r} (id {project.id}) is not a record type project: its config has "
                          f"no `{TYPE_CONTROL}` choices equal to the schema's types {list(TYPE_NAMES)}; {advice}")
    return full


def ensure_project(client, name: str, overlap: int = 2):
    """(project, created): the project titled `name`, made with the record type config and the
    guidelines as instructions when missing; an existing one must label the schema's types.
    `overlap`: how many annotators the labeling queue gives each task (agreement needs two)."""
    project = find_project(client, name)
    if project is not None:
        return require_record_project(client, project, "push to a new project name"), False
    if not 3 <= len(name) <= 50:
        raise InputError(f"project name {name!r} has {len(name)} characters: Label Studio takes titles of 3 to 50")
    project = client.projects.create(
        title=name,
        description="Record type review: one task per record, pre-annotated by the segmenter.",
        label_config=label_config(),
        expert_instruction=guidelines_html(),
        show_instruction=True,
        show_skip_button=True,
        enable_empty_annotation=False,
        maximum_annotations=overlap,  # the queue serves a task until this many annotators answered it
        overlap_cohort_percentage=100,  # ... for every task: agreement and alpha are measured on all of them
    )
    return project, True


def push(records: str | Path, project: str, *, client=None, batch_size: int = 500, overlap: int = 2,
         on_plan: Callable[[int, int], None] | None = None,
         on_batch: Callable[[int], None] | None = None) -> PushReport:
    """Import the records as tasks of `project`, with the segmenter's type as prediction. Tasks are
    keyed by record_id: what the project holds already is skipped, so pushing again adds only new
    records and an interrupted push completes when run again. Each batch is one import request
    (Label Studio commits it as a whole). `on_plan(records, to_import)` is called once the project
    has been asked what it holds; `on_batch(n)` after each committed batch with its size.

    Two pushes to one project at the same time can both import a record: push one at a time."""
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, not {batch_size}")
    if overlap < 1:
        raise InputError(f"overlap must be at least 1 annotator per task, not {overlap}")
    source = read_records(records)
    client = client or connect()
    proj, created = ensure_project(client, project, overlap)
    existing: set[str] = set()
    duplicates: list[str] = []
    if not created and (proj.task_number or 0) > 0:
        ids = project_record_ids(client, proj.id)
        existing = set(ids)
        if len(existing) != len(ids):
            seen: set[str] = set()
            duplicates = sorted({i for i in ids if i in seen or seen.add(i)})
    import pyarrow as pa
    import pyarrow.compute as pc

    known = pa.array(sorted(existing), type=source.ids.type)
    already = pc.sum(pc.is_in(source.ids, value_set=known)).as_py() or 0
    n_new = source.num_rows - already
    if on_plan:
        on_plan(source.num_rows, n_new)
    batches = 0
    batch: list[dict] = []
    for task in record_tasks(source, exclude=known):
        batch.append(task)
        if len(batch) == batch_size:
            _import(client, proj.id, batch)
            batches += 1
            if on_batch:
                on_batch(len(batch))
            batch = []
    if batch:
        _import(client, proj.id, batch)
        batches += 1
        if on_batch:
            on_batch(len(batch))
    return PushReport(project=project, project_id=proj.id, created=created, records=source.num_rows,
                      already=already, imported=n_new, batches=batches, duplicates_in_project=duplicates)


def _import(client, project_id: int, tasks: list[dict]) -> None:
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        r = client.projects.import_tasks(id=project_id, request=tasks, commit_to_project=True)
    except ApiError as e:
        raise StudioError(f"Label Studio refused an import batch of {len(tasks)} tasks ({e.status_code}): "
                          f"{str(e.body)[:300]}") from None
    except httpx.TransportError as e:  # the server went away: the batch is in whole or not at all
        raise StudioError(f"the connection to Label Studio broke during an import batch of {len(tasks)} tasks "
                          f"({type(e).__name__}): run the push again; it imports only what is missing") from None
    if r.task_count is not None and r.task_count != len(tasks):
        raise StudioError(f"Label Studio imported {r.task_count} of a batch of {len(tasks)} tasks: run the push again")


# ---------------------------------------------------------------------------------------------
# Export snapshots


def export_snapshot(client, project_id: int, *, with_users: bool = True, timeout: float = 600.0) -> tuple[int, bytes]:
    """export_snapshot_to, kept in memory: (snapshot id, the raw JSON bytes as downloaded)."""
    buffer = io.BytesIO()
    snapshot_id = export_snapshot_to(client, project_id, buffer, with_users=with_users, timeout=timeout)
    return snapshot_id, buffer.getvalue()


def export_snapshot_to(client, project_id: int, out: BinaryIO, *, with_users: bool = True,
                       timeout: float = 600.0) -> int:
    """Take an export snapshot of every task (labeled or not) with annotators' e-mails, wait for it,
    and write the raw JSON, as downloaded, into `out` chunk by chunk (a large project's export is
    never held whole). Returns the snapshot id. Predictions come as ids: serializing them in full
    makes a 10,000-task snapshot take 35 s instead of 24, and the segmenter's type is in each task's
    data (`segmenter_type`, written by push with the prediction)."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    options = {"annotations__completed_by": {"only_id": not with_users}, "predictions": {"only_id": True}}
    try:
        snap = client.projects.exports.create(id=project_id, title="builder pull", serialization_options=options,
                                              task_filter_options={"only_with_annotations": False})
        deadline = time.monotonic() + timeout
        while snap.status not in ("completed", "failed"):
            if time.monotonic() > deadline:
                raise StudioError(f"export snapshot {snap.id} of project {project_id} did not finish in "
                                  f"{timeout:.0f} s (status {snap.status})")
            time.sleep(0.2)
            snap = client.projects.exports.get(id=project_id, export_pk=snap.id)
        if snap.status == "failed":
            raise StudioError(f"Label Studio failed to make export snapshot {snap.id} of project {project_id}")
        for chunk in client.projects.exports.download(id=project_id, export_pk=snap.id, export_type="JSON",
                                                      request_options={"chunk_size": 1 << 20}):
            out.write(chunk)
    except ApiError as e:
        raise StudioError(f"Label Studio refused the export of project {project_id} ({e.status_code}): "
                          f"{str(e.body)[:300]}") from None
    except httpx.TransportError as e:  # the server went away mid-way: most likely in a large project's download
        raise StudioError(f"the connection to Label Studio failed while exporting project {project_id} "
                          f"({' '.join(f'{type(e).__name__}: {e}'.split())}): run pull again") from None
    return snap.id


def annotate(client, task_id: int, label: str | None, *, cancelled: bool = False, lead_time: float | None = None,
             extra: Iterable[dict] = ()):
    """Submit an annotation as the client's user (what an annotator's Submit or Skip does)."""
    result = [] if label is None else [{"from_name": TYPE_CONTROL, "to_name": OBJECT_NAME, "type": "choices",
                                        "value": {"choices": [label]}}]
    return client.annotations.create(id=task_id, result=[*result, *extra], was_cancelled=cancelled,
                                     lead_time=lead_time)


# ---------------------------------------------------------------------------------------------
# Document mode (builder/docmode.py builds the tasks and judges the export; these are its calls
# to the server)


def ensure_document_project(client, name: str, config: str, check: Callable[[str], None]):
    """(project, created): the project titled `name` with the document-mode config and the
    guidelines as instructions, made when missing; an existing one must pass `check` on its config
    (a record-mode project is refused, not relabeled)."""
    project = find_project(client, name)
    if project is not None:
        full = client.projects.get(id=project.id)
        try:
            check(full.label_config or "<View/>")
        except BuilderError as e:
            raise StudioError(f"project {name!r} (id {project.id}) is not a document-mode project ({e}): push to a "
                              f"new project name") from None
        return full, False
    if not 3 <= len(name) <= 50:
        raise InputError(f"project name {name!r} has {len(name)} characters: Label Studio takes titles of 3 to 50")
    project = client.projects.create(
        title=name,
        description="Document mode: correct the segmenter's spans, types, reply threads and speakers on the whole page.",
        label_config=config,
        expert_instruction=guidelines_html(),
        show_instruction=True,
        show_skip_button=True,
        enable_empty_annotation=False,
        maximum_annotations=1000,  # several annotators per document: agreement and gold need overlap
    )
    return project, True


def project_task_data(client, project_id: int) -> list[dict]:
    """The data of every task of the project, without annotations or predictions."""
    return [task.data if isinstance(task.data, dict) else {}
            for task in client.tasks.list(project=project_id, fields="task_only", include="id,data", page_size=1000)]


def import_tasks(client, project_id: int, tasks: list[dict]) -> None:
    """One import request, committed whole by Label Studio."""
    _import(client, project_id, tasks)


def project_label_config(client, project_id: int) -> str:
    """The project's labeling config as the server holds it."""
    return client.projects.get(id=project_id).label_config or "<View/>"
