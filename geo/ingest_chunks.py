"""The per-chunk steps of the streaming ingest (:mod:`geo.ingest_stream`) and what spans chunks.

Every chunk goes through the steps of :func:`geo.ingest.read_incidents_frame` (column mapping,
:func:`geo.validate.validate_rows`, exclusions, identical rows, ids, H3); :class:`_Chunks`
carries exactly what spans chunks:

* exact repeats (``duplicate of line N`` / identical rows and their k-th fingerprints): the
  fingerprints kept so far, sorted, with their count and first line (:class:`_Seen`);
* "a date-only export written with 00:00 times" (text times all at midnight): chunks are held
  until a time off midnight is seen (the first chunk, in practice) or the file ends
  (:func:`processed_chunks`);
* the summary (counts, reasons in order of first appearance, shared-coordinate warnings: the
  located coordinates are kept, and counted in hash buckets so that the warnings are only
  looked for when some coordinate could reach their threshold).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.areas import area_located
from geo.boundary import boundary_geometry
from geo.ingest import _fingerprint, _reason_kind, finish_records, to_canonical
from geo.presets import resolve_columns
from geo.rowrules import excluded_rows, parse_exclusions
from geo.textfiles import RawTable
from geo.validate import validate_rows

__all__ = ["processed_chunks"]


# ------------------------------------------------------------------------------ repeats
class _Seen:
    """Fingerprints of the rows seen so far: the distinct ones in a few sorted, disjoint levels
    (to find a repeat; a level merges with the next smaller one when that has grown to half
    its size, so each fingerprint is merged O(log chunks) times and the cost stays linear-ish
    in the rows, not in rows x chunks), and each chunk's as given with their lines (read only
    when a chunk repeats an earlier row)."""

    def __init__(self) -> None:
        self.levels: list[np.ndarray] = []
        self.chunks: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def fp(self) -> np.ndarray:
        """The distinct fingerprints seen so far, sorted."""
        if not self.levels:
            return np.empty(0, np.uint64)
        return np.sort(np.concatenate(self.levels))

    @property
    def count(self) -> np.ndarray:
        """How many rows have each fingerprint of :attr:`fp`."""
        fp = self.fp
        if not self.chunks:
            return np.zeros(fp.size, np.int64)
        every = np.sort(np.concatenate([c for c, _ in self.chunks]))
        return np.searchsorted(every, fp, side="right") - np.searchsorted(every, fp)

    def _found(self, uniq: np.ndarray) -> np.ndarray:
        """Which of the sorted distinct ``uniq`` were seen before."""
        found = np.zeros(uniq.size, bool)
        for level in self.levels:
            pos = np.minimum(np.searchsorted(level, uniq), level.size - 1)
            found |= level[pos] == uniq
        return found

    def _add(self, add: np.ndarray) -> None:
        """Keep the sorted distinct ``add`` (none seen before)."""
        self.levels.append(add)
        while len(self.levels) > 1 and self.levels[-2].size <= 2 * self.levels[-1].size:
            b, a = self.levels.pop(), self.levels.pop()
            self.levels.append(np.sort(np.concatenate([a, b]), kind="stable"))  # 2 runs: merge

    def _earlier(self, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, line of the first row) in the chunks so far of each of the sorted ``vals``."""
        before = np.zeros(vals.size, np.int64)
        first_line = np.full(vals.size, -1, np.int64)
        for cfp, clines in self.chunks:
            hit = np.flatnonzero(np.isin(cfp, vals))
            if not hit.size:
                continue
            j = np.searchsorted(vals, cfp[hit])
            before += np.bincount(j, minlength=vals.size)
            jj, at = np.unique(j, return_index=True)  # each value's first row in this chunk
            todo = first_line[jj] < 0
            first_line[jj[todo]] = clines[hit[at[todo]]]
        return before, first_line

    def repeats(self, fp: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k: equal fingerprints before each row in the file, line of the first), then adds."""
        k, first, uniq, _idx, _cnt = self.sorted_repeats(fp)
        first_line = lines[first]
        if fp.size:
            found = self._found(uniq)
            if found.any():
                before = np.zeros(uniq.size, np.int64)
                old_line = np.zeros(uniq.size, np.int64)
                before[found], old_line[found] = self._earlier(uniq[found])
                at = np.searchsorted(uniq, fp)
                k = k + before[at]
                first_line = np.where(found[at], old_line[at], first_line)
            if not found.all():
                self._add(uniq[~found])
            self.chunks.append((fp, lines))
        return k, first_line

    @staticmethod
    def sorted_repeats(fp: np.ndarray):
        """:func:`geo.rowrules.repeat_index` of ``fp`` (k, first position) and its distinct values
        (sorted), the position of each one's first row and their counts, from one sort: a quick
        sort when no value repeats (the usual case), else a stable one."""
        n = fp.size
        order = np.argsort(fp)
        s = fp[order]
        if n < 2 or bool(np.all(s[1:] != s[:-1])):
            return (np.zeros(n, np.int64), np.arange(n, dtype=np.int64), s, order,
                    np.ones(n, np.int64))
        order = np.argsort(fp, kind="stable")  # equal values in row order
        s = fp[order]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        group = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1
        k = np.empty(n, np.int64)
        k[order] = np.arange(n) - starts[group]
        first = np.empty(n, np.int64)
        first[order] = order[starts][group]
        return k, first, s[starts], order[starts], np.diff(np.append(starts, n))


# ------------------------------------------------------------------------------ chunks
class _Chunks:
    """The per-chunk steps of :func:`geo.ingest.read_incidents_frame` and the file's totals."""

    #: hash buckets (2**BUCKET_BITS) counting coordinates for the shared-coordinate warnings
    BUCKET_BITS = 16

    def __init__(self, *, preset, mapping, source, boundary, drop_outside, exclude,
                 drop_identical, now):
        self.preset, self.mapping, self.source = preset, dict(mapping or {}), source
        self.boundary = boundary_geometry(boundary)
        self.drop_outside, self.drop_identical = drop_outside, drop_identical
        self.rules = parse_exclusions(exclude)
        self.now = pd.Timestamp.now() if now is None else pd.Timestamp(now)
        self.colmap = None
        self.seen = _Seen()
        self.kinds: Counter = Counter()
        self.unrec: Counter = Counter()
        self.n = Counter()
        self.coords: list[np.ndarray] = []
        self.buckets = np.zeros(1 << self.BUCKET_BITS, np.int64)
        self.n_coords = 0

    def setup(self, raw: pd.DataFrame) -> None:
        self.visible = list(raw.columns)
        self.name, self.colmap, self.default_source = resolve_columns(
            [str(c) for c in self.visible], self.preset, self.mapping, location_given=False)

    def validate(self, table: RawTable, midnight_day):
        if self.colmap is None:
            self.setup(table.frame)
        raw = table.frame
        excluded, why = excluded_rows(raw, self.rules)
        val = validate_rows(raw, self.colmap, source=self.source,
                            default_source=self.default_source, boundary=self.boundary,
                            drop_outside=self.drop_outside, now=self.now,
                            midnight_day=midnight_day)
        return val, excluded, why

    def finish(self, table: RawTable, val, excluded, why) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(canonical records with ``fingerprint``, rejects) of one validated chunk."""
        raw, line_no = table.frame, table.lines
        n = len(raw)
        for k, v in val.unrecognised.items():
            self.unrec[k] += v
        reasons = val.reasons.to_numpy(object)
        bad = (reasons != "") if val.bad is None else val.bad
        bad = bad & ~excluded  # an excluded row is set aside, whatever else is wrong with it
        aside = excluded.copy()
        set_aside = None  # (texts only when something is set aside)
        if excluded.any():
            set_aside = np.full(n, "", dtype=object)
            set_aside[excluded] = ["excluded by " + w for w in why[excluded]]
        ok = ~bad & ~excluded
        ok_pos = np.flatnonzero(ok)
        every = ok_pos.size == n
        rec = val.records.copy(deep=False) if every else val.records.loc[ok]
        fp = _fingerprint(rec, {c: (codes if every else codes[ok_pos], labels)
                                for c, (codes, labels) in val.coded.items()})
        missing_id = rec["incident_id"].isna().to_numpy()
        k, first_line = self.seen.repeats(fp, line_no[ok_pos])
        repeat = k > 0
        dup_id = repeat & ~missing_id
        identical = repeat & missing_id
        if dup_id.any():
            reasons = reasons.copy()
            bad = bad.copy()
            for j in np.flatnonzero(dup_id):
                reasons[ok_pos[j]] = f"duplicate of line {first_line[j]}"
            bad[ok_pos[dup_id]] = True
        if self.drop_identical and identical.any():
            if set_aside is None:
                set_aside = np.full(n, "", dtype=object)
            for j in np.flatnonzero(identical):
                set_aside[ok_pos[j]] = (f"identical to line {first_line[j]} "
                                        "(dropped: --drop-identical)")
            aside[ok_pos[identical]] = True
        if identical.any():
            fp = fp.copy()
            fp[identical] = pd.util.hash_pandas_object(
                pd.DataFrame({"fp": fp[identical], "k": k[identical]}), index=False
            ).to_numpy(np.uint64)
        keep = ~dup_id & ~(identical & self.drop_identical)
        if not keep.all():
            rec, fp, ok_pos, missing_id = rec.loc[keep], fp[keep], ok_pos[keep], missing_id[keep]
        ok = finish_records(rec, fp, ok_pos, missing_id, n)
        # (event_id given as missing text: what to_canonical makes of an absent column)
        none = pd.arrays.ArrowStringArray(pa.nulls(len(rec), pa.large_string()))
        records = to_canonical(rec.assign(n_sources=1, sources=rec["source"],
                                          event_id=pd.Series(none, index=rec.index)))
        records["fingerprint"] = fp
        for c in ("incident_id", "agency", "suspected_drug", "location_precision", "area"):
            arr = records[c].array._pa_array  # text read by polars comes in pieces: one
            if arr.num_chunks > 1:  # array each (the store's insert is ~0.4 s/1M faster)
                records[c] = pd.arrays.ArrowStringArray(arr.combine_chunks())
        aside &= ~bad & ~ok
        out = bad | aside
        why_out = np.where(bad, reasons, reasons if set_aside is None else set_aside)[out]
        rejects = pd.concat(
            [pd.DataFrame({"line": line_no[out], "reason": why_out}),
             raw.loc[out, self.visible].reset_index(drop=True)], axis=1)
        n_bad = len(table.bad)
        if n_bad:
            rejects = pd.concat([rejects, table.bad], ignore_index=True).sort_values(
                "line", kind="stable").reset_index(drop=True)
        if bad.any():
            self.kinds.update(kk for r in reasons[bad] for kk in _reason_kind(r))
        self.n.update(ragged=n_bad)  # counted last, as when the file is read whole
        inside = records["in_study_area"].to_numpy(dtype=bool, na_value=True)
        self.n.update(read=n + n_bad, accepted=int(ok_pos.size),
                      rejected=int(bad.sum()) + n_bad, excluded=int(excluded.sum()),
                      identical=int(identical.sum()), outside=int((~inside).sum()))
        self._coordinates(records)
        return records, rejects

    def _coordinates(self, records: pd.DataFrame) -> None:
        """Keep the located records' coordinates (rounded to 1e-6°) for the shared-coordinate
        warnings, and count them in hash buckets: a bucket's count bounds the count of every
        coordinate in it, so when no bucket reaches the warning's threshold none can."""
        lp, area = records["location_precision"], records["area"]
        if lp.isna().all() and area.isna().all():  # nothing is located to an area only
            lat, lon = records["lat"].to_numpy(float), records["lon"].to_numpy(float)
        else:
            located = ~area_located(records)
            lat = records["lat"].to_numpy(float)[located]
            lon = records["lon"].to_numpy(float)[located]
        lat, lon = np.round(lat, 6), np.round(lon, 6)
        self.coords.append(np.column_stack([lat, lon]))
        # as shared_coordinates counts them: rounded (again), -0.0 as 0.0, NaN left out
        a, b = np.round(lat, 6) + 0.0, np.round(lon, 6) + 0.0
        fin = np.isfinite(a) & np.isfinite(b)
        if not fin.all():
            a, b = a[fin], b[fin]
        with np.errstate(over="ignore"):
            h = a.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            h ^= b.view(np.uint64) + (h >> np.uint64(29))
            h *= np.uint64(0xBF58476D1CE4E5B9)
        self.buckets += np.bincount((h >> np.uint64(64 - self.BUCKET_BITS)).astype(np.intp),
                                    minlength=1 << self.BUCKET_BITS)
        self.n_coords += a.size

    def _may_share(self) -> bool:
        """Whether some coordinate could reach the shared-coordinate warning's threshold."""
        import inspect

        from geo.areas import shared_coordinates

        if self.n_coords == 0:
            return False
        params = inspect.signature(shared_coordinates).parameters
        top = self.buckets.max()
        return bool(top >= params["min_count"].default
                    and top / self.n_coords >= params["min_share"].default)

    def summary(self) -> dict:
        from geo.areas import shared_coordinate_warnings

        kinds = Counter(self.kinds)
        if self.n["ragged"]:
            kinds["ragged line"] += self.n["ragged"]
        warn = []
        if self._may_share():  # the warnings themselves, as for the whole file
            coords = np.concatenate(self.coords) if self.coords else np.empty((0, 2))
            warn = shared_coordinate_warnings(
                pd.DataFrame({"lat": coords[:, 0], "lon": coords[:, 1]}))
        outside = self.n["outside"] if self.boundary is not None else 0
        if self.drop_outside and self.boundary is not None:
            outside = int(kinds.get("outside the study area", 0))
        return {
            "preset": self.name,
            "columns": {k: v for k, v in self.colmap.items() if not v.startswith("__")},
            "read": self.n["read"], "accepted": self.n["accepted"],
            "rejected": self.n["rejected"], "excluded": self.n["excluded"],
            "identical": self.n["identical"],
            "dropped_identical": self.n["identical"] if self.drop_identical else 0,
            "near_duplicates": 0, "outside_area": outside,
            "unrecognised": {k: v for k, v in self.unrec.items() if v},
            "reasons": dict(kinds.most_common()),
            "warnings": warn,
        }


def processed_chunks(chunks: Iterator[RawTable], steps: _Chunks):
    """(records, rejects) per chunk, the 00:00-throughout rule decided for the whole file."""
    held: list = []  # chunks validated while every text time so far is at midnight
    n_clock = 0
    decided = False
    for table in chunks:
        val, excluded, why = steps.validate(table, midnight_day=False)
        if decided:
            yield steps.finish(table, val, excluded, why)
            continue
        n_clock += val.n_clock
        held.append((table, val, excluded, why))
        if val.off_midnight:  # a time off midnight: the file is not date-only
            decided = True
            for item in held:
                yield steps.finish(*item)
            held = []
    if held:  # every time of day in the file is 00:00
        day = n_clock >= 2
        for table, val, excluded, why in held:
            if day:
                val, excluded, why = steps.validate(table, midnight_day=True)
            yield steps.finish(table, val, excluded, why)
