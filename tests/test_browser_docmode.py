"""Document mode in a real browser (Debian's headless chromium through chromedriver) against the
real server, on a page with emoji, other characters outside the Basic Multilingual Plane and \\r\\n
before its comments: the highlighted regions show exactly each record's text; an annotator
relabels a region, draws a reply relation, deletes a region cut too short, selects the whole
comment in the page and types its author, then submits; `builder pull --mode document` returns those records at the
right Python offsets.

This is also where Label Studio 1.23.2's offset unit is measured (builder/docmode.py): the
segmenter's spans are pushed at Python offsets and must be highlighted on exactly their
characters, and the span selected in the page must come back at its Python offsets."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from builder import docmode, studio
from builder.cli import cli
from tests.test_docmode_pull import KAI, LENA, PAGE, TOM, TOM_SHORT, segmenter_records

pytestmark = [pytest.mark.studio, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

# Each region's text as the page shows it: every text node under an element of the region's
# highlight class (`htx-highlight-<region id>-<n>`), nested highlights included, in page order.
SHOWN_JS = """
const box = document.querySelector('.lsf-richtext__container');
if (!box) return null;
const out = {};
const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
let node;
while ((node = walker.nextNode())) {
  const ids = new Set();
  for (let el = node.parentElement; el && el !== box; el = el.parentElement) {
    for (const c of el.classList) { const m = c.match(/^htx-highlight-(.+)-\\d+$/); if (m) ids.add(m[1]); }
  }
  for (const id of ids) out[id] = (out[id] || '') + node.data;
}
return out;
"""

# What a mouse drag over `target` does: a DOM selection over its characters, then mouseup.
SELECT_JS = """
const box = document.querySelector('.lsf-richtext__container');
const target = arguments[0];
const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
const nodes = []; let node; let all = '';
while ((node = walker.nextNode())) { nodes.push([node, all.length]); all += node.data; }
const at = all.indexOf(target); const end = at + target.length;
if (at < 0) return null;
const find = (i, isEnd) => nodes.find(([n, o]) => isEnd ? (o < i && i <= o + n.data.length) : (o <= i && i < o + n.data.length));
const [sn, so] = find(at, false); const [en, eo] = find(end, true);
sn.parentElement.scrollIntoView({block: 'center'});
const range = document.createRange(); range.setStart(sn, at - so); range.setEnd(en, end - eo);
const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
const picked = sel.toString();  // the label tool takes the selection on mouseup (and clears it)
const rect = range.getBoundingClientRect();
en.parentElement.dispatchEvent(new MouseEvent('mouseup', {bubbles: true, clientX: rect.right, clientY: rect.bottom}));
return picked;
"""


@pytest.fixture
def browser(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (`make system-deps` installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.save_screenshot(str(tmp_path / "last-screen.png"))  # kept in pytest's tmp dir when a step fails
    driver.quit()


def test_annotator_corrects_a_page_in_the_browser(tmp_path, browser, write_records, studio_server, studio_env,
                                                  annotators, project_name):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "festival.txt").write_bytes(PAGE.encode("utf-8"))
    records = segmenter_records()
    client = studio.connect()
    rep = docmode.push(write_records(records, tmp_path / "festival.parquet"), [docs], project_name, client=client)
    (task,) = json.loads(studio.export_snapshot(client, rep.project_id)[1])
    alice = annotators["alice"]
    wait = WebDriverWait(browser, 90)

    browser.get(f"{studio_server.url}/user/login/")
    wait.until(lambda d: d.find_elements(By.NAME, "email"))
    browser.find_element(By.NAME, "email").send_keys(alice["email"])
    browser.find_element(By.NAME, "password").send_keys(alice["password"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "/user/login" not in d.current_url)
    browser.get(f"{studio_server.url}/projects/{rep.project_id}/data?task={task['id']}")
    wait.until(lambda d: len(d.execute_script(SHOWN_JS) or {}) == len(records))

    # every pre-annotated region shows exactly its record's characters (line breaks are <br>)
    shown = browser.execute_script(SHOWN_JS)
    for r in records:
        raw = PAGE[r["char_start"]:r["char_end"]]
        assert shown[r["record_id"]] == raw.replace("\r", "").replace("\n", ""), r["type"]
    assert "🎉" in PAGE[:records[0]["char_start"]] and "𝔑" in shown[records[0]["record_id"]]

    def outliner(text: str):
        return next(i for i in browser.find_elements(By.CSS_SELECTOR, ".lsf-outliner-item") if text in i.text)

    def label(name: str) -> None:
        next(x for x in browser.find_elements(By.CSS_SELECTOR, ".lsf-label") if x.text.split("\n")[0] == name).click()
        time.sleep(0.3)

    by_span = {(r["char_start"], r["char_end"]): r for r in records}
    lena, kai, tom_short = by_span[LENA], by_span[KAI], by_span[TOM_SHORT]

    # Lena's comment answers Kai's: relabel it reply, then draw the relation to Kai's comment
    outliner("Agreed").click()
    time.sleep(0.3)
    label("reply")
    ActionChains(browser).key_down(Keys.ALT).send_keys("r").key_up(Keys.ALT).perform()
    time.sleep(0.3)
    browser.find_element(By.CSS_SELECTOR, f'.lsf-richtext__container [class*="htx-highlight-{kai["record_id"]}-"]').click()
    time.sleep(0.3)

    # Tom's comment was cut before its emoji: delete the region, select the whole comment as a comment
    outliner("Next year").click()
    time.sleep(0.3)
    ActionChains(browser).send_keys(Keys.BACKSPACE).perform()
    time.sleep(0.3)
    assert not any("Next year" in i.text for i in browser.find_elements(By.CSS_SELECTOR, ".lsf-outliner-item"))
    label("comment")
    # over two paragraphs: the <br>s between them hold no text node
    selected = browser.execute_script(SELECT_JS, "Next year bring more food stalls 🍔🍟 pleaseMore benches!")
    assert selected.split() == "Next year bring more food stalls 🍔🍟 please More benches!".split()
    wait.until(lambda d: any("Next year" in i.text for i in d.find_elements(By.CSS_SELECTOR, ".lsf-outliner-item")))
    # the new region has no author yet: select it, and the `who` box under the page takes one
    outliner("Next year").click()
    who = wait.until(lambda d: [x for x in d.find_elements(By.CSS_SELECTOR, "input[type=text], textarea")
                                if x.is_displayed() and (x.get_attribute("placeholder") or "").startswith("e.g.")])
    who[0].send_keys("Tom Hale", Keys.ENTER)
    time.sleep(0.3)

    browser.find_element(By.CSS_SELECTOR, "button[data-testid=bottombar-submit-button]").click()
    deadline = time.monotonic() + 60
    while not client.annotations.list(id=task["id"]):
        assert time.monotonic() < deadline, "the submitted annotation did not reach the server"
        time.sleep(0.5)

    out = tmp_path / "LABELS"
    result = CliRunner().invoke(cli, ["pull", "--project", project_name, "--mode", "document", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "docmode.json").read_text())
    assert report["impossible"] == [] and report["left_out"] == []
    assert report["repaired"] == [], "the browser's offsets held their text: Label Studio counts code points"
    # Label Studio's own record of the selection: Python offsets, and a value.text in which each line-break
    # character is written as backslash + n (which is why pull compares in that form too)
    (annotation,) = json.loads((out / report["export_file"]).read_text())[0]["annotations"]
    (manual,) = [x["value"] for x in annotation["result"] if x.get("origin") == "manual" and x.get("from_name") == "span"]
    assert (manual["start"], manual["end"]) == TOM
    assert manual["text"] == PAGE[TOM[0]:TOM[1]].replace("\r", "\\n").replace("\n", "\\n")
    rows = {(r["char_start"], r["char_end"]): r for r in pq.read_table(out / "records.parquet").to_pylist()}
    assert {r["annotator"] for r in rows.values()} == {alice["email"]}
    assert TOM in rows and TOM_SHORT not in rows, "the boundary selected in the page, at Python offsets"
    assert rows[TOM]["type"] == "comment" and rows[TOM]["text"].endswith("🍔🍟 please More benches!")
    assert rows[TOM]["author"] == "Tom Hale", "typed in the region's `who` box"
    assert (rows[LENA]["type"], rows[LENA]["parent_id"], rows[LENA]["depth"]) == ("reply", rows[KAI]["record_id"], 1)
    assert len(rows) == len(records)
    (doc,) = pq.read_table(out / "documents.parquet").to_pylist()
    assert doc["status"] == "single"
    assert tom_short["record_id"] not in {r["record_id"] for r in rows.values()}
    assert lena["record_id"] == rows[LENA]["record_id"], "same span, same record id"
