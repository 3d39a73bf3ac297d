"""An annotator's path in a real browser (Debian's headless chromium through chromedriver): log in,
open a task, see the segmenter's pre-annotation, pick another type, submit; `builder pull` returns
that label."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from builder import studio
from builder.cli import cli

pytestmark = [pytest.mark.studio, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (`make system-deps` installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    from selenium.common.exceptions import WebDriverException

    def chrome(profile: Path):
        options = Options()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1000", f"--user-data-dir={profile}"):  # a fresh profile
            options.add_argument(flag)
        return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))

    try:
        driver = chrome(tmp_path / "chromium-profile")
    except WebDriverException:  # chromium can be slow to come up on a loaded machine: one more try
        driver = chrome(tmp_path / "chromium-profile-2")
    driver.set_page_load_timeout(60)
    yield driver
    try:
        driver.save_screenshot(str(tmp_path / "last-screen.png"))  # kept in pytest's tmp dir when a step fails
    except WebDriverException:
        pass  # the test's own failure says what went wrong; a dead browser adds nothing
    driver.quit()


def test_annotator_relabels_a_task_in_the_browser(tmp_path, harbour_records, harbour_parquet, studio_server,
                                                 studio_env, annotators, project_name, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    client = studio.connect()
    rep = studio.push(harbour_parquet, project_name, client=client)
    tasks = json.loads(studio.export_snapshot(client, rep.project_id)[1])
    reply = next(r for r in harbour_records if r["type"] == "reply")
    (task_id,) = [t["id"] for t in tasks if t["data"]["record_id"] == reply["record_id"]]
    alice = annotators["alice"]
    wait = WebDriverWait(browser, 90)

    browser.get(f"{studio_server.url}/user/login/")
    browser.find_element(By.NAME, "email").send_keys(alice["email"])
    browser.find_element(By.NAME, "password").send_keys(alice["password"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "/user/login" not in d.current_url)

    browser.get(f"{studio_server.url}/projects/{rep.project_id}/data?task={task_id}")
    radio = {name: (By.CSS_SELECTOR, f"input[type=radio][name={name}]") for name in ("reply", "comment", "spam")}
    wait.until(ec.element_located_to_be_selected(radio["reply"]))  # the segmenter's answer, pre-selected
    page = browser.find_element(By.TAG_NAME, "body").text
    assert reply["text"] in page, "the record's text is shown"
    assert "Harbour Town Votes to Keep Its Ferry Running Through Winter" in page, "the title is shown"
    assert "About time. My mother lives on the island" in page, "the comment it answers is shown"
    assert "wrong boundary" in page

    # the hotkeys of labels/taxonomy.json work: 3 picks comment
    ActionChains(browser).send_keys("3").perform()
    wait.until(ec.element_located_to_be_selected(radio["comment"]))
    # the annotator settles on spam: click the choice's label, then Submit
    browser.find_element(*radio["spam"]).find_element(By.XPATH, "./ancestor::label").click()
    wait.until(ec.element_located_to_be_selected(radio["spam"]))
    assert not browser.find_element(*radio["reply"]).is_selected()
    browser.find_element(By.CSS_SELECTOR, "button[data-testid=bottombar-submit-button]").click()

    deadline = time.monotonic() + 60
    while not client.annotations.list(id=task_id):
        assert time.monotonic() < deadline, "the submitted annotation did not reach the server"
        time.sleep(0.5)

    out = tmp_path / "LABELS"
    result = CliRunner().invoke(cli, ["pull", "--project", project_name, "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [r for r in pq.read_table(out / "annotations.parquet").to_pylist() if r["record_id"] == reply["record_id"]]
    assert [(r["annotator"], r["label"], r["changed_prediction"]) for r in rows] == [(alice["email"], "spam", True)]
    assert rows[0]["lead_time"] is not None and rows[0]["lead_time"] > 0, "the browser measures time spent"
    labels_row = next(r for r in pq.read_table(out / "labels.parquet").to_pylist()
                      if r["record_id"] == reply["record_id"])
    assert labels_row["label_status"] == "single" and labels_row["annotator_labels"] == [
        {"annotator": alice["email"], "label": "spam"}]
