"""OSM opening_hours subset: 24/7, day and time ranges, overrides, over-midnight, off."""

import numpy as np
import pandas as pd
import pytest

from layers.hours import (
    WEEK_MINUTES,
    HoursError,
    hours_error,
    is_open,
    open_nights,
    open_weekends,
    parse_hours,
    sites_open_at,
)

# 2026-11-23 is a Monday.
MON, TUE, WED, THU, FRI, SAT, SUN = (pd.Timestamp(f"2026-11-{d}") for d in range(23, 30))


def at(day, hhmm):
    h, m = map(int, hhmm.split(":"))
    return day + pd.Timedelta(hours=h, minutes=m)


def open_(text, day, hhmm):
    return bool(is_open(text, at(day, hhmm))[0])


def test_24_7_is_always_open():
    mask = parse_hours("24/7")
    assert mask.shape == (WEEK_MINUTES,) and mask.all()
    assert not mask.flags.writeable


def test_day_range_and_time_range_edges():
    t = "Mo-Fr 08:00-17:00"
    assert open_(t, MON, "08:00") and open_(t, FRI, "16:59")
    assert not open_(t, MON, "07:59") and not open_(t, MON, "17:00")  # end is exclusive
    assert not open_(t, SAT, "12:00") and not open_(t, SUN, "12:00")
    assert parse_hours(t).sum() == 5 * 9 * 60


def test_day_list_and_several_time_spans():
    t = "Mo,We,Fr 08:00-12:00,13:00-17:00"
    assert open_(t, WED, "09:00") and not open_(t, WED, "12:30") and open_(t, WED, "13:00")
    assert not open_(t, TUE, "09:00")
    assert parse_hours(t).sum() == 3 * 8 * 60


def test_later_rule_overrides_same_days():
    t = "Mo-Fr 08:00-17:00; We 10:00-12:00"
    assert not open_(t, WED, "09:00") and open_(t, WED, "11:00")
    assert open_(t, TUE, "09:00")
    off = "Mo-Fr 08:00-17:00; We off"
    assert not open_(off, WED, "11:00") and open_(off, THU, "11:00")
    assert parse_hours(off).sum() == 4 * 9 * 60


def test_over_midnight_spills_into_next_day():
    t = "Fr 22:00-02:00"
    assert open_(t, FRI, "23:30") and open_(t, SAT, "01:59")
    assert not open_(t, SAT, "02:00") and not open_(t, FRI, "21:59")
    assert parse_hours(t).sum() == 4 * 60
    # Sunday night wraps to Monday morning.
    assert open_("Su 23:00-01:00", MON, "00:30")


def test_wrapping_day_range_and_rule_without_days():
    assert open_("Fr-Mo 10:00-11:00", SUN, "10:30") and not open_("Fr-Mo 10:00-11:00", TUE, "10:30")
    assert open_("10:00-11:00", WED, "10:15")  # no days: every day
    assert parse_hours("Sa-Su").sum() == 2 * 1440  # days without times: whole day
    assert parse_hours("24/7; Su off").sum() == 6 * 1440


def test_vectorised_over_sites_and_missing_hours():
    hours = pd.Series(["24/7", "Mo-Fr 09:00-17:00", None, "", "Sa 10:00-14:00"])
    got = is_open(hours, at(SAT, "11:00"))
    assert got.tolist() == [True, False, False, False, True]
    # one time per site
    whens = [at(MON, "03:00"), at(MON, "10:00"), at(MON, "10:00"), at(MON, "10:00"),
             at(SAT, "15:00")]
    assert is_open(hours, whens).tolist() == [True, True, False, False, False]


def test_vectorised_equals_scalar_loop():
    rng = np.random.default_rng(3)
    texts = ["Mo-Fr 08:00-17:00; Sa 10:00-14:00", "Tu,Th 18:00-02:00", "24/7", "Su off"]
    hours = [texts[i] for i in rng.integers(0, len(texts), 50)]
    when = pd.Timestamp("2026-11-26 01:15")  # Thursday 01:15 (Tuesday night spill is Wednesday)
    loop = [bool(is_open(h, when)[0]) for h in hours]
    assert is_open(hours, when).tolist() == loop


def test_nights_and_weekends():
    hours = ["Mo-Fr 08:00-17:00", "Mo-Fr 08:00-20:30", "Tu 04:00-05:00", "Sa 10:00-12:00",
             "Fr 22:00-01:00", "24/7", None]
    assert open_nights(hours).tolist() == [False, True, True, False, True, True, False]
    # Friday 22:00-01:00 spills into Saturday: that is weekend opening.
    assert open_weekends(hours).tolist() == [False, False, False, True, True, True, False]


def test_sites_open_at_uses_24_7_flag():
    sites = pd.DataFrame({"hours": [None, "Mo 09:00-10:00", None],
                          "open_24_7": pd.array([True, False, None], dtype="boolean")})
    assert sites_open_at(sites, at(SUN, "03:00")).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="open_24_7"):
        sites_open_at(sites[["hours"]], at(SUN, "03:00"))


@pytest.mark.parametrize("text, match", [
    ("Mo-Fr 8am-5pm", "cannot read '8am-5pm'"),
    ("Mo-Fr 08:00-17:00; PH off", "public-holiday"),
    ("Mo-Fr 25:00-26:00", "not a valid clock time"),
    ("Mo-Fr 08:00-17:00 || Sa off", "fallback"),
    ("   ", "non-empty"),
    ("Xx 08:00-10:00", "cannot read"),
])
def test_bad_text_raises(text, match):
    with pytest.raises(HoursError, match=match):
        parse_hours(text)
    assert hours_error(text) is not None or not text.strip()


def test_hours_error_and_tz_aware_when():
    assert hours_error("Mo-Fr 08:00-17:00") is None and hours_error(None) is None
    assert "cannot read" in hours_error("sometimes")
    with pytest.raises(ValueError, match="naive local time"):
        is_open("24/7", pd.Timestamp("2026-11-23 10:00", tz="UTC"))
    with pytest.raises(ValueError, match="one time or one per site"):
        is_open(["24/7", "24/7", "24/7"], [MON, TUE])
