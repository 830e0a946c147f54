"""Hostile servers against the openai backend: slow drip, huge bodies, replies of the wrong shape,
rejections. Each ends in one clear BackendError within a bounded time, never a hang."""

from __future__ import annotations

import logging
import time

import pytest

from emotion_director import BackendError, Settings, build_graph
from emotion_director.testing import SimulatedOpenAIServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REQUEST = {"prompt": "a dog", "emotion": "awe", "personas": ["poet"]}


def settings(url: str, **kw) -> Settings:
    return Settings(backend="openai", base_url=url, reading_mode="choose", **kw)


def test_a_slow_drip_server_is_cut_off_at_the_total_deadline():
    # one byte every 0.2 s never trips a read timeout; the total deadline must still fire
    with SimulatedOpenAIServer("drip", latency=0.2) as server:
        started = time.monotonic()
        with pytest.raises(BackendError, match=r"up but did not finish answering within the 1\.5 s"):
            build_graph(settings(server.url, timeout_s=1.5, max_retries=0)).invoke(REQUEST)
        assert time.monotonic() - started < 6


def test_the_deadline_is_per_request_and_retries_stay_bounded():
    with SimulatedOpenAIServer("drip", latency=0.2) as server:
        started = time.monotonic()
        with pytest.raises(BackendError, match="did not finish answering"):
            build_graph(settings(server.url, timeout_s=1.0, max_retries=1)).invoke(REQUEST)
        assert server.requests == 2 and time.monotonic() - started < 8


def test_a_huge_response_is_capped_and_named_as_the_cause():
    with SimulatedOpenAIServer("huge") as server:
        with pytest.raises(BackendError, match=r"response exceeded 1,048,576 bytes.*max_tokens") as info:
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


@pytest.mark.parametrize(("mode", "message"), [
    ("empty_choices", "answered without choices \\(an empty list\\)"),
    ("wrong_shape", "answered without choices \\(keys: data, status\\)"),
    ("html", "not a chat completion"),
])
def test_a_reply_of_the_wrong_shape_is_named_not_retried(mode, message):
    with SimulatedOpenAIServer(mode) as server:
        with pytest.raises(BackendError, match=message) as info:
            build_graph(settings(server.url)).invoke(REQUEST)
        assert server.requests == 1
    assert "persona_reading[poet]" in str(info.value) and "--base-url" in str(info.value)


def test_a_refused_connection_says_the_server_is_down_not_slow():
    with pytest.raises(BackendError, match="cannot reach the openai server at http://127.0.0.1:9") as info:
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
            {**REQUEST, "personas": ["poet", "child"]})
    assert out["final_prompt"].startswith("a dog")
    assert "rejected structured_method=json_schema" in caplog.text
    assert "falling back to function_calling" in caplog.text
    # two personas ask concurrently, each learns at most once; later calls skip json_schema
    tried = [("tools" in b, (b.get("response_format") or {}).get("type")) for b in server.bodies]
    assert tried.count((False, "json_schema")) <= 4 and tried[-1][0]


def test_a_gzip_bomb_is_capped_after_decompression():
    # 256 KiB on the wire inflate to 256 MiB: the cap counts what the program would hold
    import resource

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
    import os
    import subprocess
    import sys

    with SimulatedOpenAIServer("control_chars") as server:  # write mode: the model's own words
        out = build_graph(Settings(backend="openai", base_url=server.url,
                                   reading_mode="write")).invoke(REQUEST)
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_DIRECTOR_")}
        env.update(EMOTION_DIRECTOR_BACKEND="openai", EMOTION_DIRECTOR_BASE_URL=server.url,
                   EMOTION_DIRECTOR_READING_MODE="write",
                   EMOTION_DIRECTOR_CHECKPOINT_DB=str(tmp_path / "runs.sqlite"))
        cli = subprocess.run([sys.executable, "-m", "emotion_director.cli", "rewrite", "a dog",
                              "-e", "awe", "--json"],
                             capture_output=True, text=True, env=env, timeout=120)
    bad = [chr(c) for c in range(32) if chr(c) != "\n"] + ["\x7f", "\u202e"]
    text = json.dumps(out, default=str, ensure_ascii=False)
    assert out["final_prompt"] and not [c for c in bad if c in text]
    assert cli.returncode == 0, cli.stderr
    assert not [c for c in bad if c in cli.stdout + cli.stderr], cli.stdout[-400:]
