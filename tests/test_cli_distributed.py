"""`gapmap cells|areas|hotspots|ingest` on a partitioned Parquet dataset: local = Dask engine."""

from __future__ import annotations

import pandas as pd
import pytest

import cli
from geo.store import IncidentStore

SAMPLE = "data/sample_incidents.csv"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("parts")
    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    for q, part in raw.groupby(raw["occurred_at"].str.slice(0, 4), sort=True):
        part.to_parquet(root / f"year-{q}.parquet", index=False)
    whole = root.parent / "whole.parquet"
    raw.to_parquet(whole, index=False)
    return root, whole


@pytest.fixture(scope="module")
def scheduler():
    """A two-worker in-process cluster (threads): the CLI connects with --scheduler, as to a
    real cluster. Worker processes would only add start-up time that a busy CI machine can
    exceed; the engine's code path is the same."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _cells(*args):
    return cli.main(["cells", "--tier", "restricted", "--res", "8", *map(str, args)])


def test_cells_folder_glob_and_dask_equal_one_file(dataset, tmp_path, scheduler):
    root, whole = dataset
    outs = {}
    for name, extra in {
        "file": ["--incidents", whole],
        "folder": ["--incidents", root],
        "glob": ["--incidents", f"{root}/year-*.parquet"],
        "dask": ["--incidents", root, "--engine", "dask", "--scheduler", scheduler],
    }.items():
        out = tmp_path / f"{name}.csv"
        assert _cells(*extra, "--out", out) == 0
        outs[name] = pd.read_csv(out).sort_values("h3").reset_index(drop=True)
    assert outs["file"]["count"].sum() > 4000  # the sample's events
    for name in ("folder", "glob", "dask"):
        pd.testing.assert_frame_equal(outs[name], outs["file"])


def test_cells_public_with_boundary_counted_on_workers_equal_local(dataset, tmp_path, scheduler):
    """Public tier (release window, perturbation, suppression) and the zero-filled study-area
    grid: `cells --engine dask` (counted on the workers) writes the local engine's file."""
    root, whole = dataset
    outs = {}
    for name, extra in {"file": ["--incidents", whole],
                        "dask": ["--incidents", f"{root}/year-*.parquet", "--engine", "dask",
                                 "--scheduler", scheduler]}.items():
        out = tmp_path / f"{name}.csv"
        assert cli.main(["cells", "--res", "8", "--boundary", "data/sample_boundary.geojson",
                         *map(str, extra), "--out", str(out)]) == 0
        outs[name] = pd.read_csv(out)
    assert outs["file"]["suppressed"].any() and (outs["file"]["in_grid"]).sum() > 100
    pd.testing.assert_frame_equal(outs["dask"], outs["file"])


@pytest.mark.parametrize("tier", ["restricted", "public"])
def test_areas_with_dask_equal_local(dataset, tmp_path, scheduler, tier):
    """Point-in-polygon counts per area (two layers), prior period and Gi*: the same table."""
    root, whole = dataset
    layers = ["--areas", "data/sample_neighbourhoods.geojson", "--area-name", "name",
              "--areas", "data/sample_zips.geojson", "--area-name", "zip"]
    window = ["--start", "2024-01-01", "--end", "2024-12-30"] if tier == "restricted" else []
    outs = {}
    for name, extra in {"file": ["--incidents", whole],
                        "dask": ["--incidents", root, "--engine", "dask",
                                 "--scheduler", scheduler]}.items():
        out = tmp_path / f"{name}.csv"
        assert cli.main(["areas", "--tier", tier, *map(str, extra), *layers, *window,
                         "--out", str(out)]) == 0
        outs[name] = pd.read_csv(out).sort_values(["unit", "area"]).reset_index(drop=True)
    assert len(outs["file"]) == 26 + 11
    if tier == "restricted":
        assert outs["file"]["count"].sum() > 1000
    pd.testing.assert_frame_equal(outs["dask"], outs["file"])


@pytest.mark.parametrize("method,tier", [("gi", "restricted"), ("gi", "public"),
                                         ("emerging", "restricted")])
def test_hotspots_with_dask_equal_local(dataset, tmp_path, scheduler, method, tier):
    """The hotspot inputs (events per cell) read on Dask give the same Gi* table."""
    root, whole = dataset
    outs = {}
    for name, extra in {"file": ["--incidents", whole],
                        "dask": ["--incidents", root, "--engine", "dask",
                                 "--scheduler", scheduler]}.items():
        out = tmp_path / f"{name}.csv"
        assert cli.main(["hotspots", "--method", method, "--tier", tier, "--res", "8",
                         *map(str, extra), "--out", str(out)]) == 0
        outs[name] = pd.read_csv(out).sort_values("h3").reset_index(drop=True)
    col = "class" if method == "gi" else "category"
    assert len(outs["file"]) > 50 and outs["file"][col].nunique() > 1
    pd.testing.assert_frame_equal(outs["dask"], outs["file"])


def test_ingest_dataset_with_dask_equals_one_file(dataset, tmp_path, capsys, scheduler):
    root, whole = dataset
    a, b = IncidentStore(tmp_path / "a.duckdb"), IncidentStore(tmp_path / "b.duckdb")
    assert cli.main(["ingest", str(whole), "--store", str(a.path)]) == 0
    assert cli.main(["ingest", str(root), "--engine", "dask", "--scheduler", scheduler,
                     "--store", str(b.path)]) == 0
    assert "store now" in capsys.readouterr().out
    sa, sb = a.status(), b.status()
    assert (sa["rows"], sa["events"]) == (sb["rows"], sb["events"])
    assert sa["events"] > 4000
    ea = a.load().sort_values("event_id").reset_index(drop=True)
    eb = b.load().sort_values("event_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(ea, eb)


def test_missing_dataset_is_one_sentence(tmp_path, capsys):
    rc = _cells("--incidents", f"{tmp_path}/nothing-*.parquet", "--out", tmp_path / "o.csv")
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no file matches" in err[0]


def test_scheduler_implies_dask_and_refuses_local(dataset, tmp_path, scheduler, capsys):
    from distributed import Client

    root, whole = dataset
    out = tmp_path / "s.csv"
    with Client(scheduler) as c:
        def count(dask_scheduler):
            return dask_scheduler.transition_counter

        before = c.run_on_scheduler(count)
        assert _cells("--incidents", whole, "--scheduler", scheduler, "--out", out) == 0
        assert c.run_on_scheduler(count) > before  # the cluster ran the reading
    ref = tmp_path / "ref.csv"
    assert _cells("--incidents", whole, "--out", ref) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(ref))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        _cells("--incidents", root, "--engine", "local", "--scheduler", scheduler,
               "--out", tmp_path / "x.csv")
    assert exc.value.code == 2
    assert "--scheduler needs --engine dask" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("command", [
    ["cells", "--res", "8"],
    ["hotspots", "--method", "gi", "--res", "8"],
    ["hotspots", "--method", "emerging", "--res", "8"],
    ["areas", "--areas", "data/sample_neighbourhoods.geojson", "--area-name", "name"],
])
def test_dask_commands_never_gather_the_events(dataset, tmp_path, scheduler, monkeypatch,
                                               command):
    """With --engine dask these commands count on the workers: the path that gathers events
    to the client (geo.distributed.read_dataset) is never taken."""
    import geo.distributed

    def gather_path(*args, **kwargs):
        raise AssertionError("the events were gathered to the client")

    root, _ = dataset
    monkeypatch.setattr(geo.distributed, "read_dataset", gather_path)
    out = tmp_path / "out.csv"
    assert cli.main([*command, "--tier", "restricted", "--incidents", str(root),
                     "--scheduler", scheduler, "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) > 10
