"""Shared fixtures. Unit tests may never reach a real model: the guard makes such a call fail."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import emotion_director.agents.models as chat_models
from emotion_director import Settings, build_graph
from emotion_director.testing import TestChatModel
from tests.simulated import simulated_env

pytest_plugins = ["tests.cpu_report"]


@pytest.fixture(autouse=True)
def _forbid_real_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    allowed = request.node.get_closest_marker("integration") is not None
    monkeypatch.setattr(chat_models, "ALLOW_MODEL_REQUESTS", allowed)
    for key in ("BACKEND", "BASE_URL", "API_KEY", "MODEL", "MODEL_PATH", "SEED", "READING_MODE"):
        monkeypatch.delenv(f"EMOTION_DIRECTOR_{key}", raising=False)
    yield


@pytest.fixture
def loopback_model_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets this process call a model: for tests whose model is a simulated OpenAI-compatible
    server on loopback (``emotion_director.testing.SimulatedOpenAIServer``), not a real one."""
    monkeypatch.setattr(chat_models, "ALLOW_MODEL_REQUESTS", True)


@pytest.fixture
def simulated_backend(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A run whose model is the simulated OpenAI-compatible server on loopback
    (:mod:`tests.simulated`): set in this process's environment for CLI tests; the returned
    variables go to a subprocess's."""
    env = simulated_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(chat_models, "ALLOW_MODEL_REQUESTS", True)
    return env


@pytest.fixture
def test_model() -> TestChatModel:
    return TestChatModel()


@pytest.fixture
def test_settings() -> Settings:
    return Settings()


class AsyncDriven:
    """A compiled graph whose ``invoke``/``stream`` run through ``ainvoke``/``astream``.

    Graph tests are written once, with ``invoke``/``stream``; through the ``drive`` fixture each
    runs twice, once on the graph's sync path and once on its async path (LangGraph parametrises
    its own tests so). Everything else (``get_state``, ``get_graph``...) is the graph's own.
    """

    def __init__(self, graph: Any) -> None:
        self.graph = graph

    def __getattr__(self, name: str) -> Any:
        return getattr(self.graph, name)

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        return asyncio.run(self.graph.ainvoke(input, config, **kwargs))

    def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
        async def collect() -> list[Any]:
            return [chunk async for chunk in self.graph.astream(input, config, **kwargs)]

        return iter(asyncio.run(collect()))


@pytest.fixture(params=["invoke", "ainvoke"])
def drive(request: pytest.FixtureRequest) -> Callable[[Any], Any]:
    """Wraps a compiled graph so the test runs it sync (``invoke``) or async (``ainvoke``)."""
    return (lambda graph: graph) if request.param == "invoke" else AsyncDriven


@pytest.fixture
def graph(test_settings: Settings, test_model: TestChatModel, drive: Callable[[Any], Any]):
    return drive(build_graph(test_settings, chat_model=test_model))


@pytest.fixture
def no_read_risk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranks concepts without the blind readers' labels (``data/concept_risk.tsv`` and the
    reader risk of ``scenefit/data/reader_pairs.npz``): for tests that pin an order made by the
    ranking's other terms, which the labels, growing with every labelled set, would move."""
    from emotion_director.agents import persona_agent

    monkeypatch.setattr(persona_agent, "concept_risk", dict)
    monkeypatch.setenv("EMOTION_DIRECTOR_READ_RISK", "false")


def pytest_configure(config: pytest.Config) -> None:
    """A pytest-xdist worker runs on its own share of the cores, and so does every process it
    starts; OpenMP (torch) gets that many threads unless told otherwise. Threads of two workers
    on one core spin against each other: unpinned, the real-model tests ran 3x slower and the
    suite spent 1.3x the CPU. With more workers than cores, each gets one thread and no pin."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not worker or not count or int(count) < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    index, workers = int(worker.removeprefix("gw")), int(count)
    share = cores[index % workers :: workers] if len(cores) >= workers else []
    if share:
        try:
            os.sched_setaffinity(0, share)
        except OSError:  # a container that forbids it: run unpinned
            share = []
    os.environ.setdefault("OMP_NUM_THREADS", str(max(len(share), 1)))


def _cost_rank(item: pytest.Item) -> int:
    """0 for a ``slow`` test on a real model or server (the longest: whole rewrites), 1 for
    another ``slow`` test, 2 for another ``integration`` test, 3 for the rest."""
    slow = item.get_closest_marker("slow") is not None
    integration = item.get_closest_marker("integration") is not None
    return (0 if slow else 2) + (0 if integration else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist load --maxschedchunk 2``: each worker
    takes two tests at a time from one queue) the costly tests are handed out first, to every
    worker, so that none is left with a minute-long test while the other has finished (longest
    first keeps the workers' ends close); ``gpu`` tests are skipped, with the reason, where no
    CUDA device is present."""
    # the sort happens where the items are collected: in each worker, where xdist has set
    # ``numprocesses`` to None (every worker collects, and sorts, the same list)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_cost_rank)  # stable: module order within each rank
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA device (marked gpu)")
        for item in gpu_items:
            item.add_marker(skip)
