"""Helpers for operations tests: polling, Prometheus scraping."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import TypeVar

from verifier_server.testing import ServerProcess

T = TypeVar("T")


def eventually(check: Callable[[], T | None], *, timeout_s: float = 30.0, interval_s: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy (its value), or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value {last!r})")


def metrics_port(server: ServerProcess) -> int:
    """The metrics port a server started with ``--metrics-port 0`` logged when it started serving."""

    def find() -> int | None:
        for line in server.log_text().splitlines():
            if line.startswith("{") and '"metrics_port"' in line:
                port = json.loads(line).get("metrics_port")
                return int(port) if port else None
        return None

    return eventually(find, timeout_s=30)


def scrape_counter(metrics_port: int, name: str, *, host: str = "127.0.0.1", **labels: str) -> float:
    """Sum of one Prometheus counter's samples whose labels include ``labels``."""
    with urllib.request.urlopen(f"http://{host}:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{key}="{val}"' in series for key, val in labels.items()):
            total += float(value)
    return total
