"""The one-page briefing PDF: one page, the suppression rule, no suppressed count printed."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import shapely

from cli import main
from geo.grid import index_incidents
from report.briefing import build_briefing
from report.sections import briefing_content

END = pd.Timestamp("2026-11-15")
BOUNDARY = shapely.box(-79.86, 36.02, -79.72, 36.12)


def _incidents(fatal_7d: int = 3, nonfatal_7d: int = 40, seed: int = 7) -> pd.DataFrame:
    """Two years of background plus exactly ``fatal_7d`` fatal and ``nonfatal_7d`` nonfatal
    overdoses in the last 7 days (Nov 9–15) and 30 fatal + 40 nonfatal in the 7 days before."""
    rng = np.random.default_rng(seed)
    n = 2500
    t_bg = END - pd.Timedelta(days=14) - pd.to_timedelta(rng.uniform(0, 700 * 86400, n), "s")
    bg = pd.DataFrame({
        "occurred_at": t_bg.floor("min"),
        "outcome": np.where(rng.random(n) < 0.12, "fatal", "nonfatal"),
        "naloxone": np.where(rng.random(n) < 0.6, "yes", "no"),
    })
    def block(day0, n_fatal, n_nonfatal):
        m = n_fatal + n_nonfatal
        t = day0 + pd.to_timedelta(rng.uniform(0, 7 * 86400 - 60, m), "s")
        return pd.DataFrame({"occurred_at": t.floor("min"),
                             "outcome": ["fatal"] * n_fatal + ["nonfatal"] * n_nonfatal,
                             "naloxone": np.where(rng.random(m) < 0.5, "yes", "no")})
    df = pd.concat([bg, block(END - pd.Timedelta(days=13), 30, 40),
                    block(END - pd.Timedelta(days=6), fatal_7d, nonfatal_7d)], ignore_index=True)
    m = len(df)
    hot = rng.random(m) < 0.3
    df["lat"] = np.where(hot, rng.normal(36.07, 0.004, m), rng.uniform(36.03, 36.11, m))
    df["lon"] = np.where(hot, rng.normal(-79.79, 0.004, m), rng.uniform(-79.85, -79.73, m))
    df["source"] = "ems"
    return index_incidents(df.sort_values("occurred_at", kind="stable").reset_index(drop=True))


@pytest.fixture(scope="module")
def incidents():
    return _incidents()


@pytest.fixture(scope="module")
def public_pdf(incidents):
    return build_briefing(incidents, boundary=BOUNDARY, synthetic=True)


def _text(pdf: bytes, tmp_path, layout: bool = False) -> str:
    path = tmp_path / "b.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext"] + (["-layout"] if layout else []) + [str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _numbers(text: str) -> set[str]:
    """Stand-alone numbers in the text ('H3', '99%' → '99', '1,714' → '1714')."""
    toks = re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])", text)
    return {t.replace(",", "") for t in toks}


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_pdf_is_one_a4_page(public_pdf, tmp_path):
    assert public_pdf.startswith(b"%PDF")
    assert _pages(public_pdf) == 1
    path = tmp_path / "b.pdf"
    path.write_bytes(public_pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True,
                          text=True).stdout
    assert re.search(r"Pages:\s+1\n", info)
    assert "A4" in info


def _words(pdf: bytes, tmp_path) -> list[tuple[str, float, float]]:
    """(text, xMin, yMid) of every word on the page, from ``pdftotext -bbox``."""
    path = tmp_path / "w.pdf"
    path.write_bytes(pdf)
    html = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    rx = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>'
    return [(html_unescape(t), float(x), (float(y0) + float(y1)) / 2)
            for x, y0, y1, t in re.findall(rx, html)]


def html_unescape(s: str) -> str:
    import html

    return html.unescape(s)


def _kpi_cell(words, row: str, column: str, unit: str = "days") -> str:
    """The big figure of a KPI row ("7" → "Last 7 days") under a column header ("Fatal")."""
    i = next(j for j in range(len(words) - 2)
             if [w[0] for w in words[j:j + 3]] == ["Last", row, unit])
    y = words[i][2]
    x = next(w[1] for w in words if w[0] == column)  # the KPI header comes first on the page
    hits = [w[0] for w in words if abs(w[1] - x) < 2 and abs(w[2] - y) < 6]
    assert len(hits) == 1, hits
    return hits[0]


def test_public_pdf_states_rule_and_never_prints_the_suppressed_count(incidents, public_pdf,
                                                                       tmp_path):
    content = briefing_content(incidents, boundary=BOUNDARY, tier="restricted")
    assert content.kpis.loc[7, "fatal"] == 3  # the planted small count
    text = _text(public_pdf, tmp_path)
    assert "counts from 1 to 9 are suppressed" in text
    assert "SYNTHETIC SAMPLE DATA" in text
    # the 7-day fatal figure reads "suppr." on the public page and "3" on the restricted one
    assert _kpi_cell(_words(public_pdf, tmp_path), "7", "Fatal") == "suppr."
    restricted = build_briefing(incidents, boundary=BOUNDARY, tier="restricted")
    assert _kpi_cell(_words(restricted, tmp_path), "7", "Fatal") == "3"
    assert "NOT suppressed" in _text(restricted, tmp_path)
    # the 4-week figure (≥ 10) is the published (perturbed) one: within ±3 of the exact
    w28 = _kpi_cell(_words(public_pdf, tmp_path), "4", "Fatal", unit="weeks")
    public = briefing_content(incidents, boundary=BOUNDARY).kpis
    assert w28 == str(int(public.loc[28, "fatal"]))


def test_no_suppressed_count_anywhere_on_the_page(tmp_path):
    # with k = 60 the planted 47 fatal overdoses of the last week must vanish from the page,
    # and every count from 1 to 59 with them; a distinctive number makes the check exact
    inc = _incidents(fatal_7d=47, nonfatal_7d=80)
    pub = _text(build_briefing(inc, boundary=BOUNDARY, k=60), tmp_path)
    res = _text(build_briefing(inc, boundary=BOUNDARY, k=60, tier="restricted"), tmp_path)
    assert "counts from 1 to 59 are suppressed" in pub
    assert "47" in _numbers(res)
    assert "47" not in _numbers(pub)
    assert "suppr." in pub


def test_public_kpis_in_pdf_match_the_library(incidents, public_pdf, tmp_path):
    content = briefing_content(incidents, boundary=BOUNDARY)
    text = _text(public_pdf, tmp_path)
    nums = _numbers(text)
    w364 = content.kpis.loc[364]
    for col in ("overdoses", "fatal", "nonfatal", "prior_overdoses"):
        assert str(int(w364[col])) in nums, col
    # the 30 fatal of the prior week are shown (≥ 10, perturbed by ±3), the 3 are not
    assert abs(content.kpis.loc[7, "prior_fatal"] - 30) <= 3
    assert pd.isna(content.kpis.loc[7, "fatal"])
    top = content.top
    assert str(int(top["count"].iloc[0])) in nums
    assert "Data through 15 November 2026" in text


def test_deterministic_bytes(incidents, public_pdf):
    assert build_briefing(incidents, boundary=BOUNDARY, synthetic=True) == public_pdf


def test_map_table_is_published(incidents):
    content = briefing_content(incidents, boundary=BOUNDARY)
    t = content.map_table
    assert "suppressed" in t.columns
    shown = pd.to_numeric(t["count"]).dropna()
    assert not ((shown >= 1) & (shown <= 9)).any()
    raw = briefing_content(incidents, boundary=BOUNDARY, tier="restricted").map_table
    assert int(raw["count"].sum()) == int(
        ((incidents["occurred_at"] >= END - pd.Timedelta(days=364))
         & (incidents["occurred_at"] < END + pd.Timedelta(days=1))).sum())
    # public: the hot-spot product on the 52-week release window ending Monday 2026-11-16
    from products.hotspots import hotspot_table
    from products.query import Query

    ref = hotspot_table(incidents, Query(res=8, start="2025-11-17", end="2026-11-16"),
                        "public", boundary=BOUNDARY)
    pd.testing.assert_frame_equal(t.reset_index(drop=True), ref)


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"res": 9}, "finer than the public floor 8"),
     ({"end": "soon"}, "end must be a date")],
)
def test_bad_arguments(incidents, kw, match):
    with pytest.raises(ValueError, match=match):
        build_briefing(incidents, **kw)


def test_filters_are_printed_on_the_page(incidents, tmp_path):
    pdf = build_briefing(incidents, boundary=BOUNDARY, outcomes=("fatal",))
    text = _text(pdf, tmp_path)
    assert "outcome fatal" in text and "all sources" in text and "H3 res 8" in text
    assert "PUBLIC" in text


def test_cli_brief_writes_pdf(incidents, tmp_path, capsys):
    csv = tmp_path / "inc.csv"
    out = incidents.drop(columns="h3").assign(
        occurred_at=incidents["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    out.to_csv(csv, index=False)
    pdf = tmp_path / "brief.pdf"
    assert main(["brief", "--incidents", str(csv), "--out", str(pdf), "--end", "2026-11-16"]) == 0
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and _pages(data) == 1
    assert main(["brief", "--incidents", str(csv), "--out", str(tmp_path / "b.png")]) == 2
    assert "--out must be a .pdf" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_page_renders_to_png(public_pdf, tmp_path):
    path = tmp_path / "b.pdf"
    path.write_bytes(public_pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-singlefile", str(path),
                    str(tmp_path / "page")], check=True)
    png = (tmp_path / "page.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_resource_gaps_section_with_sites_and_no_small_count_in_reasons(incidents, tmp_path):
    from app_helpers import make_inputs

    from layers.sites import load_resources

    sites = load_resources(make_inputs(tmp_path)["resources"]).sites
    content = briefing_content(incidents, sites, BOUNDARY)
    assert content.gaps is not None and len(content.gaps) > 0
    assert list(content.gaps["gap_rank"]) == sorted(content.gaps["gap_rank"])
    # the reasons are words, but must not print a suppressed count either: on a sparse
    # sample (cells of 1-9 overdoses) the restricted reasons show such counts, public ones not
    sparse = incidents.sample(200, random_state=1)
    small = r"(?<![\d.,])[1-9] overdoses?"
    pub = briefing_content(sparse, sites, BOUNDARY).gaps["reason"]
    res = briefing_content(sparse, sites, BOUNDARY, tier="restricted").gaps["reason"]
    assert any(re.search(small, r) for r in res)
    assert not any(re.search(small, r) for r in pub), list(pub)
    text = _text(build_briefing(incidents, sites, BOUNDARY), tmp_path)
    assert "#1 " in text and "Resource gaps not available" not in text


def test_cli_brief_with_walking_time_on_the_sample_roads(tmp_path):
    from data import get_path

    pdf = tmp_path / "walk.pdf"
    assert main(["brief", "--incidents", str(get_path("incidents")),
                 "--resources", str(get_path("resources")),
                 "--boundary", str(get_path("boundary")), "--travel", "walk",
                 "--roads", str(get_path("incidents").parent / "sample_roads.geojson"),
                 "--out", str(pdf)]) == 0
    content_text = _text(pdf.read_bytes(), tmp_path)
    assert "min by walk" in content_text and "walking time on streets" in content_text
    assert main(["brief", "--incidents", str(get_path("incidents")), "--travel", "walk",
                 "--out", str(tmp_path / "x.pdf")]) == 2  # a network mode needs --roads
