"""Hostile servers against the openai backend: slow drip, huge bodies, replies of the wrong shape,
rejections. Each ends in one clear BackendError within a bounded time, never a hang."""

from __future__ import annotations

import logging
import time

import pytest

from emotion_director import BackendError, Settings, build_graph
from emotion_director.testing import SimulatedOpenAIServer
from tests.cli_runner import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REQUEST = {"prompt": "a dog", "emotion": "awe", "personas": ["poet"]}


def settings(url: str, **kw) -> Settings:
    return Settings(backend="openai", base_url=url, reading_mode="choose", **kw)


def test_a_slow_drip_server_is_cut_off_at_the_total_deadline():
    # one byte every 0.2 s never trips a read timeout; the total deadline must still fire
    with SimulatedOpenAIServer("drip", latency=0.2) as server:
        with pytest.raises(
            BackendError, match=r"up but did not finish answering within the 1\.5 s"
        ):
            build_graph(settings(server.url, timeout_s=1.5, max_retries=0)).invoke(REQUEST)
        # the error names the 1.5 s deadline and there was one request: the total deadline
        # fired (a read timeout never would); no wall-clock bound, which load could break
        assert server.requests == 1


def test_the_deadline_is_per_request_and_retries_stay_bounded():
    with SimulatedOpenAIServer("drip", latency=0.2) as server:
        with pytest.raises(BackendError, match="did not finish answering"):
            build_graph(settings(server.url, timeout_s=1.0, max_retries=1)).invoke(REQUEST)
        assert server.requests == 2  # one retry, each cut at its own deadline


def test_a_huge_response_is_capped_and_named_as_the_cause():
    with SimulatedOpenAIServer("huge") as server:
        with pytest.raises(
            BackendError, match=r"response exceeded 1,048,576 bytes.*max_tokens"
        ) as info:
            build_graph(settings(server.url, max_response_bytes=1 << 20)).invoke(REQUEST)
        assert server.requests == 1  # not retried: the same request would send the same body
    assert "cannot reach" not in str(info.value)


def test_a_reply_cut_at_max_tokens_names_max_tokens_as_the_cause():
    from emotion_director import ModelOutputError

    with SimulatedOpenAIServer("cut_at_max_tokens") as server:
        with pytest.raises(ModelOutputError, match="hit the max_tokens limit.*MAX_TOKENS"):
            build_graph(settings(server.url, max_retries=1)).invoke(REQUEST)
        assert server.requests == 2


def test_max_tokens_is_sent_with_every_call_under_the_name_servers_read():
    with SimulatedOpenAIServer("ok") as server:
        build_graph(settings(server.url, max_tokens=77)).invoke(REQUEST)
    assert server.bodies and all(b.get("max_tokens") == 77 for b in server.bodies)
    assert all("max_completion_tokens" not in b for b in server.bodies)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("empty_choices", "answered without choices \\(an empty list\\)"),
        ("wrong_shape", "answered without choices \\(keys: data, status\\)"),
        ("html", "not a chat completion"),
    ],
)
def test_a_reply_of_the_wrong_shape_is_named_not_retried(mode, message):
    with SimulatedOpenAIServer(mode) as server:
        with pytest.raises(BackendError, match=message) as info:
            build_graph(settings(server.url)).invoke(REQUEST)
        assert server.requests == 1
    assert "persona_reading[poet]" in str(info.value) and "--base-url" in str(info.value)


def test_a_refused_connection_says_the_server_is_down_not_slow():
    with pytest.raises(
        BackendError, match="cannot reach the openai server at http://127.0.0.1:9"
    ) as info:
        build_graph(settings("http://127.0.0.1:9/v1", max_retries=0)).invoke(REQUEST)
    assert "slow" not in str(info.value) and "did not finish" not in str(info.value)


def test_a_repeated_identical_500_is_not_retried_forever(caplog):
    caplog.set_level(logging.WARNING)
    with SimulatedOpenAIServer("http500") as server:
        with pytest.raises(BackendError, match="rejected every structured-output method") as info:
            build_graph(settings(server.url, max_retries=5)).invoke(REQUEST)
        # function_calling: the same 500 twice, then json_mode: the same 500 twice; not 6 + 6
        assert server.requests == 4
    assert "function_calling: HTTP 500" in str(info.value)
    assert "json_mode: HTTP 500" in str(info.value)
    assert "falling back to json_mode" in caplog.text


def test_a_rejected_json_schema_falls_back_to_function_calling_and_says_so(caplog):
    caplog.set_level(logging.WARNING)
    with SimulatedOpenAIServer("rejects_json_schema") as server:
        out = build_graph(settings(server.url, structured_method="json_schema")).invoke(
            {**REQUEST, "personas": ["poet", "child"]}
        )
    assert out["final_prompt"].startswith("a dog")
    assert "rejected structured_method=json_schema" in caplog.text
    assert "falling back to function_calling" in caplog.text
    # two personas ask concurrently, each learns at most once; later calls skip json_schema
    tried = [("tools" in b, (b.get("response_format") or {}).get("type")) for b in server.bodies]
    assert tried.count((False, "json_schema")) <= 4 and tried[-1][0]


def test_a_gzip_bomb_is_capped_after_decompression():
    # 256 KiB on the wire inflate to 256 MiB: the cap counts what the program would hold
    import resource

    # a whole rewrite over gzip first, so that the baseline already holds what any first run
    # imports and builds (alone, that first run grows the peak by ~290 MiB, bomb or not)
    with SimulatedOpenAIServer("gzip") as server:
        build_graph(settings(server.url, max_response_bytes=1 << 20)).invoke(REQUEST)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with SimulatedOpenAIServer("gzip_bomb") as server:
        with pytest.raises(BackendError, match=r"response exceeded 1,048,576 bytes.*bomb"):
            build_graph(settings(server.url, max_response_bytes=1 << 20)).invoke(REQUEST)
        assert server.requests == 1
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 128, f"peak RSS grew by {grown_mib:.0f} MiB"


def test_a_gzip_compressed_answer_is_read():
    with SimulatedOpenAIServer("gzip") as server:
        out = build_graph(settings(server.url)).invoke(REQUEST)
        assert server.headers.get("accept-encoding") == "gzip, deflate"
    assert out["final_prompt"]


def test_control_characters_from_a_model_never_reach_the_prompt_or_the_terminal(tmp_path):
    import json

    with SimulatedOpenAIServer("control_chars") as server:  # write mode: the model's own words
        out = build_graph(
            Settings(backend="openai", base_url=server.url, reading_mode="write")
        ).invoke(REQUEST)
        env = dict(
            EMOTION_DIRECTOR_BACKEND="openai",
            EMOTION_DIRECTOR_BASE_URL=server.url,
            EMOTION_DIRECTOR_READING_MODE="write",
            EMOTION_DIRECTOR_CHECKPOINT_DB=str(tmp_path / "runs.sqlite"),
        )
        cli = run_cli("rewrite", "a dog", "-e", "awe", "--json", env=env, cwd=tmp_path)
    bad = [chr(c) for c in range(32) if chr(c) != "\n"] + ["\x7f", "\u202e"]
    text = json.dumps(out, default=str, ensure_ascii=False)
    assert out["final_prompt"] and not [c for c in bad if c in text]
    assert cli.returncode == 0, cli.stderr
    assert not [c for c in bad if c in cli.stdout + cli.stderr], cli.stdout[-400:]


# --------------------------------------------------------------- rate limits (Retry-After)


def test_a_429_with_retry_after_is_retried_no_sooner_than_the_server_asks():
    with SimulatedOpenAIServer("http429_then_ok", retry_after="1") as server:
        out = build_graph(settings(server.url, max_retries=1)).invoke(REQUEST)
    assert out["final_prompt"].startswith("a dog")
    assert server.times[1] - server.times[0] >= 0.95, server.times[:2]


def test_a_retry_after_longer_than_the_request_deadline_fails_at_once_naming_it():
    with SimulatedOpenAIServer("http429", retry_after="3600") as server:
        with pytest.raises(BackendError) as info:
            build_graph(settings(server.url, max_retries=2, timeout_s=30)).invoke(REQUEST)
        assert server.requests == 1  # no retry after a wait the deadline cannot hold
    message = str(info.value)
    assert "rate limit (HTTP 429)" in message and "Retry-After: 3600" in message
    assert "3600 s" in message and "30 s deadline" in message


@pytest.mark.parametrize(
    ("headers", "seconds", "shown"),
    [
        ({"retry-after": "2"}, 2.0, "Retry-After: 2"),
        ({"retry-after": "0.5"}, 0.5, "Retry-After: 0.5"),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5, "Retry-After-Ms: 1500"),
        ({"retry-after": "-4"}, 0.0, "Retry-After: -4"),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0, None),  # in the past: at once
        ({"retry-after": "inf"}, float("inf"), "Retry-After: inf"),
        ({"retry-after": "later, please"}, None, None),
        ({}, None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(headers, seconds, shown):
    from emotion_director.agents.structured import retry_after

    got = retry_after(headers)
    assert (None if got is None else got[0]) == seconds
    if shown:
        assert got[1] == shown


def test_a_retry_after_http_date_in_the_future_is_waited_for():
    import email.utils

    from emotion_director.agents.structured import retry_after

    seconds, shown = retry_after(
        {"retry-after": email.utils.formatdate(time.time() + 90, usegmt=True)}
    )
    assert 88 <= seconds <= 90 and shown.endswith("GMT")


def test_the_openai_clients_own_retries_never_multiply_the_seams():
    from pydantic import BaseModel

    from emotion_director.agents.openai_chat import guarded_chat_openai
    from emotion_director.agents.structured import invoke_structured

    class Pick(BaseModel):
        n: int

    with SimulatedOpenAIServer("http429") as server:
        # a caller that builds the model itself, with the SDK's retries asked for
        model = guarded_chat_openai()(base_url=server.url, api_key="k", model="m", max_retries=3)
        assert model.root_client.max_retries == 0
        with pytest.raises(BackendError, match="HTTP 429, its rate limit"):
            invoke_structured(model, Pick, [("user", "pick")], node="t", retries=1)
        assert server.requests == 2  # the seam's 1 + 1 retry, not (1 + 3) * 2


# ------------------------------------------------------------------------------------- TLS


def test_https_to_a_plain_http_server_says_it_does_not_speak_tls():
    with SimulatedOpenAIServer("ok") as server:
        url = server.url.replace("http://", "https://")
        with pytest.raises(BackendError) as info:
            build_graph(settings(url, max_retries=2)).invoke(REQUEST)
        assert server.requests == 0
    message = str(info.value)
    assert f"the openai server at {url} does not speak TLS" in message
    assert f"is it {server.url}?" in message
    assert "nothing answers" not in message and "cannot reach" not in message


def test_a_self_signed_certificate_is_named_with_the_way_to_trust_it(tmp_path, monkeypatch):
    pytest.importorskip("cryptography", reason="makes the test certificate offline")
    from tests.hostile.hostile_servers import self_signed_certificate

    certfile, keyfile = self_signed_certificate(tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with SimulatedOpenAIServer("ok", tls=(certfile, keyfile)) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with pytest.raises(BackendError) as info:
            build_graph(settings(server.url, max_retries=2)).invoke(REQUEST)
        assert server.requests == 0
        message = str(info.value)
        assert "certificate verification failed (self-signed certificate)" in message
        assert "use http:// for a local server" in message and "SSL_CERT_FILE" in message
        assert "nothing answers" not in message
        # ...and the advice works
        monkeypatch.setenv("SSL_CERT_FILE", certfile)
        out = build_graph(settings(server.url)).invoke(REQUEST)
    assert out["final_prompt"].startswith("a dog")


@pytest.mark.parametrize("case", ["tls", "rate_limit"])
def test_tls_and_rate_limit_errors_are_one_red_line_in_the_cli(case, tmp_path):

    mode, retry = ("ok", "0") if case == "tls" else ("http429", "3600")
    with SimulatedOpenAIServer(mode, retry_after=retry) as server:
        url = server.url.replace("http://", "https://") if case == "tls" else server.url
        env = dict(
            EMOTION_DIRECTOR_BACKEND="openai",
            EMOTION_DIRECTOR_BASE_URL=url,
            EMOTION_DIRECTOR_CHECKPOINT_DB=str(tmp_path / "runs.sqlite"),
            COLUMNS="80",
        )
        args = ("rewrite", "a dog", "-e", "awe", "--persona", "poet", "--json")
        cli = run_cli(*args, env=env, cwd=tmp_path)
    assert cli.returncode == 2, cli.stderr[-2000:]
    lines = cli.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), cli.stderr[-2000:]
    assert "Traceback" not in cli.stderr and cli.stdout == ""
    assert ("does not speak TLS" if case == "tls" else "Retry-After: 3600") in lines[0]


@pytest.mark.integration  # the openai backend against the loopback simulated server
def test_a_server_s_error_text_reaches_no_terminal_raw(tmp_path):
    # round 3 audit: an HTTP 400 whose message carries a terminal escape, NUL, a bell and a
    # bidirectional override reached the red error line (and eval error records) as sent

    from emotion_director.errors import BackendError
    from emotion_director.testing import SimulatedOpenAIServer

    dirt = ("\x1b", "\x00", "\x07", "\u202e")
    with SimulatedOpenAIServer("error_control_chars") as server:
        settings = Settings(backend="openai", base_url=server.url, max_retries=0)
        with pytest.raises(BackendError) as raised:
            build_graph(settings).invoke(REQUEST)
        assert "invalid request" in str(raised.value)
        assert not any(c in str(raised.value) for c in dirt)
        env = dict(
            EMOTION_DIRECTOR_BACKEND="openai",
            EMOTION_DIRECTOR_BASE_URL=server.url,
            EMOTION_DIRECTOR_MAX_RETRIES="0",
            EMOTION_DIRECTOR_CHECKPOINT_DB=str(tmp_path / "runs.sqlite"),
        )
        cli = run_cli("rewrite", "a dog", "-e", "awe", env=env, cwd=tmp_path)
    assert cli.returncode != 0
    assert "invalid request" in cli.stderr
    assert "Traceback" not in cli.stderr
    assert not any(c in cli.stdout + cli.stderr for c in dirt), repr(cli.stderr)


@pytest.mark.parametrize(
    ("mode", "expect", "requests"),
    [
        # before: "rejected every structured-output method ... use a server with tool calls"
        ("http401", r"refused the credentials \(HTTP 401: .*check EMOTION_DIRECTOR_API_KEY", 1),
        # before: "cannot reach ... nothing answers there", for a server that did answer
        # (a body shorter than its Content-Length: an answer begun, so no TLS to suggest)
        ("short_body", r"began an answer and broke it off", 1),
        ("reset", r"accepted the connection but ended it before a whole answer", 1),
        # before: "unexpected RecursionError ... report it"
        ("deep_json", r"its answer is JSON nested too deeply to read", 1),
    ],
)
def test_a_server_that_answers_wrongly_is_named_for_what_it_did(mode, expect, requests):
    with SimulatedOpenAIServer(mode) as server:
        with pytest.raises(BackendError, match=expect) as info:
            retries = 2 if mode == "http401" else 0  # refused credentials are not retried
            build_graph(settings(server.url, max_retries=retries)).invoke(REQUEST)
        assert server.requests == requests  # (a 401 is no method to fall back from)
    assert "nothing answers" not in str(info.value)


def test_plain_http_to_a_tls_server_suggests_https(tmp_path):
    pytest.importorskip("cryptography", reason="makes the test certificate offline")
    from tests.hostile.hostile_servers import self_signed_certificate

    certfile, keyfile = self_signed_certificate(tmp_path)
    with SimulatedOpenAIServer("ok", tls=(certfile, keyfile)) as server:
        url = server.url.replace("https://", "http://")
        with pytest.raises(BackendError) as info:
            build_graph(settings(url, max_retries=0)).invoke(REQUEST)
    message = str(info.value)
    assert f"If the server speaks TLS, use {server.url}." in message
    assert "nothing answers" not in message


def test_a_reply_with_a_nan_token_count_prints_no_library_warning(tmp_path):
    # before: pydantic's serializer warning, with its own source line, on the command's stderr
    import os
    import subprocess
    import sys

    with SimulatedOpenAIServer("nan_usage") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
        proc = subprocess.run(
            [sys.executable, "-m", "emotion_director.cli", "rewrite", "a dog", "-e", "awe"]
            + ["--backend", "openai", "--base-url", server.url, "-p", "poet"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    assert (
        "Pydantic serializer warnings" not in proc.stderr and "pydantic/main.py" not in proc.stderr
    )


class _Proxy:
    """A loopback HTTP proxy: ``forward`` carries plain-HTTP requests on (as a proxy does for
    an http:// URL), ``refuse`` answers every request and every CONNECT with 403, ``gateway``
    with 502 (it could not reach the server), ``demand`` with 407 (the credentials it was given
    are wrong), and ``cut`` ends each connection without an answer."""

    def __init__(self, mode: str) -> None:
        import http.server
        import threading
        import urllib.request

        outer = self
        self.seen: list[str] = []
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                outer.seen.append(f"{self.command} {self.path}")
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                if mode in {"refuse", "gateway", "demand"}:
                    self.send_response({"refuse": 403, "gateway": 502, "demand": 407}[mode])
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if mode == "cut":  # ends the connection without a word
                    self.close_connection = True
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                request = urllib.request.Request(self.path, body, headers, method=self.command)
                with direct.open(request, timeout=30) as reply:
                    data = reply.read()
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        if key.lower() not in HOP | {"content-length"}:
                            self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_CONNECT = _answer

        HOP = {"connection", "proxy-connection", "proxy-authorization", "keep-alive"}
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://user:Pr0xy-secret@127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def no_proxy_env(monkeypatch):
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(key, raising=False)
        monkeypatch.delenv(key.lower(), raising=False)
    return monkeypatch


def test_requests_go_through_the_proxy_the_environment_names(no_proxy_env):
    """The client is given its own transport (deadline, size cap, credential scrubbing), which
    made httpx ignore HTTP(S)_PROXY: behind a proxy, no request reached the server."""
    proxy = _Proxy("forward")
    try:
        with SimulatedOpenAIServer("ok") as server:
            no_proxy_env.setenv("HTTP_PROXY", proxy.url)
            out = build_graph(settings(server.url)).invoke(REQUEST)
            assert out["final_prompt"].startswith("a dog")
            chats = [s for s in proxy.seen if s.startswith("POST ") and "chat/completions" in s]
            assert server.requests >= 1 and len(chats) == server.requests  # every one carried
            seen = len(proxy.seen)
            no_proxy_env.setenv("NO_PROXY", "127.0.0.1")  # NO_PROXY: straight to the server
            build_graph(settings(server.url)).invoke(REQUEST)
            assert len(proxy.seen) == seen
    finally:
        proxy.close()


def _failure_through(proxy, env, variable, url):
    """The BackendError message of a request to ``url`` sent through ``proxy`` (named by the
    environment ``variable``); the proxy is closed after."""
    try:
        env.setenv(variable, proxy.url)
        with pytest.raises(BackendError) as caught:
            build_graph(settings(url, max_retries=0)).invoke(REQUEST)
    finally:
        proxy.close()
    return str(caught.value)


def test_a_proxy_that_refuses_or_is_down_is_named_and_its_password_is_not(no_proxy_env):
    proxy = _Proxy("refuse")
    message = _failure_through(proxy, no_proxy_env, "HTTPS_PROXY", "https://example.invalid/v1")
    assert "the proxy http://127.0.0.1:" in message and "would not carry" in message
    assert "403" in message and "NO_PROXY" in message
    assert "Pr0xy-secret" not in message and "user:" not in message
    no_proxy_env.setenv("HTTPS_PROXY", proxy.url)  # closed now: nothing answers there
    with pytest.raises(BackendError) as down:
        build_graph(settings("https://example.invalid/v1", max_retries=0)).invoke(REQUEST)
    message = str(down.value)
    assert "cannot reach the proxy http://127.0.0.1:" in message
    assert "Pr0xy-secret" not in message


@pytest.mark.parametrize(
    "mode, said",
    [
        ("gateway", "named by the environment) answered HTTP 502 for the openai server"),
        ("cut", "named by the environment) to the openai server at"),
        ("demand", "refused the credentials given in the environment (HTTP 407"),
    ],
)
def test_what_goes_wrong_through_a_proxy_names_the_proxy(no_proxy_env, mode, said):
    # red-team P03/P14/P04/P02: a proxy's 502 or cut connection blamed the server alone (and
    # suggested https), and a proxy refusing the credentials it was given asked to set them
    message = _failure_through(_Proxy(mode), no_proxy_env, "HTTP_PROXY", "http://127.0.0.1:9/v1")
    assert said in message and "the proxy http://127.0.0.1:" in message, message
    assert "NO_PROXY" in message and "use https://" not in message
    assert "Pr0xy-secret" not in message and "user:" not in message


@pytest.mark.parametrize(
    "value, named",
    [
        ("not a url", "it holds a space or a control character"),
        ("http://127.0.0.1:notaport", "Invalid port"),
        ("ftp://127.0.0.1:21", "its scheme 'ftp' is not http, https or socks5"),
        ("http://[::1", "Invalid port"),
        ("http://bob:S3cret-pw@127.0.0.1:notaport", "Invalid port"),
        # red-team P12: "cannot reach the proxy ... nothing answers there"
        ("http://127.0.0.1:99999", "Port out of range: 99999"),
    ],
)
def test_a_proxy_variable_no_request_could_use_is_named_with_the_fix(no_proxy_env, value, named):
    """Each was 'unexpected InvalidURL / ValidationError ... report it' once the environment's
    proxies were mounted."""
    from emotion_director import SettingsError

    no_proxy_env.setenv("HTTPS_PROXY", value)
    with pytest.raises(SettingsError) as caught:
        build_graph(settings("https://example.invalid/v1"))
    message = str(caught.value)
    assert message.startswith("HTTPS_PROXY=") and named in message
    assert "unset HTTPS_PROXY" in message and "S3cret-pw" not in message
