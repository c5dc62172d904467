"""The fleet's controller: a named, detached Ray actor that keeps one replica per node (or per N CPUs).

It is a thin loop over Ray's own primitives, not a cluster manager: ``ray.nodes()`` says
which nodes are alive, each replica is a named detached actor pinned to its node (so a
restarted controller finds them again with ``get_if_exists``), Ray restarts a replica
whose server died, and ``ray.kill`` restarts one whose server stopped answering the
standard gRPC health check. The controller's own part is the membership clients follow
(``members``: replicas that serve, with a generation that grows at every change) and,
when replicas keep their own registries, the registration log: every registry change
made through the fleet is applied on every replica in one order, and replayed on each
fresh replica before it joins, so a name and its versions mean the same everywhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sdk._errors import StatusCode
from sdk._fleet import FAN_OUT_METHODS, NAMESPACE, FanOutReply, FleetView, Member
from verifier_server.fleet.replica import Replica, ReplicaInfo

log = logging.getLogger(__name__)

SERVICE = "verifier.v1.VerifierService"
STARTING, SERVING, NOT_SERVING, UNREACHABLE = "STARTING", "SERVING", "NOT_SERVING", "UNREACHABLE"


@dataclass(frozen=True)
class FleetSpec:
    """What ``verifier fleet up`` asked for; the controller's constructor argument (kept across its restarts)."""

    name: str
    config_toml: str = ""
    replicas_per_node: int | None = None
    """None: one per node, or one per ``cpus_per_replica`` CPUs of each node when that is set."""
    cpus_per_replica: float | None = None
    """Ray CPUs each replica reserves (and its server's worker processes); None reserves none."""
    fans_out: bool = True
    """Replicas keep their own registries (no shared PostgreSQL): registry changes go to all."""
    data_root: str = "/tmp/verifier-fleet"
    probe_interval_s: float = 1.0
    probe_timeout_s: float = 3.0
    failed_probes_to_replace: int = 3
    """Consecutive failed health checks after which a serving replica is restarted."""
    start_timeout_s: float = 180.0
    """A replica not serving this long after it started is restarted."""
    stop_timeout_s: float = 40.0
    """How long a replica may drain on ``down`` before it is killed (above the server's own drain)."""

    def replicas_on(self, node_cpus: float) -> int:
        if self.replicas_per_node is not None:
            return self.replicas_per_node
        if self.cpus_per_replica:
            return max(1, int(node_cpus // self.cpus_per_replica))
        return 1

    def server_args(self) -> list[str]:
        """Per-replica flags: worker processes sized to the replica's CPUs; a registry of its own
        (SQLite in its data directory) unless the replicas share one."""
        args = ["--workers", str(max(1, int(self.cpus_per_replica)))] if self.cpus_per_replica else []
        return args + (["--registry-url", ""] if self.fans_out else [])


@dataclass(frozen=True)
class ReplicaStatus:
    """One line of ``verifier fleet status``."""

    slot: str
    node_id: str
    address: str | None
    pid: int | None
    health: str
    member: bool
    """Clients send calls to it (it serves and has every registration of the fleet)."""
    restarts: int
    metrics_address: str | None = None
    log_path: str | None = None


@dataclass
class _Replica:
    """The controller's record of one slot."""

    slot: str
    node_id: str
    handle: Any
    started_s: float
    """When its current server was (re)started: the clock of ``start_timeout_s``."""
    info: ReplicaInfo | None = None
    pending: Any = None
    """An ``info()`` call in flight (replicas that restart answer late; never ask twice)."""
    health: str = STARTING
    member: bool = False
    failures: int = 0
    incarnations: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Logged:
    method: str
    request: bytes
    metadata: tuple[tuple[str, str], ...]


class FleetController:
    """The actor's class (``ray.remote`` applied by ``verifier_server.fleet.manage``)."""

    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec
        self._lock = threading.RLock()
        self._registry_lock = threading.Lock()
        self._replicas: dict[str, _Replica] = {}
        # Unique across restarts of the controller, so a client never mistakes a new membership
        # for the one it has (clients compare generations for equality only).
        self._generation = time.time_ns()
        self._log: list[_Logged] = []
        self._channels: dict[str, grpc.Channel] = {}
        self._probes = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fleet-probe")
        self._stopped = threading.Event()
        self._actor: Any = None
        self._place()
        self._loop = threading.Thread(target=self._run, name="fleet-controller", daemon=True)
        self._loop.start()

    # -- what clients and the CLI ask -----------------------------------------------

    def members(self) -> FleetView:
        with self._lock:
            members = tuple(
                Member(r.info.address, r.node_id)
                for r in sorted(self._replicas.values(), key=lambda r: r.slot)
                if r.member and r.info is not None and r.info.address
            )
            return FleetView(self._generation, members, self.spec.fans_out)

    def status(self) -> list[ReplicaStatus]:
        with self._lock:
            return [_status(r) for r in sorted(self._replicas.values(), key=lambda r: r.slot)]

    def fan_out(
        self, method: str, request: bytes, metadata: Sequence[tuple[str, str]], timeout_s: float
    ) -> FanOutReply:
        """Apply a registry change on every member, first on one (whose answer is the caller's), then the rest.

        A change the first replica refuses is applied nowhere. A member that fails to apply
        an accepted change is restarted, and rebuilt from the log before it serves again.
        """
        if method not in FAN_OUT_METHODS:
            return FanOutReply(StatusCode.INVALID_ARGUMENT, f"{method} is not a fleet-wide change")
        entry = _Logged(method, request, tuple((str(k), str(v)) for k, v in metadata))
        with self._registry_lock:
            with self._lock:
                members = [r for r in sorted(self._replicas.values(), key=lambda r: r.slot) if r.member]
            reply = FanOutReply(StatusCode.UNAVAILABLE, f"fleet {self.spec.name!r} has no serving replica")
            first = None
            for replica in members:
                reply = self._apply(replica, entry, timeout_s)
                if reply.code != StatusCode.UNAVAILABLE:
                    first = replica
                    break
            if first is None or reply.code != 0:
                return reply
            self._log.append(entry)
            others = [r for r in members if r is not first]
            answers = self._probes.map(lambda r: self._apply(r, entry, timeout_s), others)
            for replica, answer in zip(others, answers, strict=True):
                if answer.code != 0:
                    self._restart(replica, f"missed a registry change ({answer.details})")
            return reply

    def shutdown(self) -> list[ReplicaStatus]:
        """Stop the loop, drain and stop every replica, and end their actors; returns what was stopped."""
        import ray

        self._stopped.set()
        self._loop.join(timeout=self.spec.probe_timeout_s * 4 + 10)
        with self._lock:
            replicas = list(self._replicas.values())
            stopped = [_status(r) for r in replicas]
        stops = [r.handle.stop.remote(self.spec.stop_timeout_s) for r in replicas]
        ray.wait(stops, num_returns=len(stops), timeout=self.spec.stop_timeout_s + 30)
        for replica in replicas:
            ray.kill(replica.handle, no_restart=True)
        with self._lock:
            self._replicas.clear()
            self._generation += 1
        for channel in self._channels.values():
            channel.close()
        return stopped

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopped.wait(self.spec.probe_interval_s):
            try:
                self._place()
                self._refresh()
                self._probe()
            except Exception:  # one bad round (a Ray hiccup) must not end the fleet's upkeep
                log.exception("fleet %s: controller round failed", self.spec.name)

    def _place(self) -> None:
        """A replica actor for every slot of every alive node; none for nodes that are gone."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = {n["NodeID"]: n.get("Resources", {}).get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")}
        wanted = {f"{node}.{i}": node for node, cpus in nodes.items() for i in range(self.spec.replicas_on(cpus))}
        if self._actor is None:
            self._actor = ray.remote(Replica)
        with self._lock:
            for slot in [s for s in self._replicas if s not in wanted]:
                gone = self._replicas.pop(slot)
                ray.kill(gone.handle, no_restart=True)
                self._generation += gone.member
                log.warning("fleet %s: node of replica %s left the cluster", self.spec.name, slot)
            for slot, node in wanted.items():
                if slot in self._replicas or self._stopped.is_set():
                    continue
                handle = self._actor.options(
                    name=f"{self.spec.name}.replica.{slot}",
                    namespace=NAMESPACE,
                    get_if_exists=True,
                    lifetime="detached",
                    max_restarts=-1,
                    max_concurrency=4,
                    num_cpus=self.spec.cpus_per_replica or 0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                ).remote(
                    self.spec.name,
                    slot,
                    self.spec.config_toml,
                    self.spec.server_args(),
                    self.spec.data_root,
                )
                self._replicas[slot] = _Replica(slot, node, handle, started_s=time.monotonic())

    def _refresh(self) -> None:
        """Ask every replica who it is now; a new incarnation is a fresh server that must join again."""
        import ray

        with self._lock:
            for replica in self._replicas.values():
                if replica.pending is None:
                    replica.pending = replica.handle.info.remote()
            pending = {r.pending: r for r in self._replicas.values()}
        if not pending:
            return
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=self.spec.probe_timeout_s)
        for reference in ready:
            replica = pending[reference]
            try:
                info: ReplicaInfo | None = ray.get(reference)
            except Exception:  # the actor died or is restarting: ask again next round
                info = None
            with self._lock:
                replica.pending = None
                if info is None:
                    continue
                if replica.info is None or info.incarnation != replica.info.incarnation:
                    self._leave(replica)
                    self._forget_channel(replica.info.address if replica.info else None)
                    replica.health, replica.failures, replica.started_s = STARTING, 0, time.monotonic()
                    replica.incarnations.add(info.incarnation)
                replica.info = info

    def _probe(self) -> None:
        """Health-check every replica that listens; admit the ones that serve, restart the stuck."""
        with self._lock:
            listening = [r for r in self._replicas.values() if r.info is not None and r.info.address]
        results = list(self._probes.map(self._check, listening))
        for replica, serving in zip(listening, results, strict=True):
            if serving:
                with self._lock:
                    replica.health, replica.failures = SERVING, 0
                if not replica.member:
                    self._join(replica)
                continue
            with self._lock:
                replica.failures += 1
                replica.health = NOT_SERVING if serving is False else UNREACHABLE
                stuck = not replica.member and time.monotonic() - replica.started_s > self.spec.start_timeout_s
                # Only a live actor whose server stopped answering: one that did not answer info()
                # this round is being restarted by Ray already (its server died with it).
                failed = (
                    replica.member
                    and replica.failures >= self.spec.failed_probes_to_replace
                    and replica.pending is None
                )
            if stuck or failed:
                self._restart(replica, f"{replica.health} ({replica.failures} failed health checks)")
        with self._lock:
            for replica in self._replicas.values():
                if replica.info is None and time.monotonic() - replica.started_s > self.spec.start_timeout_s:
                    self._restart(replica, "its actor did not start")

    def _check(self, replica: _Replica) -> bool | None:
        """SERVING: True; answered otherwise: False; no answer: None."""
        assert replica.info is not None and replica.info.address  # filtered by the caller
        stub = health_pb2_grpc.HealthStub(self._channel(replica.info.address))
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=self.spec.probe_timeout_s)
        except grpc.RpcError:
            return None
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

    def _join(self, replica: _Replica) -> None:
        """Replay the registration log on a fresh replica, then let clients see it."""
        with self._registry_lock:
            for entry in self._log:
                answer = self._apply(replica, entry, timeout_s=60.0)
                if answer.code != 0:
                    self._restart(replica, f"could not replay the registration log ({answer.details})")
                    return
            with self._lock:
                if replica.info is None or replica.health != SERVING or self._stopped.is_set():
                    return
                replica.member = True
                self._generation += 1
        log.info("fleet %s: replica %s serves at %s", self.spec.name, replica.slot, replica.info.address)

    def _leave(self, replica: _Replica) -> None:
        with self._lock:
            if replica.member:
                replica.member = False
                self._generation += 1

    def _restart(self, replica: _Replica, reason: str) -> None:
        """Ray restarts the actor (``max_restarts=-1``), which starts a fresh server."""
        import ray

        log.warning("fleet %s: restarting replica %s: %s", self.spec.name, replica.slot, reason)
        self._leave(replica)
        with self._lock:
            replica.health, replica.failures, replica.started_s = STARTING, 0, time.monotonic()
            address = replica.info.address if replica.info is not None else None
            replica.info = replace(replica.info, address=None) if replica.info is not None else None
        self._forget_channel(address)
        ray.kill(replica.handle, no_restart=False)

    # -- gRPC to replicas ---------------------------------------------------------------

    def _channel(self, address: str) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = self._channels[address] = grpc.insecure_channel(address)
            return channel

    def _forget_channel(self, address: str | None) -> None:
        with self._lock:
            channel = self._channels.pop(address, None) if address else None
        if channel is not None:
            channel.close()

    def _apply(self, replica: _Replica, entry: _Logged, timeout_s: float) -> FanOutReply:
        """One registry call on one replica, as bytes in and out (the controller never parses them)."""
        if replica.info is None or not replica.info.address:
            return FanOutReply(StatusCode.UNAVAILABLE, f"replica {replica.slot} is not listening")
        call = self._channel(replica.info.address).unary_unary(f"/{SERVICE}/{entry.method}")
        try:
            response = call(entry.request, timeout=timeout_s, metadata=entry.metadata)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
            details = error.details() if hasattr(error, "details") else str(error)
            return FanOutReply(code.value[0], details or code.name)
        return FanOutReply(0, "", response)


def _status(replica: _Replica) -> ReplicaStatus:
    info = replica.info
    return ReplicaStatus(
        slot=replica.slot,
        node_id=replica.node_id,
        address=info.address if info else None,
        pid=info.pid if info else None,
        health=replica.health,
        member=replica.member,
        restarts=max(0, len(replica.incarnations) - 1),
        metrics_address=info.metrics_address if info else None,
        log_path=info.log_path if info else None,
    )
