"""Encryption at rest for gapmap's DuckDB files: the key from the environment, the crypto module.

Shared by the operations database (:mod:`cases.db`, ``GAPMAP_CASES_KEY``) and the incident store
(:mod:`geo.store_open`, ``GAPMAP_STORE_KEY``). A key is read from ``<NAME>`` or from the file
named by ``<NAME>_FILE``; DuckDB then encrypts the whole file (AES-GCM).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

__all__ = ["key_from_env", "load_crypto", "UNSAFE_ENV"]

#: Set to 1 to write encrypted files with DuckDB's built-in mbedtls module when the httpfs
#: extension (OpenSSL) is not installed; DuckDB calls that mode not securely encrypted.
UNSAFE_ENV = "GAPMAP_CASES_MBEDTLS"


def key_from_env(key_env: str, file_env: str, what: str) -> str | None:
    """The key in ``key_env``, else in the file named by ``file_env``, else None.

    Parameters
    ----------
    key_env, file_env : str
        Environment variable names (e.g. ``GAPMAP_STORE_KEY``, ``GAPMAP_STORE_KEY_FILE``).
    what : str
        The protected file, for messages (e.g. ``"cases"``).

    Raises
    ------
    ValueError
        The key file cannot be read or is empty.
    """
    key = os.environ.get(key_env, "").strip()
    if key:
        return key
    kf = os.environ.get(file_env, "").strip()
    if kf:
        try:
            key = Path(kf).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read the {what} key file {kf}: {exc.strerror}") from None
        if not key:
            raise ValueError(f"the {what} key file {kf} is empty")
        return key
    return None


def load_crypto(con, what: str) -> None:
    """Load a writing crypto module into ``con``: httpfs, or (opted in) DuckDB's mbedtls.

    Raises
    ------
    ValueError
        Neither httpfs is installed nor ``GAPMAP_CASES_MBEDTLS=1`` is set.
    """
    try:
        con.execute("LOAD httpfs")
        return
    except duckdb.Error:
        pass
    if os.environ.get(UNSAFE_ENV, "").strip() == "1":
        con.execute("SET force_mbedtls_unsafe = 'true'")
        return
    raise ValueError(
        f"encrypting the {what} needs DuckDB's httpfs extension: run "
        "python -c \"import duckdb; duckdb.execute('INSTALL httpfs')\" once on the server "
        f"(or set {UNSAFE_ENV}=1 to accept DuckDB's weaker built-in module)"
    )
