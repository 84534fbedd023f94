"""geo.distributed: a partitioned Parquet dataset gives the same events locally and on Dask.

Planted cross-source duplicates straddle partition boundaries (midnight of the daily files)
and the distributed engine's time-bin edges; a two-worker ``distributed.LocalCluster`` must
find every one of them and return exactly the local engine's events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.distributed import dataset_files, is_dataset, read_dataset

SAMPLE = "data/sample_incidents.csv"


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _planted(n_pairs: int = 40) -> pd.DataFrame:
    """EMS/police pairs 2–48 min apart across the midnight that starts a month, ~90 m apart."""
    rng = np.random.default_rng(7)
    rows = []
    for k in range(n_pairs):
        day = pd.Timestamp("2024-01-01") + pd.DateOffset(months=k % 10)
        t_ems = day - pd.Timedelta(minutes=int(rng.integers(1, 25)))
        t_pol = day + pd.Timedelta(minutes=int(rng.integers(1, 25)))
        lat, lon = 36.0 + k * 0.01, -79.8 + k * 0.003
        rows.append(dict(incident_id=f"PL-E{k}", occurred_at=t_ems.isoformat(), lat=lat, lon=lon,
                         outcome="nonfatal", naloxone="yes", source="ems", agency="A"))
        rows.append(dict(incident_id=f"PL-P{k}", occurred_at=t_pol.isoformat(),
                         lat=lat + 0.0008, lon=lon, outcome="nonfatal", naloxone="no",
                         source="police", agency="B"))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """The sample plus planted straddlers, one Parquet file per month in month folders."""
    root = tmp_path_factory.mktemp("ds")
    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    raw = pd.concat([raw, _planted().astype(str)], ignore_index=True)
    month = raw["occurred_at"].str.slice(0, 7)
    for d, part in raw.groupby(month, sort=True):
        folder = root / f"month={d}"
        folder.mkdir()
        part.to_parquet(folder / "part-0.parquet", index=False)
    return root


def _events(res) -> pd.DataFrame:
    ev = res.incidents.sort_values("event_id").reset_index(drop=True)
    return ev


def test_dataset_files_folder_glob_and_errors(dataset, tmp_path):
    files = dataset_files(dataset)
    assert len(files) > 10 and files == sorted(files)
    assert dataset_files(f"{dataset}/month=2024-0*/*.parquet") == [
        f for f in files if "month=2024-0" in str(f)]
    assert is_dataset(dataset) and is_dataset("x/*.parquet") and not is_dataset(SAMPLE)
    with pytest.raises(FileNotFoundError, match="no .parquet files"):
        dataset_files(tmp_path)
    with pytest.raises(FileNotFoundError, match="no file matches"):
        dataset_files(f"{tmp_path}/*.parquet")


def test_local_dataset_equals_one_file(dataset, tmp_path):
    """Partitioning changes nothing: the dataset = the same rows as one Parquet file."""
    raw = pd.concat([pd.read_parquet(f) for f in dataset_files(dataset)], ignore_index=True)
    one = tmp_path / "all.parquet"
    raw.to_parquet(one, index=False)
    a = read_dataset(dataset)
    b = read_dataset(one)
    pd.testing.assert_frame_equal(_events(a), _events(b))
    assert a.summary["partitions"] > 10 and b.summary["partitions"] == 1
    assert a.summary["read"] == len(raw) == b.summary["read"]


@pytest.mark.parametrize("n_bins", [1, 3, 17])
def test_dask_equals_local_and_merges_every_straddler(client, dataset, n_bins):
    local = read_dataset(dataset)
    dist = read_dataset(dataset, engine="dask", client=client, n_bins=n_bins)
    pd.testing.assert_frame_equal(_events(dist), _events(local))
    assert dist.summary["merged"] == local.summary["merged"]
    assert dist.summary["events"] == len(local.incidents)
    ev = local.incidents
    for k in range(40):  # every planted pair across midnight became one event
        hit = ev[ev["sources"].astype(str).str.contains("ems") &
                 ev["incident_id"].astype(str).isin([f"PL-E{k}", f"PL-P{k}"])]
        assert len(hit) == 1 and int(hit["n_sources"].iloc[0]) == 2


def test_single_partition_dedup_would_miss_the_straddlers(dataset):
    """The reference really needs cross-partition merging: per-file de-dup misses all 40."""
    spec = f"{dataset}/month=2024-*/*.parquet"
    per_file = sum(read_dataset(f).summary["merged"] for f in dataset_files(spec))
    whole = read_dataset(spec).summary["merged"]
    assert whole - per_file >= 36  # 4 of the 40 pairs straddle 2023-12 | 2024-01


def test_dask_rejects_carry_file_and_line(client, tmp_path):
    pd.DataFrame({"incident_id": ["a", "b"], "occurred_at": ["2024-01-01T10:00", "not a date"],
                  "lat": ["36", "36"], "lon": ["-79", "-79"], "source": ["ems", "ems"]}
                 ).to_parquet(tmp_path / "p1.parquet", index=False)
    res = read_dataset(tmp_path, engine="dask", client=client)
    assert res.summary["rejected"] == 1 and res.summary["accepted"] == 1
    assert res.rejects[["line", "file"]].values.tolist() == [[3, str(tmp_path / "p1.parquet")]]


def test_bad_engine():
    with pytest.raises(ValueError, match="engine must be one of"):
        read_dataset(SAMPLE, engine="spark")


def test_unreachable_scheduler_is_one_sentence():
    import socket

    from geo.distributed import dask_client

    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler at tcp://127.0.0.1"), \
            dask_client(f"tcp://127.0.0.1:{port}", timeout="2s"):
        pass
