"""The on-disk cache is verified: shapes and checksums per array, damaged entries rebuilt, the source file
recorded, and the data module names the file actually passed."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from astrolab.data.cache import load_cached, save_cached
from astrolab.data.datamodules import GaiaDataModule
from astrolab.data.io import write_table
from tests.data_fixtures import gaia_table


def _td() -> TensorDict:
    nodes = TensorDict({"x": torch.randn(50, 3, dtype=torch.float64), "id": torch.arange(50) + 2**60,
                        "m": torch.arange(50) % 2 == 0}, batch_size=[50])
    edges = TensorDict({"index": torch.randint(0, 50, (200, 2))}, batch_size=[200])
    return TensorDict({"nodes": nodes, "edges": edges}, batch_size=[])


def test_round_trip_keeps_arrays_dtypes_and_batch_sizes(tmp_path):
    td = _td()
    entry = save_cached(tmp_path, "k", "key1", td, {"a": 1}, source={"path": "/x/file.csv", "checksum": "abc"})
    assert sorted(p.suffix for p in entry.iterdir()) == [".json"] + [".npy"] * 4
    assert np.load(next(entry.glob("*.npy")), mmap_mode="r") is not None  # memory-mappable
    back, meta = load_cached(tmp_path, "k", "key1")
    assert meta["a"] == 1 and meta["cache_entry"]["built_from"] == {"path": "/x/file.csv", "checksum": "abc"}
    assert back["nodes"].batch_size == torch.Size([50]) and back["edges"].batch_size == torch.Size([200])
    for key in (("nodes", "x"), ("nodes", "id"), ("nodes", "m"), ("edges", "index")):
        assert back[key].dtype == td[key].dtype and torch.equal(back[key], td[key])


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_damaged_entry_is_detected_logged_and_dropped(tmp_path, caplog, damage):
    entry = save_cached(tmp_path, "k", "key2", _td(), {})
    files = sorted(entry.glob("*.npy"), key=lambda p: p.stat().st_size)
    victim = files[-1]
    raw = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":  # same size, one byte changed: only the checksum sees it
        victim.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    elif damage == "delete":
        victim.unlink()
    else:
        (entry / "manifest.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert load_cached(tmp_path, "k", "key2") is None
    assert "is damaged" in caplog.text and "rebuilding" in caplog.text
    assert not entry.exists()


def test_data_module_rebuilds_a_truncated_entry_and_names_the_file_passed(tmp_path, caplog):
    first = write_table(gaia_table(), tmp_path / "first.csv")
    cache = tmp_path / "cache"
    dm = GaiaDataModule(path=str(first), target="member", graph={"k": 8}, cache_dir=str(cache))
    dm.setup()
    assert dm.meta["cache"] == "built"
    edges = dm.graph["edges", "index"].clone()
    # the edge array is truncated on disk: detected, rebuilt, identical graph
    entry = next((cache / "node_graph").iterdir())
    npy = max(entry.glob("*.npy"), key=lambda p: p.stat().st_size)
    npy.write_bytes(npy.read_bytes()[:200])
    with caplog.at_level(logging.WARNING):
        dm2 = GaiaDataModule(path=str(first), target="member", graph={"k": 8}, cache_dir=str(cache))
        dm2.setup()
    assert dm2.meta["cache"] == "built" and "is damaged" in caplog.text
    assert torch.equal(dm2.graph["edges", "index"], edges)
    # another file with the same bytes reuses the entry, and describe() names the file actually passed
    second = tmp_path / "second.csv"
    shutil.copy(first, second)
    first.unlink()
    dm3 = GaiaDataModule(path=str(second), target="member", graph={"k": 8}, cache_dir=str(cache))
    dm3.setup()
    assert dm3.meta["cache"] == "hit"
    assert dm3.describe()["source"] == str(second)
    assert dm3.meta["cache_entry"]["built_from"]["path"] == str(first)
