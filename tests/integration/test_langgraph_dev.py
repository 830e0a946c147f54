"""``langgraph dev`` serves the graph named in ``langgraph.json`` and a ``langgraph_sdk`` client
streams it (``stream_mode=["updates", "messages"]``), with the openai backend pointed at the
in-library simulated OpenAI-compatible server on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from emotion_director.testing import SimulatedOpenAIServer

pytest.importorskip("langgraph_api", reason="langgraph-cli[inmem] not installed (dev extra)")
from langgraph_sdk import get_client  # noqa: E402  (after the skip: installed with langgraph)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
REQUEST = {"prompt": "a dog in a park", "emotion": "awe", "personas": ["poet", "child"], "seed": 0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    # the CLI starts the API server as a child: end the whole process group
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``langgraph dev`` on a free loopback port, serving the repository's ``langgraph.json``.

    It runs in a scratch folder holding a copy of ``langgraph.json`` and a link to the package,
    because the CLI resolves graph paths against, and writes its ``.langgraph_api/`` state to,
    the working directory. Yields ``(api_url, simulated_server)``.
    """
    langgraph = Path(sys.executable).with_name("langgraph")
    if not langgraph.exists():
        pytest.fail(f"{langgraph} missing: install the dev extra (langgraph-cli[inmem])")
    work = tmp_path_factory.mktemp("langgraph-dev")
    shutil.copy(REPO / "langgraph.json", work / "langgraph.json")
    (work / "emotion_director").symlink_to(REPO / "emotion_director", target_is_directory=True)
    with SimulatedOpenAIServer("ok") as server:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
        env.update(
            EMOTION_DIRECTOR_BACKEND="openai",
            EMOTION_DIRECTOR_BASE_URL=server.url,
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
            # the machine has no route out: no analytics, tracing or version checks
            LANGGRAPH_CLI_NO_ANALYTICS="1",
            LANGSMITH_TRACING="false",
            LANGCHAIN_TRACING_V2="false",
        )
        log_path = work / "server.log"
        with log_path.open("w+b") as log:
            proc = subprocess.Popen(
                [
                    str(langgraph),
                    "dev",
                    "--no-browser",
                    "--no-reload",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 90
                while True:
                    try:
                        urllib.request.urlopen(f"{url}/ok", timeout=2).read()
                        break
                    except OSError:
                        if proc.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError(
                                "langgraph dev did not start: "
                                + log_path.read_text(errors="replace")[-3000:]
                            )
                        time.sleep(0.5)
                yield url, server
            finally:
                _stop(proc)


async def _stream(url: str, request: dict) -> list:
    client = get_client(url=url)
    thread = await client.threads.create()
    return [
        part
        async for part in client.runs.stream(
            thread["thread_id"], "mc_agent", input=request, stream_mode=["updates", "messages"]
        )
    ]


async def test_langgraph_dev_streams_updates_and_messages_to_a_final_prompt(served):
    url, server = served
    calls_before = len(server.bodies)
    parts = await _stream(url, REQUEST)
    events = [p.event for p in parts]
    errors = [p.data for p in parts if p.event == "error"]
    assert not errors, errors

    updates = [p.data for p in parts if p.event == "updates"]
    nodes = [node for update in updates for node in update]
    assert {"parse_request", "persona_reading", "consensus"} <= set(nodes)
    final = [u["consensus"]["final_prompt"] for u in updates if "consensus" in u]
    assert len(final) == 1 and "a dog in a park" in final[0], final
    readings = [
        r["persona"]
        for u in updates
        if "persona_reading" in u
        for r in u["persona_reading"]["readings"]
    ]
    assert sorted(readings) == ["child", "poet"]

    # "messages" mode: every model call of the run reaches the client, tagged with its node
    completes = [p.data[0] for p in parts if p.event == "messages/complete"]
    assert "messages/metadata" in events and completes
    tool_names = {call["name"] for message in completes for call in message["tool_calls"]}
    assert "WrittenReading" in tool_names
    # the answers came from the simulated server, not some other backend
    assert len(server.bodies) - calls_before == len(completes)


async def test_langgraph_dev_reports_an_unknown_emotion_as_one_error_event(served):
    url, server = served
    calls_before = len(server.bodies)
    parts = await _stream(url, {**REQUEST, "emotion": "glee-ish"})
    errors = [p.data for p in parts if p.event == "error"]
    assert len(errors) == 1
    assert errors[0]["error"] == "UnknownEmotionError"
    assert "unknown emotion 'glee-ish'" in errors[0]["message"]
    assert "awe" in errors[0]["message"]  # says which emotions are valid
    assert not [p for p in parts if p.event == "updates" and "consensus" in p.data]
    assert len(server.bodies) == calls_before  # refused before any model call


async def test_langgraph_dev_run_context_changes_personas_and_weights_per_run(served):
    """Studio / the SDK pass a run context: the served factory graph takes it per run."""
    url, _ = served
    client = get_client(url=url)
    request = {"prompt": "a dog in a park", "emotion": "awe", "seed": 0}
    for personas in (["child"], ["poet", "child"]):
        thread = await client.threads.create()
        parts = [
            part
            async for part in client.runs.stream(
                thread["thread_id"],
                "mc_agent",
                input=request,
                stream_mode="updates",
                context={"personas": personas, "persona_weights": {"child": 3}},
            )
        ]
        assert not [p.data for p in parts if p.event == "error"]
        readings = [
            r
            for p in parts
            if p.event == "updates" and "persona_reading" in p.data
            for r in p.data["persona_reading"]["readings"]
        ]
        assert sorted(r["persona"] for r in readings) == sorted(personas)
        assert {r["persona"]: r["weight"] for r in readings}["child"] == 3
    thread = await client.threads.create()
    parts = [
        part
        async for part in client.runs.stream(
            thread["thread_id"],
            "mc_agent",
            input=request,
            stream_mode="updates",
            context={"personas": ["nobody"]},
        )
    ]
    errors = [p.data for p in parts if p.event == "error"]
    assert len(errors) == 1 and "unknown persona(s) nobody" in errors[0]["message"]


def test_served_module_imports_without_building_the_graph():
    code = (
        "import sys, time; t = time.perf_counter(); import emotion_director.graph.server as s; "
        "print(s._built is None, 'llama_cpp' not in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.stdout.split() == ["True", "True"], done.stderr
