"""A fleet replica: a Ray actor pinned to one node that runs one normal ``verifier serve`` process there.

Ray owns the replica's life: the controller creates it named, detached, pinned to its
node (hard node affinity) and restartable (``max_restarts=-1``). The actor makes its
server's death its own: when the process exits unbidden, the actor exits too and Ray
starts a fresh one, which starts a fresh server (new port, fresh data directory). The
controller does the same with ``ray.kill`` to a server that stops answering health checks.

Replicas sharing a node (several per node, or simulated nodes) never share sandbox uids:
every server claims its slot uids exclusively from the configured range at start
(``sandboxes/_claims.py``), so nothing here has to hand out ranges.

``setpriv --pdeathsig`` (util-linux) ties the server to this actor's process, so a killed
actor leaves no server behind; what the server starts (sandbox zygotes, worker pools) is
tied to the server in turn.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import verifier_server

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(verifier_server.__file__).resolve().parent.parent
"""On the replica's PYTHONPATH, so the server runs the same code as the actor."""

#: SIGKILL to the server when the actor's process dies (a parent-death signal survives exec).
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL"]


@dataclass(frozen=True)
class ReplicaInfo:
    """What the controller asks a replica: who it is now and where it listens."""

    incarnation: str
    """New at every (re)start of the actor: the controller's cue that this is a fresh server."""
    node_id: str
    address: str | None
    """``host:port`` once the server listens; None while it starts."""
    pid: int | None
    """The server process on the node."""
    metrics_address: str | None
    log_path: str


class Replica:
    """The actor's class (wrapped with ``ray.remote`` by the controller).

    Args:
        fleet: the fleet's name (directories and logs carry it).
        slot: this replica's place in the fleet (``<node id>.<index>``), stable across restarts.
        config_toml: the fleet's server configuration, the text of a TOML file.
        server_args: flags after the config (the controller's per-replica settings).
        data_root: where on the node replicas keep their data directories.
    """

    def __init__(self, fleet: str, slot: str, config_toml: str, server_args: list[str], data_root: str) -> None:
        import ray

        self.incarnation = uuid.uuid4().hex[:12]
        self.node_id = ray.get_runtime_context().get_node_id()
        self.host = ray.util.get_node_ip_address()
        self.directory = Path(data_root) / fleet / slot
        self.log_path = self.directory / "server.log"
        previous = self.log_path.read_bytes() if self.log_path.exists() else b""
        shutil.rmtree(self.directory, ignore_errors=True)  # each start is a fresh server
        self.directory.mkdir(parents=True)
        if previous:  # why the last one ended, for whoever reads the logs
            (self.directory / "previous-server.log").write_bytes(previous[-1_000_000:])
        self.port_file = self.directory / "port"
        config_path = self.directory / "config.toml"
        config_path.write_text(config_toml)
        self.command = [
            *(DIE_WITH_PARENT if shutil.which(DIE_WITH_PARENT[0]) else []),
            sys.executable,
            "-m",
            "verifier_server",
            "serve",
            "--config",
            str(config_path),
            "--host",
            self.host,
            "--port",
            "0",
            "--port-file",
            str(self.port_file),
            "--data-dir",
            str(self.directory / "data"),
            "--metrics-port",
            "0",
            "--log-format",
            "json",
            *server_args,
        ]
        self._stopping = threading.Event()
        self._spawned = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._spawn_error: BaseException | None = None
        self._metrics_port_found: int | None = None
        """The server's metrics port, once its ``serving`` line is in the log (fixed for its life)."""
        # The thread that forks the server must outlive it: a parent-death signal fires when
        # the forking *thread* ends, so the server is started and awaited on one thread.
        threading.Thread(target=self._run, name="verifier-replica", daemon=True).start()
        self._spawned.wait()
        if self._spawn_error is not None:
            raise self._spawn_error

    def info(self) -> ReplicaInfo:
        port = self.port_file.read_text().strip() if self.port_file.exists() else ""
        if port and self._metrics_port_found is None:  # read the log once, not at every probe round
            self._metrics_port_found = self._metrics_port()
        metrics_port = self._metrics_port_found
        return ReplicaInfo(
            incarnation=self.incarnation,
            node_id=self.node_id,
            address=_join(self.host, port) if port else None,
            pid=self._process.pid if self._process is not None else None,
            metrics_address=_join(self.host, str(metrics_port)) if metrics_port else None,
            log_path=str(self.log_path),
        )

    def stop(self, drain_timeout_s: float) -> int | None:
        """Drain and stop the server (SIGTERM, then SIGKILL past the timeout); remove its files."""
        self._stopping.set()
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the server drains in-flight calls, then exits
        try:
            process.wait(drain_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.directory.parent.rmdir()  # the fleet's directory, once its last replica on the node is gone
        return process.returncode

    def _run(self) -> None:
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            "GRPC_ENABLE_FORK_SUPPORT": "false",
        }
        try:
            with open(self.log_path, "ab") as output:
                self._process = subprocess.Popen(
                    self.command,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=environment,
                    cwd=self.directory,
                    start_new_session=True,  # signals to the actor's process group stay there
                )
        except OSError as error:
            self._spawn_error = error
            return
        finally:
            self._spawned.set()
        code = self._process.wait()
        if not self._stopping.is_set():
            # Unbidden: end this actor so Ray restarts it with a fresh server.
            log.error("replica server exited with %s; restarting the replica", code)
            os._exit(1)

    def _metrics_port(self) -> int | None:
        """The metrics port the server chose, from its structured ``serving`` log line."""
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith("{") and '"metrics_port"' in line:
                    with contextlib.suppress(ValueError):
                        port = json.loads(line).get("metrics_port")
                        return int(port) if port else None
        return None


def _join(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
