# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""The briefing's optional second page (program evaluation): CLI, library and the page."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest
from app_helpers import app_env, app_inputs, load_incidents, run_page  # noqa: F401

import cli
from data import get_path

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler")
#: a bare integer 1–9 (not part of a number, a date, a range, a share or "±3")
SMALL = re.compile(r"(?<![\d.,±–\-])\b[1-9]\b(?![\d.,%–\-])")


def pages(path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", out).group(1))


def page_text(path, page: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(path),
                           "-"], capture_output=True, text=True, check=True).stdout


def brief(tmp_path, *extra):
    out = tmp_path / f"b{len(extra)}.pdf"
    args = ["brief", "--incidents", str(get_path("incidents")), "--resources",
            str(get_path("resources")), "--boundary", str(get_path("boundary")), *extra,
            "--out", str(out)]
    return cli.main(args), out


def test_brief_evaluation_adds_a_public_second_page_without_small_counts(tmp_path):
    code, out = brief(tmp_path, "--evaluation")
    assert code == 0 and pages(out) == 2
    text = page_text(out, 2)
    assert "Follow-up program evaluation" in text and "PUBLIC" in text
    for heading in ("Reach (all cases)", "Services accepted", "Data timeliness",
                    "Repeat overdose", "Hours from overdose to first contact"):
        assert heading in text
    assert not SMALL.findall(text), SMALL.findall(text)
    assert "suppr." in text  # the sample has hidden counts on this page
    code, one = brief(tmp_path)
    assert code == 0 and pages(one) == 1


def test_page_two_prints_the_published_figures(tmp_path):
    from cases import evaluation as ev
    from report.evaluation_page import evaluation_content, load_case_tables

    inc = load_incidents(get_path("incidents"))
    tables, _ = load_case_tables(inc, sample=True)
    c = evaluation_content(tables, "public")
    n = c.overall["n_cases"].iloc[0]
    assert n == ev.summary_table(tables, "public", "all")["n_cases"].iloc[0]
    code, out = brief(tmp_path, "--evaluation")
    text = page_text(out, 2)
    row = next(line.split() for line in text.splitlines()
               if line.split()[:1] == [f"{int(n):,}"])  # the "Reach (all cases)" row
    assert row[1] == f"{100 * c.overall['share_reached'].iloc[0]:.1f}%"
    assert row[4] == f"{100 * c.overall['share_72h'].iloc[0]:.1f}%"


def test_brief_evaluation_without_cases_is_one_clear_error(tmp_path, capsys):
    inc = tmp_path / "inc.csv"
    shutil.copy(get_path("incidents"), inc)  # not the bundled sample: no synthetic cases
    code = cli.main(["brief", "--incidents", str(inc), "--evaluation",
                     "--out", str(tmp_path / "x.pdf")])
    assert code == 2
    assert "--evaluation needs follow-up cases" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()


def test_briefing_page_checkbox_adds_the_evaluation_page(app_inputs):
    from cases.sample import seed_sample

    inc = load_incidents(app_inputs["incidents"])
    seed_sample(inc, pd.Timestamp(inc["occurred_at"].max()).ceil("min"))
    at = run_page("briefing")
    assert not at.checkbox(key="brief_eval").value
    at.checkbox(key="brief_eval").check().run()
    assert not at.exception
    assert not [i for i in at.info if "briefing has one page" in i.value]
    assert [b for b in at.get("download_button")
            if b.proto.label.startswith("Download briefing")]
