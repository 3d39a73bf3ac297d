"""The README's researcher script (section "Evaluating": load, train, predict, evaluate) runs as
written, in a fresh interpreter, against a release published by the real release code, and
prints an evaluation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.test_evaluate_support import make_release

README = Path(__file__).resolve().parent.parent / "README.md"


def researcher_script() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Evaluating\n"):]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Evaluating section holds exactly one Python script"
    return blocks[0]


def test_the_readme_script_runs_and_prints_an_evaluation(tmp_path):
    release = make_release(tmp_path)
    script = tmp_path / "researcher.py"
    script.write_text(researcher_script(), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(release)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "task type · split test · release news 1.0.0" in out
    assert "official metric macro_f1 = " in out and "95% CI [" in out and "worst domain:" in out
    figure = float(re.search(r"^macro-F1 ([0-9.]+) 95% CI", out, flags=re.M).group(1))
    assert 0.3 < figure <= 1.0  # a real model on real text, not a constant
