"""The adaptive limit on requests in flight to one server."""

from __future__ import annotations

import threading
import time

from emotion_director.agents.concurrency import AdaptiveLimit, classify, server_slots


def test_starts_at_the_slots_halves_on_overload_and_grows_back_to_the_ceiling():
    limit = AdaptiveLimit(ceiling=8, start=4)
    assert limit.limit == 4
    limit.record("overload")
    limit.record("overload")
    assert limit.limit == 1
    limit.record("overload")
    assert limit.limit == 1  # never below one
    for _ in range(1 + 2 + 3 + 4 + 5 + 6 + 7):  # `limit` successes in a row add one
        limit.record("ok")
    assert limit.limit == 8
    limit.record("ok")
    assert limit.limit == 8  # never above the ceiling
    limit.record("other")  # a 400 or a broken reply says nothing about load
    assert limit.limit == 8
    assert AdaptiveLimit(ceiling=3, start=50).limit == 3
    assert AdaptiveLimit(ceiling=3).limit == 3


def test_never_more_in_flight_than_the_limit():
    limit = AdaptiveLimit(ceiling=16, start=2)
    seen: list[int] = []
    lock = threading.Lock()

    def request() -> None:
        with limit.slot():
            with lock:
                seen.append(limit.in_flight)
            time.sleep(0.02)

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(seen) == 2 and limit.peak == 2 and limit.in_flight == 0


def test_overload_is_429_503_or_out_of_time():
    class Status(Exception):
        def __init__(self, code):
            self.status_code = code

    class ReadTimeout(Exception):
        pass

    assert classify(None) == "ok"
    assert classify(Status(429)) == "overload" and classify(Status(503)) == "overload"
    assert classify(ReadTimeout()) == "overload"
    assert classify(Status(400)) == "other" and classify(ValueError("bad json")) == "other"


def test_slots_are_read_from_props_and_anything_else_is_none():
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answers = {"/props": json.dumps({"total_slots": 3}).encode()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = answers.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert server_slots(f"{base}/v1") == 3
        answers["/props"] = b'{"total_slots": true}'
        assert server_slots(f"{base}/v1") is None
        answers["/props"] = b"not json"
        assert server_slots(f"{base}/v1") is None
        del answers["/props"]
        assert server_slots(f"{base}/v1") is None  # vLLM, OpenAI: no /props
    finally:
        server.shutdown()
        server.server_close()
    assert server_slots("http://127.0.0.1:9/v1", timeout=0.5) is None  # nobody listening
    assert server_slots("file:///etc/passwd") is None
