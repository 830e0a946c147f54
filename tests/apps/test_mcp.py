"""The MCP server over stdio, driven by the mcp client."""

import json
import os
import sys

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from emotion_director import __version__  # noqa: E402
from emotion_director.mcp_server import jsonrpc_error_for  # noqa: E402
from tests.simulated import simulated_env

pytestmark = pytest.mark.timeout(120)


def _params():
    env = {**os.environ, **simulated_env()}
    env.pop("EMOTION_DIRECTOR_LOG_LEVEL", None)
    return StdioServerParameters(
        command=sys.executable, args=["-m", "emotion_director.cli", "mcp"], env=env
    )


@pytest.mark.slow
async def test_mcp_stdio_server_lists_and_calls_the_rewrite_tool(tmp_path):
    log = (tmp_path / "stderr.log").open("w+")
    async with (
        stdio_client(_params(), errlog=log) as (read, write),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"rewrite_for_emotion"}  # no diffusion model configured
        schema = tools["rewrite_for_emotion"].input_schema
        # the CLI's arguments: emotion (or valence + arousal instead), personas, seed
        assert set(schema["required"]) == {"prompt"}
        assert {"emotion", "valence", "arousal", "personas", "seed"} <= set(schema["properties"])
        result = await session.call_tool(
            "rewrite_for_emotion", {"prompt": "an angry dog", "emotion": "calm"}
        )
        assert not result.is_error
        data = json.loads(result.content[0].text)
        assert data["emotion"] == "contentment" and data["final_prompt"].startswith("a dog")
        bad = await session.call_tool("rewrite_for_emotion", {"prompt": "", "emotion": "awe"})
        assert bad.is_error and "prompt is empty" in bad.content[0].text
    log.seek(0)
    assert init.server_info.version == __version__


@pytest.mark.slow
async def test_mcp_tool_takes_what_the_cli_takes(tmp_path):
    """valence + arousal instead of an emotion, a persona list, synonyms; the same checks."""
    log = (tmp_path / "stderr.log").open("w+")
    async with (
        stdio_client(_params(), errlog=log) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        by_affect = await session.call_tool(
            "rewrite_for_emotion",
            {
                "prompt": "a dog in a park",
                "valence": -0.8,
                "arousal": 0.8,
                "personas": ["poet", "child"],
            },
        )
        assert not by_affect.is_error, by_affect.content[0].text
        data = by_affect.structured_content
        assert data["emotion"] in {"anger", "fear"} and sorted(data["personas"]) == [
            "child",
            "poet",
        ]
        clash = await session.call_tool(
            "rewrite_for_emotion",
            {"prompt": "a dog", "emotion": "happy", "valence": -1.0, "arousal": 0.5},
        )
        assert clash.is_error and "conflicts with 'contentment'" in clash.content[0].text
        unknown = await session.call_tool(
            "rewrite_for_emotion", {"prompt": "a dog", "emotion": "awe", "personas": ["nobody"]}
        )
        assert unknown.is_error and "unknown persona(s) nobody" in unknown.content[0].text
        neither = await session.call_tool("rewrite_for_emotion", {"prompt": "a dog"})
        assert neither.is_error and "no emotion given" in neither.content[0].text


@pytest.mark.slow
async def test_mcp_tools_keep_the_emotion_list_descriptions_and_return_structured_content(tmp_path):
    log = (tmp_path / "stderr.log").open("w+")
    async with (
        stdio_client(_params(), errlog=log) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        (tool,) = (await session.list_tools()).tools
        props = tool.input_schema["properties"]
        enum = next(o["enum"] for o in props["emotion"]["anyOf"] if "enum" in o)
        assert enum == [
            "amusement",
            "awe",
            "contentment",
            "excitement",
            "anger",
            "disgust",
            "fear",
            "sadness",
        ]
        assert all(props[k].get("description") for k in ("prompt", "emotion", "seed"))
        assert tool.output_schema and "final_prompt" in tool.output_schema["properties"]
        result = await session.call_tool(
            "rewrite_for_emotion", {"prompt": "a funeral", "emotion": "amusement"}
        )
        structured = result.structured_content
        assert structured["emotion"] == "amusement"
        assert structured["final_prompt"].startswith("a funeral")
        assert "result" not in structured  # not a JSON string wrapped in {"result": ...}
        assert isinstance(structured["personas"], dict)
    log.seek(0)
    text = log.read()
    assert "INFO" not in text and "Processing request" not in text, text[-500:]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("{oops", -32700),
        ("[1]", -32600),
        ('"x"', -32600),
        ('{"jsonrpc": "1.0", "id": 1}', -32600),
        ('{"jsonrpc": "2.0", "id": 1, "method": "x", "params": 3}', -32602),
    ],
)
def test_jsonrpc_error_for_malformed_lines(line, code):
    assert jsonrpc_error_for(line)["code"] == code


def test_a_number_too_long_to_read_is_named_for_the_client_not_with_pythons_advice():
    # before: "Exceeds the limit (4300 digits) ... use sys.set_int_max_str_digits()"
    error = jsonrpc_error_for('{"jsonrpc": "2.0", "id": ' + "9" * 5000 + ', "method": "ping"}')
    assert error["code"] == -32700
    assert error["message"] == (
        "Parse error: not valid JSON (Exceeds the limit (4300 digits) for integer string "
        "conversion: value has 5000 digits)"
    )


def test_well_formed_lines_and_malformed_notifications_get_no_error_answer():
    assert jsonrpc_error_for('{"jsonrpc": "2.0", "id": 1, "method": "ping"}') is None
    assert jsonrpc_error_for('{"jsonrpc": "2.0", "id": 1, "result": {}}') is None
    assert jsonrpc_error_for('{"jsonrpc": "2.0", "method": "n", "params": "x"}') is None


def test_the_readme_client_config_runs_this_server():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index('`{"mcpServers"')
    config = json.loads(readme[start + 1 : readme.index("`", start + 1)])
    server = config["mcpServers"]["emotion-director"]
    assert server == {"command": "emotion-director", "args": ["mcp"]}  # what the tests launch


# -- malformed lines on the real server's stdin -------------------------------------------------


def _request(ident, method="ping", **extra):
    return json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, **extra}).encode()


_INITIALIZE = _request(
    "init",
    "initialize",
    params={
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
)


def _serve_lines(tmp_path, lines, answered):
    """Run ``emotion-director mcp`` (the README's command), write ``lines`` on its stdin and
    return (every answer, stderr) once the ids in ``answered`` have their answers."""
    import shutil
    import subprocess
    import threading

    command = shutil.which("emotion-director", path=os.path.dirname(sys.executable))
    assert command, "the emotion-director console script is not installed next to python"
    env = {**os.environ, **simulated_env()}
    env.pop("EMOTION_DIRECTOR_LOG_LEVEL", None)
    stderr = (tmp_path / "stderr.log").open("w+b")
    proc = subprocess.Popen(
        [command, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env
    )
    answers, done = [], threading.Event()

    def read_answers():
        for raw in proc.stdout:
            answers.append(json.loads(raw))
            if answered <= {a.get("id") for a in answers}:
                done.set()
        done.set()  # the server ended: let the test see what it got

    reader = threading.Thread(target=read_answers, daemon=True)
    reader.start()
    try:
        proc.stdin.write(b"".join(line + b"\n" for line in lines))
        proc.stdin.flush()
        assert done.wait(60), f"no answer to {answered} within 60 s; got {answers}"
    except BrokenPipeError:
        pass  # the server died: the assertions below say how
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        code = proc.wait(30)
        reader.join(10)
        stderr.seek(0)
    log = stderr.read().decode("utf-8", "replace")
    assert "Traceback" not in log, log[-3000:]
    assert code == 0, log[-3000:]
    assert answered <= {a.get("id") for a in answers}, (answers, log[-3000:])
    return answers, log


def _errors_for_bad_lines(answers, good_ids):
    return [
        (a.get("id"), a.get("error", {}).get("code"), a.get("error", {}).get("message", str(a)))
        for a in answers
        if a.get("id") not in good_ids
    ]


def _assert_errors(got, expected):
    assert [(i, c) for i, c, _ in got] == [(i, c) for i, c, _ in expected], got
    for (_, _, message), (_, _, fragment) in zip(got, expected):
        assert fragment in message, (fragment, message)


@pytest.mark.slow
def test_mcp_server_answers_json_nested_5000_deep_and_keeps_serving(tmp_path):
    nested_object = b'{"a": ' * 5000 + b"1" + b"}" * 5000
    deep_params = (
        b'{"jsonrpc": "2.0", "id": "deep", "method": "ping", "params": {"x": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}}"
    )
    answers, _ = _serve_lines(
        tmp_path, [b"[" * 5000 + b"]" * 5000, nested_object, deep_params, _INITIALIZE], {"init"}
    )
    _assert_errors(
        _errors_for_bad_lines(answers, {"init"}),
        [(None, -32700, "nested deeper than 128 levels")] * 3,
    )
    (init,) = [a for a in answers if a.get("id") == "init"]
    assert init["result"]["serverInfo"]["name"] == "emotion-director"


@pytest.mark.slow
def test_mcp_server_answers_requests_whose_id_is_not_a_string_or_integer(tmp_path):
    bad_ids = [1.5, {}, [], True, None, False, 1e3]
    answers, _ = _serve_lines(
        tmp_path,
        [_request(i) for i in bad_ids] + [_INITIALIZE, _request(7), _request("seven")],
        {"init", 7, "seven"},
    )
    kinds = [
        "a number (1.5)",
        "an object",
        "an array",
        "a boolean",
        "null",
        "a boolean",
        "a number (1000.0)",
    ]
    _assert_errors(
        _errors_for_bad_lines(answers, {"init", 7, "seven"}),
        [(None, -32600, f'"id" must be a string or an integer, got {kind}') for kind in kinds],
    )
    assert {a["id"]: a.get("result") for a in answers if a["id"] in (7, "seven")} == {
        7: {},
        "seven": {},
    }


@pytest.mark.slow
def test_mcp_server_answers_every_malformed_line_and_keeps_serving(tmp_path):
    limit = 1024 * 1024  # MAX_LINE_BYTES, written out so this test also runs on older servers
    too_long = _request("long", params={"pad": "x" * limit})  # valid JSON, just over the cap
    cases = [  # (line, id of the error answer, code, what the message must name)
        (b"{oops", None, -32700, "not valid JSON"),
        (b"42", None, -32600, "got a number (42)"),
        (b'"ping"', None, -32600, "got a string"),
        (b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', None, -32600, "batch"),
        (b'{"jsonrpc": "2.0", "id": "utf", "method": "pi\xffng"}', None, -32700, "UTF-8"),
        (b"", None, -32700, "empty line"),
        (b"  \t\r", None, -32700, "empty line"),
        (too_long, None, -32700, f"longer than {limit} bytes"),
        (_request("m", 5), "m", -32600, '"method" must be a string, got a number (5)'),
        (b'{"jsonrpc": "2.0", "method": 1, "params": "bar"}', None, -32600, '"method"'),
        (_request("v", jsonrpc="1.0"), "v", -32600, '"jsonrpc": "2.0"'),
        (_request("s", params="x"), "s", -32602, '"params" must be an object, got a string'),
        (_request("a", params=[1, 2]), "a", -32602, '"params" must be an object, got an array'),
        # a lone surrogate escape: the SDK's "Invalid JSON ... hex escape" (hostile round 5)
        (_request("u", params={"text": "\ud800"}), "u", -32600, "half of a UTF-16 surrogate"),
    ]
    silent = [  # notifications: never answered, whatever is wrong with them
        b'{"jsonrpc": "2.0", "method": "notifications/no_such_thing"}',
        b'{"jsonrpc": "2.0", "method": "notifications/initialized", "params": 3}',
    ]
    good = {"init", "unknown", "last"}
    answers, log = _serve_lines(
        tmp_path,
        [line for line, *_ in cases]
        + [_INITIALIZE]
        + silent
        + [_request("unknown", "no/such/method"), _request("last", "tools/list")],
        good,
    )
    _assert_errors(_errors_for_bad_lines(answers, good), [case[1:] for case in cases])
    by_id = {a["id"]: a for a in answers if a.get("id") in good}
    assert by_id["unknown"]["error"]["code"] == -32601
    assert [t["name"] for t in by_id["last"]["result"]["tools"]] == ["rewrite_for_emotion"]
    assert "dropped a message" in " ".join(log.split())  # said on stderr, not answered


@pytest.mark.slow
def test_tool_arguments_out_of_range_or_not_finite_are_one_line_without_pydantic_links(tmp_path):
    # before: "1 validation error for rewrite_for_emotionArguments ... For further information
    # visit https://errors.pydantic.dev/..."; a NaN (a literal Python's JSON reads) was "less
    # than or equal to 1"
    def call(ident, **arguments):
        params = {"name": "rewrite_for_emotion", "arguments": {"prompt": "a dog", **arguments}}
        return _request(ident, "tools/call", params=params)

    lines = [
        _INITIALIZE,
        b'{"jsonrpc": "2.0", "method": "notifications/initialized"}',
        call("big", valence=2.0, arousal=0.5),
        call("nan", valence=0.2, arousal=0.5).replace(b"0.2", b"NaN"),
        call("ok", valence=-0.8, arousal=0.8),
    ]
    answers, _ = _serve_lines(tmp_path, lines, {"init", "big", "nan", "ok"})
    text = {
        a["id"]: (a["result"].get("isError"), a["result"]["content"][0]["text"])
        for a in answers
        if a.get("id") in {"big", "nan", "ok"}
    }
    assert text["big"] == (
        True,
        "Error executing tool rewrite_for_emotion: invalid arguments: valence: should be less "
        "than or equal to 1, got 2.0.",
    )
    assert text["nan"][0] and "valence: should be a finite number, got nan" in text["nan"][1]
    assert not text["ok"][0] and "a dog" in text["ok"][1]


def test_read_capped_line_skips_the_rest_of_an_overlong_line_without_holding_it():
    import io

    from emotion_director.mcp_server import read_capped_line

    class CountingStream(io.BytesIO):
        biggest = 0

        def readline(self, size=-1):
            line = super().readline(size)
            CountingStream.biggest = max(CountingStream.biggest, len(line))
            return line

    stream = CountingStream(b"short\n" + b"x" * 10_000 + b"\n" + b"next\n" + b"last")
    assert read_capped_line(stream, limit=100) == b"short\n"
    assert read_capped_line(stream, limit=100) == b"x" * 101
    assert read_capped_line(stream, limit=100) == b"next\n"
    assert read_capped_line(stream, limit=100) == b"last"
    assert read_capped_line(stream, limit=100) == b""
    assert CountingStream.biggest <= 64 * 1024
    exact = CountingStream(b"y" * 100 + b"\n" + b"z\n")
    assert read_capped_line(exact, limit=100) == b"y" * 100 + b"\n"  # at the cap: still whole
    assert read_capped_line(exact, limit=100) == b"z\n"


def test_diagnose_line_answers_or_passes_any_bytes_without_raising():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from emotion_director.mcp_server import diagnose_line

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=20,
    )
    envelopes = st.fixed_dictionaries(
        {},
        optional={
            "jsonrpc": st.sampled_from(["2.0", "1.0"]) | json_values,
            "id": json_values,
            "method": st.sampled_from(["ping", "tools/list"]) | json_values,
            "params": json_values,
            "result": json_values,
        },
    )

    @settings(max_examples=300, deadline=None)
    @given(st.binary() | envelopes.map(lambda d: json.dumps(d).encode()))
    def check(line):
        problem = diagnose_line(line)
        if problem is not None:
            assert problem.code in (-32700, -32600, -32602) and problem.message
            assert problem.id is None or isinstance(problem.id, (str, int))

    check()
