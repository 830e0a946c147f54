"""Secrets never print and are never stored (issue item 5): one redaction, applied where text
leaves the process: CLI errors, logs (httpx request lines included), error text stored in
checkpoints, eval ``run.json``, MCP results; servers that echo the Authorization header."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys

import pytest
from typer.testing import CliRunner

from emotion_director import BackendError, Settings, build_graph
from emotion_director.cli import app
from emotion_director.errors import EmotionDirectorError, SettingsError
from emotion_director.graph.checkpoints import open_checkpointer, redact_url
from emotion_director.redaction import RedactingFilter, redact, remember_secret
from tests.cli_runner import run_cli
from tests.hostile.hostile_servers import HostileServer

pytestmark = pytest.mark.timeout(120)
PASSWORD = "Pw-7f3a9c-secret"
API_KEY = "sk-hostile-0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "secret", "shown"),
    [
        (
            "http://alice:Pw-7f3a9c@127.0.0.1:8000/v1",
            "Pw-7f3a9c",
            "http://alice:***@127.0.0.1:8000/v1",
        ),
        (
            "postgresql://bob:p@ss@w0rd@db:5432/runs",
            "p@ss@w0rd",
            "postgresql://bob:***@db:5432/runs",
        ),
        (
            "postgresql://db/runs?user=bob&password=hunter2x",
            "hunter2x",
            "postgresql://db/runs?user=bob&password=***",
        ),
        (
            "postgresql://db/runs?password=hunter2x&sslmode=require",
            "hunter2x",
            "postgresql://db/runs?password=***&sslmode=require",
        ),
        (
            "host=db user=bob password='two words' dbname=runs",
            "two words",
            "host=db user=bob password='***' dbname=runs",
        ),
        ("https://:tok3n-only@api.example.com/v1", "tok3n-only", "https://:***@api.example.com/v1"),
        (
            "cannot reach http://alice:Pw-no-host@ (ConnectError)",
            "Pw-no-host",
            "cannot reach http://alice:***@ (ConnectError)",
        ),
        (
            "HTTP 401: Authorization: Bearer abc.def-ghi_jkl",
            "abc.def-ghi_jkl",
            "HTTP 401: Authorization: Bearer ***",
        ),
        ("{'authorization': 'Bearer zz9plural-z-alpha'}", "zz9plural-z-alpha", None),
        (
            '{"api_key": "k-123456789", "model": "m"}',
            "k-123456789",
            '{"api_key": "***", "model": "m"}',
        ),
        ("x-api-key: 0a1b2c3d4e5f", "0a1b2c3d4e5f", "x-api-key: ***"),
        ("key sk-proj-AbCdEf0123456789xyz leaked", "AbCdEf0123456789xyz", "key sk-proj-*** leaked"),
        ("token hf_abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz", "token hf_***"),
        (
            "https://api.example.com/v1/models?key=AIzaSyA-1234567",
            "AIzaSyA-1234567",
            "https://api.example.com/v1/models?key=***",
        ),
        ("basic auth: Basic YWxpY2U6cGFzc3dvcmQ=", "YWxpY2U6cGFzc3dvcmQ=", None),
    ],
)
def test_redact_masks_every_shape_of_secret(text, secret, shown):
    clean = redact(text)
    assert secret not in clean and "***" in clean
    if shown is not None:
        assert clean == shown
    assert redact(clean) == clean  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "a dog in a park at http://127.0.0.1:8000/v1",
        "llm call node=persona_reading[poet] backend=openai schema=CuePicks attempt=1",
        "max_tokens=30 tokens=5 monkey=ok passage=open keyboard",
        "soldiers return 'home' at dawn; email alice@example.com",
        "an angry dog -> contentment (7 personas)",
    ],
)
def test_redact_leaves_text_without_secrets_alone(text):
    assert redact(text) == text


def test_a_remembered_secret_is_masked_even_without_a_recognisable_shape():
    remember_secret("plain-key-without-prefix-42")
    assert (
        redact("server said: plain-key-without-prefix-42 is invalid")
        == "server said: *** is invalid"
    )
    remember_secret("pw")  # too short to mask everywhere: patterns still catch it in URLs
    assert redact("pwned") == "pwned"


def test_errors_redact_their_own_message_wherever_they_go():
    exc = BackendError(f"cannot reach the openai server at http://alice:{PASSWORD}@h:1/v1")
    for text in (str(exc), repr(exc), json.dumps({"error": str(exc)})):
        assert PASSWORD not in text and "alice:***@h:1" in text


def test_settings_remember_their_secrets_and_never_show_them():
    s = Settings(
        backend="openai",
        base_url=f"http://alice:{PASSWORD}@127.0.0.1:1/v1",
        api_key="raw-api-key-no-prefix-9876",
        checkpoint_url="postgresql://bob:pg@pass@db/runs",
    )
    for text in (repr(s), str(s), json.dumps(s.redacted_dump())):
        for secret in (PASSWORD, "raw-api-key-no-prefix-9876", "pg@pass"):
            assert secret not in text
    assert s.base_url.endswith("@127.0.0.1:1/v1") and PASSWORD in s.base_url  # still usable
    assert redact("echo raw-api-key-no-prefix-9876") == "echo ***"


def test_postgres_urls_are_redacted_with_query_passwords_and_unencoded_at():
    url = "postgresql://bob:p@ss@127.0.0.1:9/runs?password=hunter2x"
    assert redact_url(url) == "postgresql://bob:***@127.0.0.1:9/runs?password=***"
    with pytest.raises(SettingsError) as info:
        asyncio.run(
            open_checkpointer(Settings(checkpoint_url="mysql://bob:p@ss@db/x")).__aenter__()
        )
    assert "p@ss" not in str(info.value)


def test_postgres_connection_errors_do_not_print_the_password():
    pytest.importorskip("psycopg")
    url = "postgresql://bob:p@ss-word@127.0.0.1:9/runs?password=hunter2x&connect_timeout=2"

    async def connect():
        async with open_checkpointer(Settings(checkpoint_url=url)):
            pass

    with pytest.raises(BackendError) as info:
        asyncio.run(connect())
    message = str(info.value)
    assert "cannot connect to PostgreSQL at postgresql://bob:***@127.0.0.1:9" in message
    assert "p@ss-word" not in message and "hunter2x" not in message


@pytest.mark.integration  # the openai backend in-process (loopback only)
def test_cli_error_for_an_unreachable_server_hides_the_password(monkeypatch):
    for key in ("BACKEND", "BASE_URL"):
        monkeypatch.delenv(f"EMOTION_DIRECTOR_{key}", raising=False)
    result = CliRunner().invoke(
        app,
        [
            "rewrite",
            "a dog",
            "-e",
            "awe",
            "--backend",
            "openai",
            "--persona",
            "poet",
            "--base-url",
            f"http://alice:{PASSWORD}@127.0.0.1:9/v1",
        ],
    )
    assert result.exit_code == 2, result.output
    assert PASSWORD not in result.output and "alice:***@127.0.0.1:9" in result.stderr


class _FailingModel:
    """Raises what a broken client library raises: a foreign error quoting the URL."""

    def __new__(cls):
        from emotion_director.testing import FunctionChatModel

        def responder(messages, schema):
            raise RuntimeError(f"connection to http://alice:{PASSWORD}@10.0.0.1/v1 reset")

        return FunctionChatModel(responder)


@pytest.mark.integration  # the openai backend in-process (loopback only)
def test_checkpoints_never_store_a_password_in_error_text(tmp_path):
    settings = Settings(checkpoint_db=tmp_path / "ck.sqlite")

    async def fail_twice():
        async with open_checkpointer(settings) as saver:
            for thread, model in (("ours", None), ("foreign", _FailingModel())):
                graph = (
                    build_graph(settings, checkpointer=saver, chat_model=model)
                    if model
                    else build_graph(
                        Settings(
                            backend="openai",
                            max_retries=0,
                            base_url=f"http://alice:{PASSWORD}@127.0.0.1:9/v1",
                        ),
                        checkpointer=saver,
                    )
                )
                with pytest.raises(Exception) as info:
                    await graph.ainvoke(
                        {"prompt": "a dog", "emotion": "awe", "personas": ["poet"]},
                        {"configurable": {"thread_id": thread}},
                    )
                if thread == "ours":  # a foreign error reaches the caller as raised...
                    assert PASSWORD not in str(info.value)

    asyncio.run(fail_twice())  # ...but neither is stored with the password
    rows = (
        sqlite3.connect(tmp_path / "ck.sqlite")
        .execute("SELECT channel, value FROM writes WHERE channel = '__error__'")
        .fetchall()
    )
    assert len(rows) == 2  # both failures are stored...
    stored = b" ".join(bytes(value) for _, value in rows)
    assert b"alice:***@" in stored and PASSWORD.encode() not in stored  # ...without the password
    assert PASSWORD.encode() not in (tmp_path / "ck.sqlite").read_bytes()


@pytest.mark.integration  # the openai backend in-process (loopback only)
def test_eval_run_metadata_hides_url_passwords(tmp_path):
    from emotion_director.evals.datasets import load_eval_dataset
    from emotion_director.evals.runner import run_eval
    from emotion_director.testing import SimulatedOpenAIServer

    class LengthMetrics:  # the runner's metrics interface, without loading an encoder
        def score_rewrite(self, prompt, rewrite, emotion):
            return {"length": float(len(rewrite))}

    with SimulatedOpenAIServer("ok") as server:
        url = server.url.replace("http://", f"http://alice:{PASSWORD}@")
        settings = Settings(backend="openai", base_url=url, api_key=API_KEY, reading_mode="choose")
        asyncio.run(
            run_eval(
                ["single_llm"],
                load_eval_dataset("builtin:shortcut")[:1],
                tmp_path,
                settings=settings,
                metrics=LengthMetrics(),
            )
        )
    meta = json.loads((tmp_path / "run.json").read_text())
    assert "127.0.0.1:" in meta["settings"]["base_url"]
    for file in tmp_path.iterdir():
        if file.suffix in {".json", ".jsonl"}:
            assert PASSWORD not in file.read_text() and API_KEY not in file.read_text()


@pytest.mark.integration  # the openai backend in-process (loopback only)
@pytest.mark.parametrize("raw", [False, True])
def test_a_server_that_echoes_the_authorization_header_does_not_get_it_printed(raw, monkeypatch):
    key = API_KEY if not raw else "opaque-key-no-known-prefix-31337"
    with HostileServer(echo_auth=True, echo_raw_key=raw) as server:
        settings = Settings(
            backend="openai", base_url=server.url, api_key=key, max_retries=0, reading_mode="choose"
        )
        with pytest.raises(BackendError) as info:
            build_graph(settings).invoke(
                {"prompt": "a dog", "emotion": "awe", "personas": ["poet"]}
            )
        assert server.requests >= 1
    message = str(info.value)
    assert "HTTP 401" in message and key not in message and "***" in message
    monkeypatch.setenv("EMOTION_DIRECTOR_API_KEY", key)
    with HostileServer(echo_auth=True, echo_raw_key=raw) as server:
        result = CliRunner().invoke(
            app,
            [
                "rewrite",
                "a dog",
                "-e",
                "awe",
                "--backend",
                "openai",
                "--base-url",
                server.url,
                "--persona",
                "poet",
            ],
        )
    assert result.exit_code == 2 and key not in result.output, result.output


def test_log_records_are_redacted_including_tracebacks():
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: POST %s "HTTP/1.1 200 OK"',
        (f"http://alice:{PASSWORD}@127.0.0.1/v1/chat/completions",),
        None,
    )
    try:
        raise ValueError(f"bad url http://alice:{PASSWORD}@x/")
    except ValueError:
        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert PASSWORD not in text and "alice:***@127.0.0.1" in text


@pytest.mark.integration
def test_info_logs_of_a_real_run_carry_no_password_or_key(tmp_path):
    from emotion_director.testing import SimulatedOpenAIServer

    with SimulatedOpenAIServer("ok") as server:
        env = dict(
            EMOTION_DIRECTOR_LOG_LEVEL="DEBUG",
            EMOTION_DIRECTOR_API_KEY=API_KEY,
            EMOTION_DIRECTOR_READING_MODE="choose",
        )
        url = server.url.replace("http://", f"http://alice:{PASSWORD}@")
        args = ("rewrite", "a dog", "-e", "awe", "--backend", "openai", "--base-url", url)
        proc = run_cli(*args, "--persona", "poet", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "HTTP Request: POST http://alice:***@127.0.0.1" in proc.stderr  # httpx's line, masked
    assert PASSWORD not in proc.stderr + proc.stdout and API_KEY not in proc.stderr


async def test_mcp_tool_results_and_errors_carry_no_secret():
    pytest.importorskip("mcp")
    from emotion_director.mcp_server import build_server
    from emotion_director.testing import TestChatModel

    server = build_server(Settings(), chat_model=TestChatModel())
    result = await server.call_tool(
        "rewrite_for_emotion",
        {
            "prompt": f"a dog next to a screen showing http://alice:{PASSWORD}@intranet/",
            "emotion": "awe",
        },
    )
    assert PASSWORD not in json.dumps(result, default=str)
    failing = build_server(Settings(), chat_model=_FailingModel())
    with pytest.raises(Exception) as info:
        await failing.call_tool("rewrite_for_emotion", {"prompt": "a dog", "emotion": "awe"})
    assert PASSWORD not in str(info.value) and "alice:***@10.0.0.1" in str(info.value)


def test_every_project_error_is_redacted_at_construction():
    for cls in EmotionDirectorError.__subclasses__():
        if cls.__init__ is EmotionDirectorError.__init__:
            assert PASSWORD not in str(cls(f"at http://a:{PASSWORD}@h/"))


# ------------------------------------------- credentials a server echoes back (issue 21, item 4)

ECHO_KEY = "sk-echo-7Hq2vX9pL0aZ4mN8wR"


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _leaks(secrets: list[str], texts: dict[str, str | bytes]) -> list[str]:
    return [
        f"{secret!r} in {where}"
        for where, text in texts.items()
        for secret in secrets
        if (secret.encode() if isinstance(text, bytes) else secret) in text
    ]


@pytest.mark.integration  # the openai backend against the loopback simulated server
@pytest.mark.parametrize("credential", ["api_key", "url_userinfo"])
@pytest.mark.parametrize("mode", ["echo_auth", "echo_auth_400", "echo_auth_500"])
def test_credentials_a_server_echoes_are_masked_where_its_text_enters(mode, credential, tmp_path):
    from emotion_director.testing import SimulatedOpenAIServer

    request = {"prompt": "a dog", "emotion": "awe", "personas": ["poet"]}
    with SimulatedOpenAIServer(mode) as server:
        if credential == "api_key":
            url, key = server.url, ECHO_KEY
            secrets = [key, _b64(key), _b64(f"Bearer {key}")]
        else:  # http://user:pass@host: sent as "Authorization: Basic base64(user:pass)"
            url, key = server.url.replace("http://", f"http://alice:{PASSWORD}@"), None
            secrets = [
                PASSWORD,
                f"alice:{PASSWORD}",
                _b64(f"alice:{PASSWORD}"),
                _b64(f"Basic {_b64(f'alice:{PASSWORD}')}"),
            ]
        settings = Settings(
            backend="openai",
            base_url=url,
            api_key=key,
            reading_mode="write",
            max_retries=0,
            checkpoint_db=tmp_path / "graph.sqlite",
        )

        async def run_graph() -> str:
            async with open_checkpointer(settings) as saver:
                graph = build_graph(settings, checkpointer=saver)
                try:
                    out = await graph.ainvoke(request, {"configurable": {"thread_id": "t"}})
                except BackendError as exc:
                    return str(exc)
                return json.dumps(out, default=str, ensure_ascii=False)

        in_process = asyncio.run(run_graph())
        env = dict(
            EMOTION_DIRECTOR_BACKEND="openai",
            EMOTION_DIRECTOR_BASE_URL=url,
            EMOTION_DIRECTOR_READING_MODE="write",
            EMOTION_DIRECTOR_MAX_RETRIES="0",
            EMOTION_DIRECTOR_LOG_LEVEL="DEBUG",
            EMOTION_DIRECTOR_CHECKPOINT_DB=str(tmp_path / "cli.sqlite"),
        )
        if key:
            env["EMOTION_DIRECTOR_API_KEY"] = key
        args = ("rewrite", "a dog", "-e", "awe", "--persona", "poet", "--thread", "t1", "--json")
        cli = run_cli(*args, env=env, cwd=tmp_path)
        echoed = server.headers["authorization"]
    assert echoed.startswith("Bearer " if key else "Basic ")  # the server saw the credential
    files = {
        str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
    }
    assert {"graph.sqlite", "cli.sqlite"} <= set(files)
    assert not _leaks(
        secrets,
        {
            "the graph's output or error": in_process,
            "stdout": cli.stdout,
            "stderr": cli.stderr,
            **files,
        },
    )
    assert "***" in in_process  # the echo arrived, masked
    if mode == "echo_auth":  # the answer is the run's output
        assert cli.returncode == 0 and "***" in cli.stdout, cli.stderr[-2000:]
    else:  # the error body is one red line
        assert cli.returncode == 2 and "Traceback" not in cli.stderr, cli.stderr[-2000:]
        assert f"HTTP {mode[-3:]}" in in_process and "***" in cli.stderr


@pytest.mark.integration  # the openai backend against the loopback simulated server
def test_eval_results_and_cache_never_hold_an_echoed_key(tmp_path):
    from emotion_director.evals.datasets import load_eval_dataset
    from emotion_director.evals.runner import run_eval
    from emotion_director.testing import SimulatedOpenAIServer

    class LengthMetrics:  # the runner's metrics interface, without loading an encoder
        def score_rewrite(self, prompt, rewrite, emotion):
            return {"length": float(len(rewrite))}

    with SimulatedOpenAIServer("echo_auth") as server:
        settings = Settings(
            backend="openai", base_url=server.url, api_key=ECHO_KEY, reading_mode="write"
        )
        asyncio.run(
            run_eval(
                ["single_llm", "mc_agent"],
                load_eval_dataset("builtin:shortcut")[:1],
                tmp_path,
                settings=settings,
                metrics=LengthMetrics(),
            )
        )
    results = (tmp_path / "results.jsonl").read_text()
    assert "***" in results and '"error"' not in results
    files = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert "llm_cache.sqlite" in files
    assert not _leaks([ECHO_KEY, _b64(ECHO_KEY), _b64(f"Bearer {ECHO_KEY}")], files)


@pytest.mark.integration  # the openai backend against the loopback simulated server
def test_a_streamed_answer_is_masked_even_where_the_key_is_split_across_chunks():
    from emotion_director.agents.backends import make_chat_model
    from emotion_director.testing import SimulatedOpenAIServer

    with SimulatedOpenAIServer("echo_auth") as server:  # streams 7 characters per event
        model = make_chat_model(Settings(backend="openai", base_url=server.url, api_key=ECHO_KEY))
        chunks = list(model.stream("hi"))
        assert server.bodies[-1].get("stream") is True
    text = "".join(chunk.content for chunk in chunks)
    assert len(chunks) > 5 and text.startswith("a simulated answer from the loopback server (")
    assert "Authorization: Bearer ***; key ***; base64 ***" in text
    assert not _leaks([ECHO_KEY, _b64(ECHO_KEY)], {"the streamed text": text})


def test_server_sent_events_are_masked_across_events_line_endings_and_read_sizes():
    from emotion_director.agents.openai_chat import _ScrubbedEvents
    from emotion_director.redaction import CredentialScrubber

    answer = f'{{"cue": "key {ECHO_KEY} and {_b64(ECHO_KEY)}"}}'
    events = [
        {
            "id": "s",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "c", "function": {"name": "f", "arguments": ""}}
                        ]
                    },
                    "finish_reason": None,
                }
            ],
        }
    ]
    events += [
        {
            "id": "s",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [{"index": 0, "function": {"arguments": answer[i : i + 3]}}]
                    },
                    "finish_reason": None,
                }
            ],
        }
        for i in range(0, len(answer), 3)
    ]
    events.append({"id": "s", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    for newline in ("\n", "\r\n"):
        wire = "".join(f"data: {json.dumps(e)}{newline}{newline}" for e in events)
        wire += f"data: [DONE]{newline}{newline}"
        for size in (1, 5, 4096):
            scrubbed = _ScrubbedEvents(CredentialScrubber([ECHO_KEY]))
            out = b""
            for i in range(0, len(wire), size):
                out += b"".join(scrubbed.feed(wire[i : i + size].encode()))
            out += b"".join(scrubbed.close())
            text = out.decode()
            got = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
            merged = "".join(
                call["function"].get("arguments", "")
                for e in got
                for c in e["choices"]
                for call in c["delta"].get("tool_calls", [])
            )
            assert merged == '{"cue": "key *** and ***"}', (newline, size, merged)
            assert text.rstrip().endswith("data: [DONE]") and ECHO_KEY not in text


def test_credential_scrubber_masks_every_alignment_and_leaves_model_text_alone():
    from emotion_director.redaction import CredentialScrubber

    scrub = CredentialScrubber([ECHO_KEY, "not"])  # too short to mask: left out
    for prefix in ("", "x", "xy", "Bearer "):
        encoded = _b64(prefix + ECHO_KEY + " trailing")
        assert "***" in scrub.text(encoded), prefix
        assert _b64(ECHO_KEY)[2:-2] not in scrub.text(encoded)
    for form in (ECHO_KEY, _b64(ECHO_KEY), _b64(ECHO_KEY).replace("+", "-").replace("/", "_")):
        assert scrub.text(f"echo {form}.") == "echo ***."
    prose = (
        "a basic farmhouse, password=hunter2 written on a sign, the Bearer of good news, not a dog"
    )
    assert scrub.text(prose) == prose
    assert scrub.values({"k": [f"a {ECHO_KEY}", 3]}) == {"k": ["a ***", 3]}


def test_a_server_s_echo_of_a_credential_is_masked_upper_cased_reversed_or_in_hex():
    # hostile round 4: these three forms reached the error line (exact, base64 and URL-encoded
    # forms were masked already)
    from emotion_director.redaction import CredentialScrubber

    secret = "carol:Zq9PassWordLong77"
    scrub = CredentialScrubber([secret])
    echoes = [
        secret.upper(),
        secret[::-1],
        f"base64 {secret}".encode().hex(),  # the secret at an odd byte offset in the hex
        f"x {secret}".encode().hex().upper(),
    ]
    for echo in echoes:
        assert "***" in scrub.text(echo), echo
        assert secret.lower() not in scrub.text(echo).lower()
    assert scrub.text("a basic farmhouse with a red door") == "a basic farmhouse with a red door"


def test_a_handler_that_renders_the_exception_itself_shows_no_secret_of_it():
    # review of round 4: the MCP SDK's RichHandler(rich_tracebacks=True) renders the exception
    # from exc_info, past the redacted exc_text
    import io
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from emotion_director.redaction import RedactingFilter

    out = io.StringIO()
    handler = RichHandler(console=Console(file=out, width=300), rich_tracebacks=True)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("tests.rich_redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        raise RuntimeError("failed at http://alice:s3cretpass@host/v1?api_key=abcdef123456")
    except RuntimeError:
        log.exception("the call failed")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert "the call failed" in text
    assert "s3cretpass" not in text and "abcdef123456" not in text
