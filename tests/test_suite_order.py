"""The suite's cost model: under pytest-xdist the costly tests are handed out first."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests import conftest


class _Item:
    def __init__(self, name: str, *markers: str) -> None:
        self.name, self._markers = name, set(markers)
        self.added: list[object] = []

    def add_marker(self, marker: object) -> None:
        self.added.append(marker)

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self._markers else None


def _items() -> list[_Item]:
    return [
        _Item("unit_a"),
        _Item("integration_a", "integration"),
        _Item("unit_b"),
        _Item("slow_a", "slow", "integration"),
        _Item("slow_b", "slow"),
        _Item("gpu_a", "gpu"),
    ]


def test_a_worker_sorts_the_costliest_first_whatever_xdist_set_numprocesses_to(monkeypatch):
    # each xdist worker collects the items, and xdist sets the worker's numprocesses to None:
    # a sort keyed on numprocesses never ran
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    items = _items()
    config = SimpleNamespace(option=SimpleNamespace(numprocesses=None))
    conftest.pytest_collection_modifyitems(config, items)  # type: ignore[arg-type]
    assert [i.name for i in items] == [
        "slow_a",
        "slow_b",
        "integration_a",
        "unit_a",
        "unit_b",
        "gpu_a",
    ]


def test_one_process_keeps_module_order(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    items = _items()
    config = SimpleNamespace(option=SimpleNamespace(numprocesses=None))
    conftest.pytest_collection_modifyitems(config, items)  # type: ignore[arg-type]
    assert [i.name for i in items] == [i.name for i in _items()]


@pytest.mark.parametrize("worker", ["gw0", None])
def test_gpu_tests_are_skipped_with_the_reason_without_cuda(monkeypatch, worker):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    if worker:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    else:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    gpu = _Item("gpu_a", "gpu")
    conftest.pytest_collection_modifyitems(
        SimpleNamespace(option=SimpleNamespace(numprocesses=None)),  # type: ignore[arg-type]
        [_Item("unit"), gpu],
    )
    assert len(gpu.added) == 1 and "CUDA" in str(gpu.added[0])
