"""False-discovery-rate control: Benjamini–Hochberg q-values.

References
----------
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
powerful approach to multiple testing. *Journal of the Royal Statistical Society B* 57(1),
289–300.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["bh_qvalues"]


def bh_qvalues(p) -> np.ndarray | pd.Series:
    """Benjamini–Hochberg adjusted p-values (q-values).

    Sort the ``m`` p-values ascending; ``q_(i) = min_{j ≥ i} p_(j) · m / j``, capped at 1, and
    returned in the input order. A cell is a discovery at FDR level ``α`` when ``q ≤ α``.
    Missing p-values (NaN) are left out of ``m`` and stay NaN.

    Parameters
    ----------
    p : array-like or pandas.Series of float in [0, 1]

    Returns
    -------
    numpy.ndarray or pandas.Series
        Same shape (and index, for a Series) as ``p``.

    Raises
    ------
    ValueError
        If any p-value lies outside [0, 1].

    References
    ----------
    Benjamini and Hochberg (1995), step-up procedure; the q-value form is the adjusted
    p-value of R's ``p.adjust(method = "BH")``.
    """
    index = p.index if isinstance(p, pd.Series) else None
    arr = np.asarray(p, dtype=float)
    shape = arr.shape
    flat = arr.ravel()
    ok = ~np.isnan(flat)
    if np.any((flat[ok] < 0) | (flat[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]; got values outside that range")
    q = np.full(flat.shape, np.nan)
    pv = flat[ok]
    m = pv.size
    if m:
        order = np.argsort(pv, kind="stable")
        ranked = pv[order] * m / np.arange(1, m + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        qq = np.empty(m)
        qq[order] = np.minimum(ranked, 1.0)
        q[ok] = qq
    q = q.reshape(shape)
    return pd.Series(q, index=index, name="q") if index is not None else q
