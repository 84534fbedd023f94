"""Text that fits its page: measured with matplotlib's renderer, shrunk or wrapped to fit.

The briefing is one A4 page; a long title, area name, area label or many caveats must never run
off its edge. :func:`fit_texts` measures every text artist of a figure (its window extent,
from the renderer) and shrinks its font, then wraps it, until it lies inside its box: the
axes it belongs to when that axes has no visible axis (a text panel or table), else the page.
:func:`paragraphs` lays out a list of paragraphs in a panel, wrapped to the panel's measured
width, shrinking the font until they all fit, and says how many were left out if even the
smallest font cannot hold them. :func:`outside` lists the texts that do not fit (for tests).
"""

from __future__ import annotations

import textwrap

from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["fit_text", "fit_texts", "outside", "paragraphs", "MIN_FONT"]

#: Smallest font size (points) text is shrunk to before it is wrapped.
MIN_FONT = 4.5
_MARGIN = 2.0  # pixels kept free at the page edge


def _texts(fig) -> list[Text]:
    out = [t for t in fig.texts]
    for ax in fig.axes:
        out += [t for t in ax.texts]
        out += [ax.title, ax._left_title, ax._right_title]
    return [t for t in out if t.get_visible() and t.get_text().strip()]


def _box(t: Text, fig) -> Bbox:
    page = fig.bbox
    ax = t.axes
    inner = Bbox.from_extents(page.x0 + _MARGIN, page.y0 + _MARGIN, page.x1 - _MARGIN,
                              page.y1 - _MARGIN)
    if ax is not None and not ax.axison and t not in (ax.title, ax._left_title, ax._right_title):
        a = ax.bbox
        return Bbox.from_extents(max(inner.x0, a.x0 - _MARGIN), inner.y0,
                                 min(inner.x1, a.x1 + _MARGIN), inner.y1)
    return inner


def _inside(bb: Bbox, box: Bbox) -> bool:
    return (bb.x0 >= box.x0 - 0.5 and bb.x1 <= box.x1 + 0.5 and bb.y0 >= box.y0 - 0.5
            and bb.y1 <= box.y1 + 0.5)


def outside(fig) -> list[str]:
    """Texts of ``fig`` whose window extent is not inside their box (see the module notes)."""
    r = fig.canvas.get_renderer()
    return [t.get_text() for t in _texts(fig) if not _inside(t.get_window_extent(r), _box(t, fig))]


def fit_texts(fig, min_size: float = MIN_FONT) -> None:
    """Shrink (to ``min_size``), then wrap, every text of ``fig`` that does not fit its box."""
    for t in _texts(fig):
        fit_text(t, fig, min_size)


def fit_text(t: Text, fig, min_size: float = MIN_FONT) -> Bbox:
    """Shrink (to ``min_size``), then wrap, one text until it fits its box; returns its
    window extent."""
    r = fig.canvas.get_renderer()
    if True:
        box = _box(t, fig)
        bb = t.get_window_extent(r)
        while not _inside(bb, box) and t.get_fontsize() > min_size:
            t.set_fontsize(max(min_size, t.get_fontsize() - 0.5))
            bb = t.get_window_extent(r)
        if _inside(bb, box) or bb.width <= 0:
            return bb
        # wrap to the width available from the text's anchor
        x, _ = t.get_transform().transform(t.get_position())
        ha = t.get_horizontalalignment()
        avail = (box.x1 - x) if ha == "left" else (x - box.x0) if ha == "right" else \
            2 * min(x - box.x0, box.x1 - x)
        lines = t.get_text().split("\n")
        longest = max(len(s) for s in lines) or 1
        width = max(8, int(longest * avail / bb.width) - 1)
        for _ in range(6):
            t.set_text("\n".join(textwrap.fill(s, width) for s in lines))
            bb = t.get_window_extent(r)
            if _inside(bb, box) or width <= 8:
                break
            width = max(8, int(width * 0.9))
        return bb


def paragraphs(ax, texts: list[str], *, top: float = 0.83, size: float = 6.0,
               min_size: float = 5.0, linespacing: float = 1.3, color: str = "#1a1a1a",
               bullet: str = "• ") -> int:
    """Write ``texts`` as wrapped bulleted paragraphs in ``ax`` (axes coordinates, from
    ``top`` down to 0), at the largest size ≤ ``size`` where all fit.

    Returns
    -------
    int
        How many paragraphs were left out (0 when all fit); when some are, the last line says
        so.
    """
    fig = ax.figure
    r = fig.canvas.get_renderer()
    a = ax.bbox
    avail_w, avail_h = a.width, a.height * top
    probe = ax.text(0, 0, "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789",
                    transform=ax.transAxes)

    def layout(fs: float, items: list[str]):
        probe.set_fontsize(fs)
        char = probe.get_window_extent(r).width / len(probe.get_text())
        width = max(20, int(avail_w / char * 0.97) - 1)
        wrapped = [textwrap.fill(bullet + s, width, subsequent_indent="  ") for s in items]
        line_h = fs * linespacing * fig.dpi / 72.0
        return wrapped, line_h * sum(w.count("\n") + 1 for w in wrapped)

    items = list(texts)
    fs = size
    wrapped, height = layout(fs, items)
    while height > avail_h and fs > min_size:
        fs = max(min_size, fs - 0.25)
        wrapped, height = layout(fs, items)
    dropped = 0
    while height > avail_h and len(items) > 1:
        dropped += 1
        items = texts[: len(texts) - dropped] + [
            f"… {dropped} more note(s) not shown for lack of space (see the dashboard)."]
        wrapped, height = layout(fs, items)
    probe.remove()
    y = top
    line_ax = fs * linespacing * fig.dpi / 72.0 / a.height
    for w in wrapped:
        ax.text(0, y, w, fontsize=fs, va="top", color=color, transform=ax.transAxes,
                linespacing=linespacing)
        y -= line_ax * (w.count("\n") + 1)
    return dropped
