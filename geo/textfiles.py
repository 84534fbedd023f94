"""Text exports (CSV/TSV/TXT): encoding, delimiter, true line numbers, ragged lines.

The text half of :mod:`geo.readers` (see there for the rules). :func:`read_text` scans the
bytes once, vectorised in 16 MiB blocks (:func:`_scan_records`: a newline ends a record when
an even number of quotes precede it; delimiters are counted the same way), then parses with
pandas' C reader and drops, by position, the lines whose field count differs from the
header's. UTF-16 files and files whose quotes do not balance go to the standard-library
:mod:`csv` reader (:func:`_read_text_exact`), which tracks lines exactly.
"""

from __future__ import annotations

import codecs
import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["RawTable", "detect_encoding", "sniff_delimiter", "read_text", "unique_names"]

_DELIMITERS = (",", ";", "\t", "|")
_BLOCK = 1 << 24  # 16 MiB of bytes per scan block
_CHUNK = 1_000_000


@dataclass
class RawTable:
    """A file's rows as read, before any column mapping.

    Attributes
    ----------
    frame : DataFrame
        One row per usable line (text files: every cell a string, blanks as ``""``).
    lines : ndarray of int64
        Line (text) or row (Excel, header = 1) number of each row of ``frame``.
    bad : DataFrame
        Lines that could not be split into the header's columns: ``line``, ``reason`` and the
        values that were there (under the header's names).
    format : str
        ``csv``, ``excel``, ``parquet`` or ``geojson``.
    encoding, delimiter : str or None
        What was detected for a text file.
    """

    frame: pd.DataFrame
    lines: np.ndarray
    bad: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"line": [], "reason": []}))
    format: str = "csv"
    encoding: str | None = None
    delimiter: str | None = None


def _no_bad() -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series(dtype="int64"), "reason": pd.Series(dtype=object)})


def detect_encoding(path: str | Path) -> str:
    """The text encoding of a file: ``utf-8-sig``, ``utf-16``, ``utf-16-le/-be``, ``utf-8``
    or ``latin-1`` (see the module docstring)."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(4096)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if len(head) >= 4 and head.count(0) >= len(head) // 4:
            even, odd = head[0::2].count(0), head[1::2].count(0)
            return "utf-16-be" if even > odd else "utf-16-le"
        f.seek(0)
        dec = codecs.getincrementaldecoder("utf-8")()
        buf = bytearray(_BLOCK)  # one buffer for every block (no new memory per block)
        try:
            while k := f.readinto(buf):
                block = buf if k == len(buf) else bytes(buf[:k])
                # ASCII is UTF-8: only a block with other bytes (or after a character split
                # between blocks) is decoded
                if dec.getstate()[0] or not block.isascii():
                    dec.decode(block)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: the most frequent of ``, ; tab |`` outside quotes."""
    outside, quoted = [], False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            outside.append(ch)
    text = "".join(outside)
    counts = {d: text.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties: the order of _DELIMITERS
    return best if counts[best] else ","


def _first_line(path: Path, encoding: str) -> tuple[str, int]:
    """(first non-blank line, its line number)."""
    with open(path, encoding=encoding, newline="") as f:
        for k, line in enumerate(f, start=1):
            if line.strip():
                return line.rstrip("\r\n"), k
    return "", 0


@dataclass
class _Records:
    """Where the records of a text file start and how many fields each has."""

    line: np.ndarray  # first line of each non-blank record (header included)
    fields: np.ndarray  # fields per record (delimiters outside quotes + 1)
    start: np.ndarray  # byte offset of each record
    end: np.ndarray  # byte offset of the record's terminating newline (or EOF)


def _scan_records(path: Path, sep: str) -> _Records | None:
    """Record boundaries of an ASCII-compatible text file, vectorised over 16 MiB blocks.

    A newline ends a record when an even number of quote characters precede it (RFC 4180:
    an escaped quote ``""`` counts twice); delimiters are counted the same way. Returns
    ``None`` when the quotes do not balance (then the exact reader decides).
    """
    sep_b = ord(sep)
    pos, ordinal, dcum, cr = [], [], [], []
    parity = off = nl_total = d_total = 0
    last = 0
    block = bytearray(_BLOCK)  # one buffer for every block (no new memory per block)
    with open(path, "rb") as f:
        while k := f.readinto(block):
            buf = np.frombuffer(block, np.uint8, count=k)
            q = np.flatnonzero(buf == 34)
            nl = np.flatnonzero(buf == 10)
            d = np.flatnonzero(buf == sep_b)
            if q.size:
                d_out = d[((parity + np.searchsorted(q, d)) & 1) == 0]
                is_end = ((parity + np.searchsorted(q, nl)) & 1) == 0
            else:  # no quote in the block: everything is inside or outside, as it started
                d_out = d if not parity else d[:0]
                is_end = np.full(nl.size, not parity)
            e = nl[is_end]
            pos.append(e + off)
            ordinal.append(np.flatnonzero(is_end) + nl_total)
            dcum.append(np.searchsorted(d_out, e) + d_total)
            before = np.where(e > 0, buf[np.maximum(e - 1, 0)], last)
            cr.append(before == 13)
            nl_total += nl.size
            d_total += d_out.size
            parity = (parity + q.size) & 1
            off += k
            last = int(buf[-1]) if buf.size else last
    if parity:
        return None
    pos_a = np.concatenate(pos) if pos else np.empty(0, np.int64)
    ord_a = np.concatenate(ordinal) if ordinal else np.empty(0, np.int64)
    d_a = np.concatenate(dcum) if dcum else np.empty(0, np.int64)
    cr_a = np.concatenate(cr) if cr else np.empty(0, bool)
    tail_start = pos_a[-1] + 1 if pos_a.size else 0
    if off - tail_start > (1 if last == 13 else 0):  # a last record without a final newline
        pos_a = np.append(pos_a, off)
        ord_a = np.append(ord_a, nl_total)
        d_a = np.append(d_a, d_total)
        cr_a = np.append(cr_a, last == 13)
    prev_pos = np.concatenate(([-1], pos_a[:-1]))
    prev_ord = np.concatenate(([-1], ord_a[:-1]))
    prev_d = np.concatenate(([0], d_a[:-1]))
    length = pos_a - prev_pos - 1 - cr_a
    keep = length > 0  # blank lines are not records
    return _Records(line=(prev_ord + 2)[keep], fields=(d_a - prev_d + 1)[keep],
                    start=(prev_pos + 1)[keep], end=pos_a[keep])


def _ragged_values(path: Path, encoding: str, sep: str, rec: _Records, idx: np.ndarray,
                   n: int) -> list[list[str]]:
    """The fields of a few ragged records (padded or cut to the header's ``n``)."""
    out = []
    with open(path, "rb") as f:
        for i in idx.tolist():
            f.seek(int(rec.start[i]))
            text = f.read(int(rec.end[i] - rec.start[i])).decode(encoding, errors="replace")
            fields = next(csv.reader([text.rstrip("\r")], delimiter=sep), [])
            out.append((fields + [""] * n)[:n])
    return out


def unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def _read_text_exact(path: Path, encoding: str, sep: str, progress) -> RawTable:
    """Standard-library reader: exact line numbers, ragged lines → rejects."""
    rows: list[list[str]] = []
    lines: list[int] = []
    bad_lines: list[int] = []
    bad_reasons: list[str] = []
    bad_rows: list[list[str]] = []
    with open(path, encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=sep)
        header, prev = None, 0
        for rec in reader:
            start, prev = prev + 1, reader.line_num
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue  # a blank line
            if header is None:
                header = [h.strip() for h in rec]
                n = len(header)
                continue
            if len(rec) != n:
                bad_lines.append(start)
                bad_reasons.append(f"ragged line: {len(rec)} field(s) where the header has {n}")
                bad_rows.append((rec + [""] * n)[:n])
            else:
                rows.append(rec)
                lines.append(start)
            if progress and len(rows) % _CHUNK == 0 and rows:
                progress("read", len(rows), None)
    if header is None:
        raise ValueError(f"{path.name} is empty; the first line must name the columns")
    names = unique_names(header)
    cols = list(zip(*rows, strict=True)) if rows else [()] * n
    frame = pd.DataFrame({names[k]: pd.Series(cols[k], dtype=object) for k in range(n)})
    bad = pd.concat([pd.DataFrame({"line": np.asarray(bad_lines, dtype=np.int64),
                                   "reason": pd.Series(bad_reasons, dtype=object)}),
                     pd.DataFrame(bad_rows, columns=names, dtype=object)], axis=1)
    return RawTable(frame, np.asarray(lines, dtype=np.int64), bad, "csv", encoding, sep)


def read_text(path: Path, progress=None, delimiter: str | None = None) -> RawTable:
    """Rows of a text export with their line numbers and its ragged lines (see module)."""
    encoding = detect_encoding(path)
    header, _ = _first_line(path, encoding)
    if not header:
        raise ValueError(f"{path.name} is empty; the first line must name the columns")
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else sniff_delimiter(header)
    rec = None if encoding.startswith("utf-16") else _scan_records(path, delimiter)
    if rec is None or not rec.line.size:
        return _read_text_exact(path, encoding, delimiter, progress)
    n = int(rec.fields[0])
    line, fields = rec.line[1:], rec.fields[1:]
    # pandas (index_col=False) takes the wider of the header and the first data line as the
    # row width: lines up to it are kept (cut to the header's width, or padded), wider ones
    # skipped. Every line of the wrong width is dropped here by position and reported from
    # the scan; if pandas ever disagrees with the scan, the exact reader decides.
    width = max(n, int(fields[0])) if fields.size else n
    in_frame = fields <= width
    chunks, done = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                             sep=delimiter, chunksize=_CHUNK, encoding=encoding,
                             index_col=False, on_bad_lines="skip")
        for chunk in reader:
            chunks.append(chunk)
            done += len(chunk)
            if progress:
                progress("read", done, None)
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if len(frame.columns) != n or len(frame) != int(in_frame.sum()):
        return _read_text_exact(path, encoding, delimiter, progress)  # scan and pandas disagree
    frame, lines, bad = split_ragged(frame, line, fields, in_frame, n, path, encoding,
                                     delimiter, rec, first=1)
    return RawTable(frame.reset_index(drop=True), lines.astype(np.int64), bad, "csv",
                    encoding, delimiter)


def split_ragged(frame, line, fields, in_frame, n, path, encoding, delimiter, rec, first):
    """The well-formed rows of a parsed run of records and its ragged lines as rejects.

    ``frame`` holds what pandas parsed (rows with at most the header's width, ``in_frame``);
    ``line``/``fields`` are the scan's line numbers and field counts of the run, whose first
    record is record ``first`` of the file. Returns (frame of rows with exactly ``n`` fields,
    their line numbers, rejects of the other lines with their values and reason)."""
    frame.columns = [str(c).strip() for c in frame.columns]
    good = fields[in_frame] == n
    lines = line[in_frame]
    if not good.all():
        frame = frame.loc[good].reset_index(drop=True)
        lines = lines[good]
    bad_idx = np.flatnonzero(fields != n)
    if not bad_idx.size:
        return frame, lines, _no_bad()
    values = _ragged_values(path, encoding, delimiter, rec, bad_idx + first, n)
    bad = pd.concat([
        pd.DataFrame({"line": line[bad_idx].astype(np.int64), "reason": [
            f"ragged line: {k} field(s) where the header has {n}"
            for k in fields[bad_idx].tolist()]}),
        pd.DataFrame(values, columns=list(frame.columns), dtype=object)], axis=1)
    return frame, lines, bad
