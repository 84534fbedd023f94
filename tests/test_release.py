"""Fixed public release windows and the one time convention ([start, end))."""

import pandas as pd
import pytest

from geo.privacy import ReleaseError, check_window, release_date, release_window, release_windows
from products.query import Query, check_resolution, resolve, select


def test_release_date_is_the_end_of_the_last_complete_week():
    assert release_date("2026-11-15 21:35") == pd.Timestamp("2026-11-16")  # Sunday: complete
    assert release_date("2026-11-14 08:00") == pd.Timestamp("2026-11-09")  # Saturday: held back
    assert release_date("2026-11-16 00:10") == pd.Timestamp("2026-11-16")  # Monday: 1 day only
    assert release_date("2026-11-16").day_of_week == 0


def test_release_windows_menu():
    w = release_windows("2026-11-15")
    assert sorted(w["days"].unique()) == [7, 28, 91, 364]
    cur = w[(w["days"] == 28) & (w["period"] == "current")].iloc[0]
    assert (cur["start"], cur["end"]) == (pd.Timestamp("2026-10-19"), pd.Timestamp("2026-11-16"))
    pri = release_window("2026-11-15", 28, prior=True)
    assert pri == (pd.Timestamp("2026-09-21"), pd.Timestamp("2026-10-19"))


def test_public_window_must_be_a_release_window():
    assert check_window("public", None, None, "2026-11-15") == release_window("2026-11-15", 364)
    assert check_window("public", "2026-10-19", "2026-11-16", "2026-11-15")[0] == pd.Timestamp(
        "2026-10-19")
    with pytest.raises(ReleaseError, match="fixed release windows.*2026-11-16"):
        check_window("public", "2026-10-20", "2026-11-16", "2026-11-15")
    with pytest.raises(ReleaseError, match="restricted tier"):
        check_window("public", "2026-10-19", "2026-11-15", "2026-11-15")  # a day short
    # restricted: any window, unchanged
    assert check_window("restricted", "2026-10-20", None, "2026-11-15") == (
        pd.Timestamp("2026-10-20"), None)


def test_window_edges_start_included_end_excluded():
    df = pd.DataFrame({"occurred_at": pd.to_datetime(
        ["2026-01-01 00:00", "2026-01-31 23:59", "2026-02-01 00:00"]),
        "lat": [36.0] * 3, "lon": [-79.8] * 3, "outcome": ["nonfatal"] * 3,
        "source": ["ems"] * 3})
    q = Query(res=8, start="2026-01-01", end="2026-02-01")
    assert len(select(df, q)) == 2


def test_query_validation_messages():
    with pytest.raises(ValueError, match=r"must be after start.*\[start, end\)"):
        Query(start="2026-02-01", end="2026-01-01")
    with pytest.raises(ValueError, match="unknown sources"):
        Query(sources=("fire",))
    with pytest.raises(ValueError, match="finer than the public floor 8: choose resolution 8"):
        check_resolution(9, "public")
    assert check_resolution(9, "restricted") == 9


def test_resolve_gives_public_default_window():
    df = pd.DataFrame({"occurred_at": pd.to_datetime(["2025-01-05 00:00", "2026-11-15 21:35"])})
    q = resolve(Query(res=8), df, "public")
    assert (q.start, q.end) == (pd.Timestamp("2025-11-17"), pd.Timestamp("2026-11-16"))
    assert resolve(Query(res=8), df, "restricted").start is None
