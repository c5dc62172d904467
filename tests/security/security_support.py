"""Helpers for the security tests: tokens, an attacker's HTTP listener, and a health probe.

The listener is a real HTTP server on loopback standing in for an endpoint a caller controls
(or an internal service): it records every request it gets (headers included) and answers
what the test tells it to, optionally holding requests until released.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ADMIN_TOKEN = "admin-7c1e-secret-token"
SCORE_TOKEN = "score-a-91bd-secret-token"
OTHER_SCORE_TOKEN = "score-b-44f0-secret-token"
CANARY = "canary-value-3f9a1d77-must-never-leave-the-server"
"""A secret in the server's environment (as a cloud key or a database password would be)."""


def write_tokens(path: Path) -> Path:
    path.write_text(f"{ADMIN_TOKEN} admin\n{SCORE_TOKEN} score\n{OTHER_SCORE_TOKEN} score\n")
    return path


def auth_args(tmp_path: Path) -> list[str]:
    return ["--auth-tokens-file", str(write_tokens(tmp_path / "tokens"))]


@dataclass
class Reply:
    status: int = 200
    body: str = ""


@dataclass
class Listener:
    """What the listener received and what it answers."""

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    reply: Reply = field(default_factory=Reply)
    hold: threading.Event | None = None
    """When set, requests wait for it before answering (capacity stays held meanwhile)."""
    delay_s: float = 0.0
    in_flight: int = 0
    peak_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_in_flight(self, count: int, timeout_s: float = 60.0) -> None:
        """Poll until at least ``count`` requests are in flight (``count=0``: until none is)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (self.in_flight >= count) if count else self.in_flight == 0:
                return
            time.sleep(0.02)
        raise AssertionError(f"listener saw {self.in_flight} requests in flight, expected {count}")


def chat_reply(text: str) -> Reply:
    """A well-formed OpenAI chat completion answering ``text``."""
    return Reply(200, json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}))


def serve_listener() -> Iterator[Listener]:
    state = Listener()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            with state.lock:
                state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                state.in_flight += 1
                state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
            try:
                if state.hold is not None:
                    state.hold.wait(120)
                if state.delay_s:
                    time.sleep(state.delay_s)
                payload = state.reply.body.encode()
                self.send_response(state.reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the server gave up on this request (a timeout under test): nobody reads the answer
            finally:
                with state.lock:
                    state.in_flight -= 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()


def health_status(address: str, timeout_s: float) -> int:
    """The server's health status; raises ``grpc.RpcError`` (DEADLINE_EXCEEDED) when it cannot answer in time."""
    with grpc.insecure_channel(address) as channel:
        request = health_pb2.HealthCheckRequest()
        return int(health_pb2_grpc.HealthStub(channel).Check(request, timeout=timeout_s).status)


SERVING = health_pb2.HealthCheckResponse.SERVING


def judge_spec(base_url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "type": "llm",
        "backend": "openai",
        "model": "any-model",
        "base_url": base_url,
        "template": "rubric",
        "max_retries": 0,
        "retry_backoff_s": 0.0,
        "parse_retries": 0,
    }
    config.update(overrides)
    return {"name": "attacker-judge", "kind": "judge", "config": config}


ESSAY = {"completions": ["An essay."], "prompts": ["Write an essay."], "references": [{"rubric": "Be brief."}]}
