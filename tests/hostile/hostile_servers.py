"""OpenAI-compatible servers on 127.0.0.1 that answer with hostile content.

They speak the protocol the openai backend uses (``POST /v1/chat/completions`` answered with a
forced tool call, ``GET /v1/models``), like :class:`emotion_director.testing.SimulatedOpenAIServer`,
but the tool arguments come from the test (a model writing injected cues), or the server echoes
the request's ``Authorization`` header back in an error body, as some proxies do.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emotion_director.testing import example_from_schema

#: ``arguments(tool_name, schema) -> dict``: what the "model" answers for one tool call.
Arguments = Callable[[str, dict[str, Any]], dict[str, Any]]


class HostileServer:
    """Context manager; ``url`` is the ``/v1`` base URL.

    Args:
        arguments: the tool-call arguments to answer with (default: a schema-valid example).
        echo_auth: answer HTTP 401 with the request's Authorization header in the error body.
        echo_raw_key: with ``echo_auth``, echo only the key (no ``Bearer`` in front of it).
    """

    def __init__(
        self,
        arguments: Arguments | None = None,
        *,
        echo_auth: bool = False,
        echo_raw_key: bool = False,
    ) -> None:
        self.requests = 0
        outer = self
        arguments = arguments or (lambda name, schema: example_from_schema(schema))

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "hostile", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                outer.requests += 1
                if echo_auth:
                    header = self.headers.get("authorization", "")
                    shown = header.split(" ", 1)[-1] if echo_raw_key else header
                    return self._send(
                        401,
                        {
                            "error": {
                                "message": f"invalid credentials: got Authorization: {header}; "
                                f"key {shown} is not registered",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                tool = (body.get("tools") or [{"function": {"name": "answer", "parameters": {}}}])[
                    0
                ]["function"]
                args = arguments(tool["name"], tool.get("parameters") or {})
                self._send(
                    200,
                    {
                        "id": f"hostile-{outer.requests}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "hostile"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "tool_calls",
                                "message": {
                                    "role": "assistant",
                                    "content": None,
                                    "tool_calls": [
                                        {
                                            "id": f"call-{outer.requests}",
                                            "type": "function",
                                            "function": {
                                                "name": tool["name"],
                                                "arguments": json.dumps(args),
                                            },
                                        }
                                    ],
                                },
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> HostileServer:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()  # (shutdown waits for the poll: 0.5 s by default, at every exit)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def self_signed_certificate(folder: Any) -> tuple[str, str]:
    """``(certfile, keyfile)`` of a self-signed certificate for 127.0.0.1, written to ``folder``
    (made offline with the ``cryptography`` package; the caller skips without it)."""
    import datetime
    import ipaddress
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = Path(folder)
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(certfile), str(keyfile)
