"""The workers' metrics directory starts empty of old counts, and is never set up too late."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from web.shared_metrics import MULTIPROC_ENV, shared_metrics


def test_a_given_directory_loses_only_a_previous_runs_counts(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    stale = ["counter_4711.db", "histogram_4711.db", "gauge_livesum_4711.db"]
    kept = ["leanplan.sqlite3", "notes.db", "counter_notes.txt"]
    for name in stale + kept:
        (directory / name).write_bytes(b"x")
    environ = {MULTIPROC_ENV: str(directory)}
    with shared_metrics(environ) as used:
        assert used == directory
        assert sorted(p.name for p in directory.iterdir()) == sorted(kept)
    assert environ == {MULTIPROC_ENV: str(directory)}


def test_a_missing_given_directory_is_made(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "metrics"
    with shared_metrics({MULTIPROC_ENV: str(directory)}):
        assert directory.is_dir()


def test_a_directory_made_after_prometheus_client_was_imported_is_refused() -> None:
    assert "prometheus_client" in sys.modules  # tests/ops/support.py imported it
    environ: dict[str, str] = {}
    with pytest.raises(RuntimeError, match="imported before PROMETHEUS_MULTIPROC_DIR"):
        with shared_metrics(environ):
            pass
    assert environ == {}
