"""Real servers on 127.0.0.1 for integration tests: llama.cpp's OpenAI-compatible server running
the same SmolLM2 GGUF as the embedded backend, and a deliberately misbehaving server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from emotion_director.agents.embedded import default_gguf_path, usable_cores


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """``python -m llama_cpp.server`` on a free loopback port; yields its /v1 URL."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+b")
    proc = subprocess.Popen(  # log to a file: a full stderr pipe would block the server
        [
            sys.executable,
            "-c",  # `python -m llama_cpp.server`, its model loaded safely on AMX CPUs
            "from emotion_director.agents.embedded import serve_llama_cpp; serve_llama_cpp()",
            "--model",
            str(default_gguf_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            str(usable_cores()),  # this worker's share of the cores (tests/conftest.py)
            "--verbose",
            "False",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                raise RuntimeError(f"llama.cpp server did not start: {log.read()[-2000:]!r}")
            time.sleep(0.5)
    yield url
    log.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def misbehaving_server(request):
    from emotion_director.testing import SimulatedOpenAIServer

    with SimulatedOpenAIServer(request.param) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A throwaway PostgreSQL server on 127.0.0.1 (Debian's binaries; .ci/run installs them)."""
    import glob
    import os
    import shutil

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL server binaries not installed (.ci/run installs postgresql)")
    import tempfile
    from pathlib import Path

    bindir = os.path.dirname(bins[-1])
    # not under pytest's tmp dir: that one is private to root, and postgres must reach its files
    root = Path(tempfile.mkdtemp(prefix="emotion-director-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    as_postgres = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*as_postgres, f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            f"{bindir}/pg_ctl",
            "-D",
            str(data),
            "-w",
            "-l",
            str(root / "log"),
            "-o",
            f"-p {port} -h 127.0.0.1 -k {sockets}",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    subprocess.run(
        [*as_postgres, f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "stop"],
        capture_output=True,
    )
    shutil.rmtree(root, ignore_errors=True)
