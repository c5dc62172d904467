"""Starting, reading and stopping a fleet: what ``verifier fleet up/status/down`` do, as functions.

``up`` checks the server configuration where it is given (so a typo fails here, not on
every node), creates the controller as a named detached actor (it outlives this
process; Ray restarts it if it dies) and waits until every replica serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdk._errors import ServerUnavailableError, VerifierError
from sdk._fleet import NAMESPACE, connect, controller, validate_name
from verifier_server.config import load_config
from verifier_server.errors import VerifierError as ServerConfigError
from verifier_server.fleet.controller import FleetController, FleetSpec, ReplicaStatus

DEFAULT_WAIT_S = 600.0


def fleet_spec(
    name: str,
    config_file: str | Path | None = None,
    *,
    replicas_per_node: int | None = None,
    cpus_per_replica: float | None = None,
    data_root: str | None = None,
) -> FleetSpec:
    """The fleet's spec, with its server configuration checked here (the nodes get the file's text)."""
    validate_name(name)
    if replicas_per_node is not None and replicas_per_node < 1:
        raise VerifierError("--replicas-per-node must be at least 1")
    if cpus_per_replica is not None and cpus_per_replica <= 0:
        raise VerifierError("--cpus-per-replica must be positive")
    try:
        config = load_config(str(config_file) if config_file else None, environ={})
    except ServerConfigError as error:
        raise VerifierError(f"server config: {error.message}") from None
    text = Path(config_file).read_text() if config_file else ""
    if config.tls_cert_file:
        raise VerifierError(
            "a fleet of TLS servers is not supported yet: the controller's health checks and "
            "registration fan-out speak plaintext; use auth tokens on a private network"
        )
    shared_registry = config.resolved_registry_url().startswith(("postgresql:", "postgres:"))
    optional: dict[str, Any] = {"data_root": data_root} if data_root else {}
    return FleetSpec(
        name=name,
        config_toml=text,
        replicas_per_node=replicas_per_node,
        cpus_per_replica=cpus_per_replica,
        fans_out=not shared_registry,
        stop_timeout_s=config.drain_notice_s + config.drain_timeout_s + 10.0,
        **optional,
    )


def up(
    spec: FleetSpec,
    *,
    address: str | None = None,
    wait_s: float = DEFAULT_WAIT_S,
    on_progress: Callable[[list[ReplicaStatus]], None] | None = None,
) -> list[ReplicaStatus]:
    """Start the fleet and return its replicas once every one of them serves."""
    ray = connect(address)
    try:
        controller(ray, spec.name)
    except ServerUnavailableError:
        pass  # no fleet of that name: start it
    else:
        raise VerifierError(f"fleet {spec.name!r} is already up (verifier fleet down --name {spec.name} first)")
    ray.remote(FleetController).options(
        name=spec.name,
        namespace=NAMESPACE,
        lifetime="detached",
        max_restarts=-1,
        max_concurrency=16,
        num_cpus=0,
    ).remote(spec)
    return wait_until_serving(spec.name, address=address, wait_s=wait_s, on_progress=on_progress)


def wait_until_serving(
    name: str,
    *,
    address: str | None = None,
    wait_s: float = DEFAULT_WAIT_S,
    on_progress: Callable[[list[ReplicaStatus]], None] | None = None,
) -> list[ReplicaStatus]:
    """Poll the controller until it has replicas and every one is a serving member."""
    deadline = time.monotonic() + wait_s
    replicas: list[ReplicaStatus] = []
    while time.monotonic() < deadline:
        replicas = status(name, address=address)
        if on_progress is not None:
            on_progress(replicas)
        if replicas and all(replica.member for replica in replicas):
            return replicas
        time.sleep(0.5)
    serving = sum(replica.member for replica in replicas)
    raise VerifierError(
        f"fleet {name!r}: {serving}/{len(replicas)} replicas serving after {wait_s:.0f}s; "
        "see `verifier fleet status` and the replicas' log files"
    )


def status(name: str, *, address: str | None = None) -> list[ReplicaStatus]:
    ray = connect(address)
    replicas: list[ReplicaStatus] = _get(ray, controller(ray, name).status.remote(), 60.0)
    return replicas


def down(name: str, *, address: str | None = None) -> list[ReplicaStatus]:
    """Drain and stop every replica, then end the controller; returns the replicas that were stopped."""
    ray = connect(address)
    actor = controller(ray, name)
    stopped: list[ReplicaStatus] = _get(ray, actor.shutdown.remote(), 600.0)
    ray.kill(actor, no_restart=True)
    return stopped


def _get(ray: Any, reference: Any, timeout_s: float) -> Any:
    """``ray.get`` with Ray's errors (controller gone, no answer in time) as the CLI's errors."""
    try:
        return ray.get(reference, timeout=timeout_s)
    except ray.exceptions.RayError as error:
        raise VerifierError(f"the fleet's controller did not answer: {type(error).__name__}: {error}") from None
