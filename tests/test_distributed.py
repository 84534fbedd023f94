"""geo.distributed: a partitioned Parquet dataset gives the same events locally and on Dask.

Planted cross-source duplicates straddle partition boundaries (midnight of the daily files)
and the distributed engine's time-bin edges; a two-worker ``distributed.LocalCluster`` must
find every one of them and return exactly the local engine's events.
"""

from __future__ import annotations

import contextlib

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


def _edge_straddlers(tmp_path):
    """Records planted on the exact time-bin edges of a 4-bin search, one file per source.

    Anchors at 2024-01-01 00:00 and 2024-01-05 00:00 fix the search range, so the 4 bins own
    the days ``[Jan 1, Jan 2)``, …, ``[Jan 4, Jan 5]`` and their edges are the midnights. Around
    each interior midnight: a pair 10 min either side, a pair whose earlier record sits exactly
    on the edge (owned by the later bin), a pair exactly one window (60 min) apart across the
    edge and a three-source chain across the edge (EMS–police 35 min, police–hospital 35 min,
    EMS–hospital 70 min: not a pair itself, linked through police). The two records of a pair
    are always in different files.
    """
    rows = []

    def add(name, src, t, lat, lon):
        rows.append(dict(incident_id=name, occurred_at=t.strftime("%Y-%m-%dT%H:%M:%S"),
                         lat=lat, lon=lon, source=src, outcome="nonfatal"))

    add("anchor-0", "ems", pd.Timestamp("2024-01-01"), 35.0, -78.0)
    add("anchor-1", "police", pd.Timestamp("2024-01-05"), 35.0, -77.0)
    m = pd.Timedelta(minutes=1)
    pairs = []
    for day in (2, 3, 4):
        edge = pd.Timestamp(f"2024-01-0{day}")
        for k, (ta, tb) in enumerate([(-10, 10), (0, 25), (-1, 59), (-30, 30)]):
            lat, lon = 36.0 + day * 0.05, -79.9 + k * 0.05
            a, b = f"D{day}-{k}-ems", f"D{day}-{k}-police"
            add(a, "ems", edge + ta * m, lat, lon)
            add(b, "police", edge + tb * m, lat + 0.0005, lon)
            pairs.append((a, b))
        lat, lon = 36.0 + day * 0.05, -79.6
        add(f"C{day}-ems", "ems", edge - 30 * m, lat, lon)
        add(f"C{day}-police", "police", edge + 5 * m, lat + 0.0004, lon)
        add(f"C{day}-hospital", "hospital", edge + 40 * m, lat + 0.0008, lon)
    df = pd.DataFrame(rows)
    for src, part in df.groupby("source"):
        part.to_parquet(tmp_path / f"{src}.parquet", index=False)
    return pairs


@pytest.mark.parametrize("n_bins", [2, 4, 8])
def test_dask_merges_pairs_on_bin_edges_as_local(client, tmp_path, n_bins):
    pairs = _edge_straddlers(tmp_path)
    local = read_dataset(tmp_path)
    dist = read_dataset(tmp_path, engine="dask", client=client, n_bins=n_bins)
    pd.testing.assert_frame_equal(_events(dist), _events(local))
    ev = local.incidents
    for a, b in pairs:  # each planted pair is one event of two sources
        hit = ev[ev["incident_id"].astype(str).isin([a, b])]
        assert len(hit) == 1 and int(hit["n_sources"].iloc[0]) == 2, (a, b)
    for day in (2, 3, 4):  # the chain links through police: one event of three sources
        chain = ev[ev["incident_id"].astype(str).str.startswith(f"C{day}-")]
        assert len(chain) == 1 and int(chain["n_sources"].iloc[0]) == 3
    assert local.summary["read"] == 2 + 3 * (4 * 2 + 3)
    assert len(ev) == 2 + 3 * (4 + 1)


# --- events and counts on the workers ---------------------------------------------------------

def _with_repeats(tmp_path):
    """The bin-edge straddlers (one file per source) plus three lone EMS reports and, in a
    later file, three rows identical to them in content (time, place, outcome, source, agency;
    other ids): their record keys need the ordinal among identical rows across partitions."""
    _edge_straddlers(tmp_path)
    solo = pd.DataFrame({"incident_id": ["S1", "S2", "S3"],
                         "occurred_at": ["2024-01-02T12:00:00", "2024-01-03T00:00:00",
                                         "2024-01-04T06:30:00"],
                         "lat": [34.0, 34.1, 34.2], "lon": [-80.0, -80.0, -80.0],
                         "source": "ems", "outcome": "fatal"})
    solo.to_parquet(tmp_path / "solo.parquet", index=False)
    solo.assign(incident_id=solo["incident_id"] + "-again").to_parquet(
        tmp_path / "zz-repeats.parquet", index=False)


@pytest.mark.parametrize("n_bins", [2, 4])
def test_worker_events_and_record_keys_equal_local(client, tmp_path, n_bins):
    """The events kept on the workers, concatenated in partition order, are the local engine's
    events row for row (order and index too) with the keys `with_record_keys` gives them."""
    from geo.distributed import dask_events
    from geo.privacy import with_record_keys
    from geo.privacy.cellkey import content_hashes

    _with_repeats(tmp_path)
    local = with_record_keys(read_dataset(tmp_path).incidents)
    futures, _ = dask_events(tmp_path, client, n_bins=n_bins)
    frames = client.gather(futures)
    assert len(frames) == 5  # ems, hospital (all merged into EMS-owned events), police, ...
    pd.testing.assert_frame_equal(pd.concat(frames), local)
    h = content_hashes(local)
    assert pd.Series(h).duplicated().sum() == 3  # identical rows in two partitions...
    assert local["rkey"].nunique() == len(local)  # ...still get distinct keys
    assert len(local) == 2 + 3 * (4 + 1) + 6  # merged events span the partitions


@pytest.mark.parametrize("tier,outcomes", [("restricted", None), ("public", None),
                                           ("restricted", ("fatal",))])
def test_dask_cell_table_counts_on_workers_equal_local(client, tmp_path, tier, outcomes):
    """Events that straddle a bin edge and a partition boundary are counted once: the cell
    table counted on the workers is the local engine's, and no event frame reaches the client."""
    from geo.distributed_counts import dask_cell_table
    from geo.ingest import load_boundary
    from products.hotspots import cell_table
    from products.query import Query

    _with_repeats(tmp_path)
    boundary = load_boundary("data/sample_boundary.geojson") if tier == "public" else None
    query = Query(res=8, outcomes=outcomes)
    local = cell_table(read_dataset(tmp_path).incidents, query, tier, boundary=boundary)
    with _no_events_to_client(client):
        dist = dask_cell_table(tmp_path, query, tier, boundary=boundary, client=client,
                               n_bins=4)
    pd.testing.assert_frame_equal(dist, local)
    if tier == "restricted":
        assert int(local["count"].sum()) == (6 if outcomes else 2 + 3 * (4 + 1) + 6)
        assert int(local["n_fatal"].sum()) == 6


@contextlib.contextmanager
def _no_events_to_client(client):
    """Asserts that what the client gathers holds count tables, never events or points."""
    gathered = []
    gather = client.gather

    def spy(futures, *args, **kwargs):
        out = gather(futures, *args, **kwargs)
        for item in out if isinstance(out, list) else [out]:
            gathered.extend(item if isinstance(item, tuple) else [item])
        return out

    client.gather = spy
    try:
        yield
    finally:
        del client.gather
    assert gathered
    frames = [g for g in gathered if isinstance(g, pd.DataFrame)]
    assert all("lat" not in f.columns and "rkey" not in f.columns for f in frames)


@pytest.mark.parametrize("tier", ["restricted", "public"])
def test_dask_hotspot_table_counts_on_workers_equal_local(client, dataset, tier):
    """Gi* from the cell counts and total summed over the workers = the local engine's Gi*."""
    from geo.distributed_counts import dask_hotspot_table
    from products.hotspots import hotspot_table
    from products.query import Query

    kw = dict(k_ring=1, permutations=0)
    local = hotspot_table(read_dataset(dataset).incidents, Query(res=8), tier, **kw)
    with _no_events_to_client(client):
        dist = dask_hotspot_table(dataset, Query(res=8), tier, client=client,
                                  options={"n_bins": 3}, **kw)
    pd.testing.assert_frame_equal(dist, local)
    assert dist.attrs["warnings"] == local.attrs["warnings"]
    assert len(local) > 100 and local["class"].nunique() > 1


def test_merge_keyed_counts_adds_keys_modulo():
    from geo.distributed_counts import merge_keyed_counts
    from geo.privacy.cellkey import KEY_MOD

    a = pd.DataFrame({"h3": np.array([5, 9], np.uint64), "count": [1, 2],
                      "count__ckey": [KEY_MOD - 1, 7]})
    b = pd.DataFrame({"h3": np.array([9], np.uint64), "count": [3], "count__ckey": [KEY_MOD - 2]})
    out = merge_keyed_counts([a, b], cells=np.array([1, 9], np.uint64))
    assert out["h3"].tolist() == [1, 5, 9] and out["h3"].dtype == np.uint64
    assert out["count"].tolist() == [0, 1, 5]
    assert out["count__ckey"].tolist() == [0, KEY_MOD - 1, 5]
    assert out["in_grid"].tolist() == [True, False, True]


@pytest.mark.parametrize("tier", ["restricted", "public"])
def test_dask_area_tables_count_on_workers_equal_local(client, dataset, tier):
    """Counts per area of two layers (breakdowns, area-located, prior period) summed over the
    workers, then rates, change and Gi*: the local engine's table."""
    from geo.areas import load_areas
    from geo.distributed_counts import dask_area_tables
    from products.areas import area_tables
    from products.query import Query

    layers = [load_areas("data/sample_neighbourhoods.geojson", "name"),
              load_areas("data/sample_zips.geojson", "zip")]
    query = Query(start="2024-01-01", end="2024-07-01") if tier == "restricted" else Query()
    local = area_tables(read_dataset(dataset).incidents, layers, query, tier)
    with _no_events_to_client(client):
        dist = dask_area_tables(dataset, layers, query, tier, client=client,
                                options={"n_bins": 3})
    pd.testing.assert_frame_equal(dist, local)
    assert dist.attrs["notes"] == local.attrs["notes"]
    assert len(local) == 26 + 11 and "count_prior" in local.columns


@pytest.mark.parametrize("tier,slice", [("restricted", None), ("restricted", "week"),
                                        ("public", None)])
def test_dask_emerging_table_cube_on_workers_equal_local(client, dataset, tier, slice):
    """Emerging hot spots from the cube (cells x slices) summed over the workers, on slice
    bounds fixed from the whole data: the local engine's table."""
    from geo.distributed_counts import dask_emerging_table
    from products.clusters import emerging_table
    from products.query import Query

    local = emerging_table(read_dataset(dataset).incidents, Query(res=8), tier, slice=slice)
    with _no_events_to_client(client):
        dist = dask_emerging_table(dataset, Query(res=8), tier, slice=slice, client=client,
                                   options={"n_bins": 3})
    pd.testing.assert_frame_equal(dist, local)
    assert dist.attrs["slice"] == local.attrs["slice"]
    assert len(local) > 100 and local["category"].nunique() > 1
