"""Hostile persona files and hostile MCP clients: clean one-line errors, no hang, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from emotion_director.cli import app
from emotion_director.errors import PersonaFileError
from emotion_director.personas import default_personas, load_persona_file, load_personas
from emotion_director.personas.loader import MAX_PERSONA_FILE_BYTES
from tests.simulated import simulated_env

# every test here runs on the simulated server (tests/simulated.py)
pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("simulated_backend")]
runner = CliRunner()


def _valid_text(name: str = "baker") -> str:
    data = default_personas()[0].model_dump(mode="json")
    data["name"] = name
    return yaml.safe_dump(data)


def _one_clean_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def fifo_dir(tmp_path):
    folder = tmp_path / "personas"
    folder.mkdir()
    (folder / "baker.yaml").write_text(_valid_text())
    os.mkfifo(folder / "pipe.yaml")  # nobody ever writes to it: opening it blocking would hang
    return folder


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_yaml_is_refused_without_hanging(fifo_dir):
    with pytest.raises(PersonaFileError, match="pipe.yaml: not a regular file"):
        load_personas(fifo_dir)
    result = runner.invoke(app, ["personas", "validate", str(fifo_dir)])
    assert "not a regular file" in _one_clean_line(result)
    assert "ok:" in result.output  # the good file is still reported


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_rewrite_with_a_fifo_in_the_persona_folder_fails_cleanly(fifo_dir):
    result = runner.invoke(app, ["rewrite", "a dog", "-e", "awe", "--personas", str(fifo_dir)])
    assert "not a regular file" in _one_clean_line(result)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_symlink_to_dev_zero_is_refused_without_reading_it(tmp_path):
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    with pytest.raises(PersonaFileError, match="zero.yaml: not a regular file"):
        load_persona_file(tmp_path / "zero.yaml")
    result = runner.invoke(app, ["personas", "validate", str(tmp_path)])
    assert "not a regular file" in _one_clean_line(result)


def test_a_symlink_loop_is_a_clean_error(tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    with pytest.raises(PersonaFileError, match="a.yaml: cannot open"):
        load_persona_file(tmp_path / "a.yaml")
    result = runner.invoke(app, ["personas", "list", "--personas", str(tmp_path)])
    assert "cannot open" in _one_clean_line(result)


@pytest.mark.parametrize("depth", [60, 30_000])
def test_deeply_nested_yaml_is_refused_not_a_recursion_error(tmp_path, depth):
    path = tmp_path / "deep.yaml"
    path.write_text("name: " + "[" * depth + "]" * depth)
    with pytest.raises(PersonaFileError, match="nest"):
        load_persona_file(path)
    result = runner.invoke(app, ["personas", "validate", str(path)])
    assert "RecursionError" not in _one_clean_line(result)


def test_an_oversized_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * (MAX_PERSONA_FILE_BYTES // 10 + 10) + _valid_text())
    with pytest.raises(PersonaFileError, match="over the 64 KiB limit"):
        load_persona_file(path)


def test_normal_nesting_still_loads(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(_valid_text("ok"))
    assert load_persona_file(path).name == "ok"


# --- MCP: JSON-RPC errors as the spec says -------------------------------------------------------


def _start_mcp_process() -> Iterator[subprocess.Popen]:
    pytest.importorskip("mcp")
    env = {**os.environ, **simulated_env()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emotion_director.cli", "mcp"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    yield proc
    proc.kill()
    proc.wait(timeout=10)


@pytest.fixture
def mcp_process():
    """A fresh server: a session not yet initialized."""
    yield from _start_mcp_process()


@pytest.fixture(scope="module")
def shared_mcp_process():
    """One server for every malformed line of this module, in turn: each must leave it up."""
    yield from _start_mcp_process()


def _exchange(proc, line: bytes) -> dict:
    """Send one line, read one answer (the module timeout ends the test if none comes)."""
    proc.stdin.write(line + b"\n")
    proc.stdin.flush()
    answer = proc.stdout.readline()
    assert answer, proc.stderr.read().decode()[-2000:]
    return json.loads(answer)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {', -32700),
        (b"\xff\xfe\x00binary\x00", -32700),
        (b"[1, 2, 3]", -32600),
        (b"[]", -32600),
        (b'{"jsonrpc": "2.0", "id": 2}', -32600),
        (b'"just a string"', -32600),
        (b'{"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": "x"}', -32602),
    ],
)
def test_malformed_json_rpc_gets_the_spec_error_not_silence(shared_mcp_process, line, code):
    mcp_process = shared_mcp_process
    answer = _exchange(mcp_process, line)
    assert answer["jsonrpc"] == "2.0" and answer["error"]["code"] == code
    assert answer["error"]["message"]
    # the server is still alive and answers a valid request afterwards
    ok = _exchange(
        mcp_process,
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 99,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "0"},
                },
            }
        ).encode(),
    )
    assert ok["id"] == 99 and "result" in ok


@pytest.mark.integration
def test_an_invalid_request_keeps_its_id_in_the_error(shared_mcp_process):
    answer = _exchange(shared_mcp_process, b'{"jsonrpc": "2.0", "id": 7, "method": 5}')
    assert answer["id"] == 7 and answer["error"]["code"] == -32600


@pytest.mark.integration
def test_the_mcp_server_s_logs_hold_no_password_of_the_base_url(tmp_path):
    # before: the SDK's own log handler, added when the server is built, printed the structured-
    # output fallback warning with the base URL's user:password and ?api_key= in clear
    pytest.importorskip("mcp")
    from emotion_director.testing import SimulatedOpenAIServer

    with SimulatedOpenAIServer("rejects_json_schema") as server:
        url = server.url.replace("http://", "http://dave:MCPpassw0rdZZ@") + "?api_key=QSECRET77"
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
        env.update(
            EMOTION_DIRECTOR_BACKEND="openai",
            EMOTION_DIRECTOR_BASE_URL=url,
            EMOTION_DIRECTOR_STRUCTURED_METHOD="json_schema",  # rejected: a fallback warning
            EMOTION_DIRECTOR_READING_MODE="choose",
            COLUMNS="1000",  # the SDK's rich handler would wrap a secret across lines
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "emotion_director.cli", "mcp"],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            init = {"protocolVersion": "2024-11-05", "capabilities": {}}
            init["clientInfo"] = {"name": "t", "version": "1"}
            _exchange(
                proc,
                json.dumps(
                    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}
                ).encode(),
            )
            proc.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
            call = {"name": "rewrite_for_emotion", "arguments": {"prompt": "a dog"}}
            call["arguments"]["emotion"] = "awe"
            call["arguments"]["personas"] = ["poet"]
            answer = _exchange(
                proc,
                json.dumps(
                    {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}
                ).encode(),
            )
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
            stderr = proc.stderr.read()
    assert "result" in answer, answer
    assert "falling back" in stderr.decode()  # the warning was logged...
    for secret in ("MCPpassw0rdZZ", "QSECRET77"):  # ...without the secrets
        assert secret not in stderr.decode() and secret not in json.dumps(answer)


@pytest.mark.integration
@pytest.mark.parametrize("method", ["tools/call", "tools/list"])
def test_a_request_before_initialize_is_told_to_initialize_first(mcp_process, method):
    # before: -32602 "Invalid request parameters", with nothing said of the session
    line = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {}}
    answer = _exchange(mcp_process, json.dumps(line).encode())
    assert answer["id"] == 7 and answer["error"]["code"] == -32600
    assert "the session is not initialized: send initialize" in answer["error"]["message"]
    init = {"protocolVersion": "2024-11-05", "capabilities": {}}
    init["clientInfo"] = {"name": "t", "version": "1"}
    line = {"jsonrpc": "2.0", "id": 8, "method": "initialize", "params": init}
    assert "result" in _exchange(mcp_process, json.dumps(line).encode())


def test_personas_list_and_show_read_the_folders_a_rewrite_reads(tmp_path):
    # red-team Y_envdir / Y_envshow: both ignored EMOTION_DIRECTOR_PERSONA_DIRS, which rewrite
    # reads: `personas list` said all was well where a rewrite failed on the folder's bad file
    from tests.cli_runner import run_cli

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("name: [\n")
    listed = run_cli("personas", "list", env={"EMOTION_DIRECTOR_PERSONA_DIRS": str(bad)})
    assert listed.returncode == 2 and "x.yaml: invalid YAML" in listed.stderr, listed.stderr
    over = tmp_path / "over"
    over.mkdir()
    (over / "poet.yaml").write_text(_valid_text("poet"))  # another persona's text, as poet
    shown = run_cli("personas", "show", "poet", env={"EMOTION_DIRECTOR_PERSONA_DIRS": str(over)})
    assert shown.returncode == 0, shown.stderr
    bios = {p.name: p.bio.model_dump(mode="json") for p in default_personas()}
    first = default_personas()[0].name
    assert first != "poet" and bios[first] != bios["poet"]
    assert yaml.safe_load(shown.stdout)["bio"] == bios[first]  # the override, as rewrite reads
