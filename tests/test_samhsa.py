"""SAMHSA treatment-locator importer: code mapping (SF is not sliding fee), subtypes, rejects."""

from pathlib import Path

import pandas as pd
import pytest

from layers.samhsa import parse_codes, read_samhsa, samhsa_to_sites
from layers.sites import RESOURCE_COLUMNS

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def loaded():
    return read_samhsa(FIX / "samhsa_locator.json", as_of="2026-11-01")


def _site(res, irow):
    s = res.sites.set_index("site_id")
    return s.loc[f"samhsa-{irow}"]


def test_canonical_columns_and_no_address_or_phone(loaded):
    assert list(loaded.sites.columns) == list(RESOURCE_COLUMNS)
    for c in ("street1", "city", "zip", "phone"):
        assert c not in loaded.sites.columns
    assert set(loaded.sites["kind"]) == {"treatment"}
    assert set(loaded.sites["as_of"]) == {"2026-11-01"}


def test_nothing_dropped_silently(loaded):
    assert len(loaded.sites) + len(loaded.rejects) == 6
    s = loaded.summary
    assert (s["read"], s["loaded"], s["rejected"]) == (6, 4, 2)


def test_otp_with_methadone_and_medicaid(loaded):
    s = _site(loaded, 1)
    assert s["name"] == "Fictional Opioid Treatment Program - Main Campus"
    assert s["subtype"] == "otp"
    assert bool(s["methadone"]) and bool(s["buprenorphine"]) and not bool(s["naltrexone"])
    assert bool(s["medicaid"])
    # SF (self-pay) is on this facility's list; it must NOT set sliding_fee.
    assert not bool(s["sliding_fee"])
    assert s["lat"] == pytest.approx(36.07) and s["lon"] == pytest.approx(-79.79)


def test_sf_is_self_pay_not_sliding_fee(loaded):
    s = _site(loaded, 3)  # NU with "SF; PI": cash and private insurance only
    assert s["subtype"] == "naltrexone"
    assert not bool(s["sliding_fee"]) and not bool(s["medicaid"])
    assert bool(_site(loaded, 2)["sliding_fee"])  # SS is the sliding fee scale


def test_subtype_priority(loaded):
    assert _site(loaded, 2)["subtype"] == "buprenorphine"  # BU beats NU
    assert _site(loaded, 6)["subtype"] == "otp"  # MU alone → otp
    assert bool(_site(loaded, 6)["methadone"])


def test_rejects_have_line_and_reason(loaded):
    r = loaded.rejects.set_index("line")
    assert "no medication code" in r.loc[4, "reason"]
    assert "bad coordinates" in r.loc[5, "reason"]


def test_csv_codes_string():
    res = read_samhsa(FIX / "samhsa_locator.csv")
    s = res.sites.set_index("name")
    assert len(res.sites) == 3 and res.rejects.empty
    assert s.loc["Fictional CSV OTP", "subtype"] == "otp"
    assert bool(s.loc["Fictional CSV OTP", "medicaid"])
    assert not bool(s.loc["Fictional CSV Bupe - Annex", "sliding_fee"])  # SF only
    assert bool(s.loc["Fictional CSV Sliding", "sliding_fee"])  # SS
    assert res.sites["site_id"].tolist() == ["samhsa-2", "samhsa-3", "samhsa-4"]  # CSV lines


def test_csv_indicator_columns(tmp_path):
    p = tmp_path / "ind.csv"
    p.write_text("name1,latitude,longitude,MU,BU,NU,OTP,MD,SS,SF\n"
                 "A,36.0,-79.0,0,1,0,0,1,0,1\n"
                 "B,36.1,-79.1,0,0,0,0,1,1,0\n")
    res = read_samhsa(p)
    assert len(res.sites) == 1 and len(res.rejects) == 1
    a = res.sites.iloc[0]
    assert a["subtype"] == "buprenorphine" and bool(a["medicaid"]) and not bool(a["sliding_fee"])


def test_parse_codes():
    assert parse_codes("mu; BU,MD  ss") == {"MU", "BU", "MD", "SS"}
    assert parse_codes(None) == set()


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_samhsa(tmp_path / "nope.json")
    bad = tmp_path / "x.docx"
    bad.write_text("x")
    with pytest.raises(ValueError, match="must be .json, .csv or .xlsx"):
        read_samhsa(bad)
    nocodes = tmp_path / "n.csv"
    nocodes.write_text("name1,latitude,longitude\nA,36,-79\n")
    with pytest.raises(ValueError, match="no 'codes'/'services' column"):
        read_samhsa(nocodes)
    with pytest.raises(ValueError, match="missing column 'latitude'"):
        samhsa_to_sites(pd.DataFrame({"name1": ["A"]}), [{"BU"}])


def test_swapped_locator_coordinates_and_no_internal_columns(tmp_path):
    p = tmp_path / "loc.csv"
    p.write_text("name1,latitude,longitude,codes\n"
                 "Right,36.1,-79.8,MU MD\n"
                 "Swapped,-79.8,36.1,BU\n")
    res = read_samhsa(p)
    assert res.sites["name"].tolist() == ["Right"]
    assert res.rejects["line"].tolist() == [3]
    assert "swapped" in res.rejects["reason"].iloc[0]
    bad = tmp_path / "nocodes.csv"
    bad.write_text("name1,latitude,longitude\nA,36,-79\n")
    with pytest.raises(ValueError, match="no 'codes'") as exc:
        read_samhsa(bad)
    assert "_line" not in str(exc.value)
    nolat = tmp_path / "nolat.csv"
    nolat.write_text("name1,codes\nA,MU\n")
    with pytest.raises(ValueError, match="missing column 'latitude'") as exc:
        read_samhsa(nolat)
    assert "_line" not in str(exc.value)


def test_gaps_with_samhsa_only(tmp_path, capsys):
    """`gapmap gaps --samhsa FILE` needs no --resources; neither is one sentence, exit 2."""
    import numpy as np

    from cli import main

    n = 30
    t = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n) * 3, "D")
    pd.DataFrame({"occurred_at": t.strftime("%Y-%m-%d %H:%M"),
                  "lat": 36.07 + np.arange(n) * 1e-5, "lon": -79.79, "source": "ems"}
                 ).to_csv(tmp_path / "inc.csv", index=False)
    (tmp_path / "loc.csv").write_text("name1,latitude,longitude,codes\nClinic,36.1,-79.8,BU\n")
    out = tmp_path / "g.csv"
    code = main(["gaps", "--incidents", str(tmp_path / "inc.csv"), "--samhsa",
                 str(tmp_path / "loc.csv"), "--res", "8", "--tier", "restricted",
                 "--out", str(out)])
    first = capsys.readouterr().err
    assert code == 0, first
    assert "scored against 1 site(s)" in first
    table = pd.read_csv(out)
    assert len(table) >= 1
    code = main(["gaps", "--incidents", str(tmp_path / "inc.csv"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "--resources FILE and/or --samhsa FILE" in err
