"""Launch a verifier server as a child process: for training on one machine, benchmarks and tests.

It runs ``python -m verifier_server serve`` on a free loopback port with its own data
directory, waits until the server reports its port, and stops it with SIGTERM (the same
drain path production uses). ``trainers`` uses it for ``--serve-in-process``; the test
fixtures (``verifier_server.testing``) build on it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServerProcess:
    """A running server subprocess; ``address`` is ``127.0.0.1:PORT``."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path
    args: list[str] = field(default_factory=list)
    wrapped: bool = False
    """Started under a ``wrapper`` (``process`` is the wrapper; the server is its only child)."""
    http_port: int | None = None
    """The HTTP/JSON port, when the server was started with one (``--http-port``)."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's own pid (not the wrapper's)."""
        if self.wrapped:
            wrapper = self.process.pid
            children = Path(f"/proc/{wrapper}/task/{wrapper}/children").read_text().split()
            if children:
                return int(children[0])
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, wait for the drain, SIGKILL if it does not exit in time; returns the exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)  # a wrapper (unshare) would not pass it on; it exits with the server
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def kill(self) -> None:
        if self.process.poll() is None:
            if self.wrapped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_server_process(
    data_dir: str | Path | None = None,
    *,
    config: dict[str, Any] | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    port: int = 0,
    startup_timeout_s: float = 60.0,
    wrapper: list[str] | None = None,
) -> ServerProcess:
    """Start a server and wait until it listens. ``config`` is written as its TOML config file.

    ``wrapper`` prefixes the command line, e.g. ``testing.THROWAWAY_NAMESPACES`` to run the
    server (and so every sandbox it starts) inside namespaces that die with it.
    """
    # Absolute: the server runs with its data dir as working directory, so a relative path
    # would be resolved twice (state and port file under data_dir/data_dir, never found).
    data_dir = Path(data_dir or tempfile.mkdtemp(prefix="verifier-server-")).absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / f"port-{time.monotonic_ns()}"
    log_path = data_dir / "server.log"
    args = [
        sys.executable,
        "-m",
        "verifier_server",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--port-file",
        str(port_file),
        *(extra_args or []),
    ]
    if config:
        config_path = data_dir / "config.toml"
        config_path.write_text(_to_toml(config))
        args += ["--config", str(config_path)]
    child_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [*(wrapper or []), *args], stdout=log, stderr=subprocess.STDOUT, env=child_env, cwd=str(data_dir)
        )
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            http_file = Path(f"{port_file}.http")
            http_port = int(http_file.read_text()) if http_file.exists() else None
            grpc_port = int(port_file.read_text())
            return ServerProcess(process, grpc_port, data_dir, log_path, args, bool(wrapper), http_port)
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not start within {startup_timeout_s}s:\n{log_path.read_text(errors='replace')}")


def _to_toml(config: dict[str, Any]) -> str:
    """A minimal TOML writer for flat settings plus ``[kinds.NAME]`` tables (stdlib has no writer)."""
    lines: list[str] = []
    tables: list[str] = []
    for key, value in config.items():
        if key == "kinds":
            for kind, settings in value.items():
                tables.append(f"\n[kinds.{kind}]")
                tables.extend(f"{k} = {_toml_value(v)}" for k, v in settings.items())
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines + tables) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table, e.g. one entry of [kinds.judge] openai_endpoints
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
