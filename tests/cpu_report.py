"""``--cpu-report N``: the N tests that cost the most CPU, their own and their child processes'.

On a machine with as many busy workers as cores, a suite's wall time is its CPU divided by the
cores, and ``--durations`` (wall time) hides what a test spends in the processes it starts (a
CLI run, a server). ``make test`` prints both tables.
"""

from __future__ import annotations

import resource
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-report",
        type=int,
        default=0,
        metavar="N",
        help="print the N tests that cost the most CPU: their own (the test process, all its "
        "threads) and their child processes' (those reaped during the test), beside the wall "
        "time --durations shows; a test suite's cost on 2 cores is its CPU, not its wall time",
    )


def _cpu_now() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


_CPU_START = pytest.StashKey[tuple[float, float]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    if item.config.getoption("cpu_report"):
        item.stash[_CPU_START] = _cpu_now()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if call.when == "teardown" and _CPU_START in item.stash:
        start, end = item.stash[_CPU_START], _cpu_now()
        report.user_properties.append(("cpu", (end[0] - start[0], end[1] - start[1])))
    return report


#: Each test's (CPU, own, children, node id), gathered where the reports end.
_COSTS: list[tuple[float, float, float, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Where the reports end (the controller, under xdist): each test's CPU, from its teardown."""
    for key, value in report.user_properties:
        if key == "cpu" and report.when == "teardown":
            own, children = value
            _COSTS.append((own + children, own, children, report.nodeid))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    top, costs = config.getoption("cpu_report"), _COSTS
    if not top or not costs:
        return
    total = sum(cost[0] for cost in costs)
    own_total = sum(cost[1] for cost in costs)
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", f"CPU of the {min(top, len(costs))} costliest tests")
    write(
        f"all {len(costs)} tests: {total:.1f} CPU-s ({own_total:.1f} own, "
        f"{total - own_total:.1f} in child processes)"
    )
    for cost, own, children, nodeid in sorted(costs, reverse=True)[:top]:
        write(f"{cost:8.2f}s {own:8.2f} own {children:8.2f} children  {nodeid}")
