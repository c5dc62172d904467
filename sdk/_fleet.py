"""``ray://NAME`` targets: a verifier fleet found through its named Ray actor, followed as it changes.

A fleet (``verifier fleet up``, ``verifier_server.fleet``) is a controller, a named detached
Ray actor, and one normal server process per node. This module is the contract both sides
import (the namespace, the actor's name, what ``members()`` and ``fan_out()`` return) and
the client's half of it:

- ``FleetResolver``: one per fleet and process. It asks the controller for the replicas
  that serve, then polls it on a daemon thread so the client follows replacements and
  nodes that come and go. Replicas on the caller's own Ray node get a larger share.
- ``FleetStub``: stands in for the gRPC stub. Each call goes through a round-robin,
  health-checked channel over the current replicas (the SDK's usual multi-address
  balancing); when the membership changes it opens a new channel and retires the old one.

Ray is imported only when a ``ray://`` target is used, so the SDK does not depend on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar

from sdk._errors import InputError, ServerUnavailableError, StatusCode, VerifierError

log = logging.getLogger(__name__)

SCHEME = "ray://"
NAMESPACE = "verifier-fleet"
"""The Ray namespace of every fleet's actors, so any job on the cluster finds them by name."""
POLL_INTERVAL_S = 2.0
"""How often a client process asks the controller for the membership."""
FAN_OUT_METHODS = frozenset({"RegisterVerifier", "DeleteVerifier"})
"""Registry changes a fleet without a shared registry applies on every replica, in one order."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class Member:
    """A replica that serves: its gRPC address and the Ray node it runs on."""

    address: str
    node_id: str


@dataclass(frozen=True)
class FleetView:
    """What the controller's ``members()`` returns; ``generation`` grows with every change."""

    generation: int
    members: tuple[Member, ...]
    fans_out: bool
    """True when replicas keep their own registries: registrations go through ``fan_out``."""


@dataclass(frozen=True)
class FanOutReply:
    """What the controller's ``fan_out()`` returns: the first replica's response, or its error."""

    code: int
    """A gRPC status code value; 0 is OK."""
    details: str = ""
    response: bytes = b""


def fleet_name(target: object) -> str | None:
    """The fleet's name for a ``ray://NAME`` target; None for any other target."""
    if not isinstance(target, str) or not target.startswith(SCHEME):
        return None
    name = target[len(SCHEME) :]
    if not _NAME.match(name):
        raise InputError(
            f"{target!r}: a ray:// target names a verifier fleet (letters, digits, '.', '_', '-'); "
            "to reach a Ray cluster through Ray Client, set RAY_ADDRESS instead"
        )
    return name


def validate_name(name: str) -> str:
    """A fleet name usable in ``ray://NAME``; raises InputError otherwise."""
    fleet_name(SCHEME + name)
    return name


def import_ray() -> ModuleType:
    """``ray``, or an error that says how to get it."""
    try:
        import ray
    except ImportError as error:
        raise VerifierError(
            "a ray:// target needs Ray in this environment: pip install 'verifier-service[fleet]' "
            f"(or pip install ray) ({error})"
        ) from None
    return ray


def connect(address: str | None = None) -> ModuleType:
    """``ray``, connected to the cluster (``address``, else ``RAY_ADDRESS``, else the local one)."""
    ray = import_ray()
    if not ray.is_initialized():
        target = address or os.environ.get("RAY_ADDRESS") or "auto"
        try:
            ray.init(address=target, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise VerifierError(f"cannot connect to a Ray cluster at {target!r}: {error}") from None
    return ray


def controller(ray: ModuleType, name: str) -> Any:
    """The fleet's controller actor; ServerUnavailableError when no fleet has that name."""
    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        raise ServerUnavailableError(
            StatusCode.UNAVAILABLE,
            f"no verifier fleet named {name!r} on this Ray cluster (start one: verifier fleet up --name {name})",
            SCHEME + name,
        ) from None


def weighted_addresses(members: Sequence[Member], local_node_id: str | None, local_ip: str | None) -> list[str]:
    """The replicas' addresses for round robin, those on the caller's node repeated.

    Local replicas are listed often enough to take about half of the calls (all of them
    when every replica is local): latency and network stay on the node while the rest
    of the fleet still shares the load, so one busy caller never pins a single node.
    """

    def is_local(member: Member) -> bool:
        if local_node_id:
            return member.node_id == local_node_id
        return local_ip is not None and _host(member.address) == local_ip

    local = sorted(m.address for m in members if is_local(m))
    remote = sorted(m.address for m in members if not is_local(m))
    weight = max(1, round(len(remote) / len(local))) if local and remote else 1
    return [address for address in local for _ in range(weight)] + remote


def _host(address: str) -> str:
    host = address.rpartition(":")[0].strip("[]")
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    return host


class FleetResolver:
    """The membership of one fleet as this process sees it, refreshed on a daemon thread."""

    _cache: ClassVar[dict[tuple[str, int, str], FleetResolver]] = {}
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, ray: ModuleType, name: str, wait_s: float) -> None:
        self.name = name
        self._ray = ray
        self._controller: Any = controller(ray, name)
        self._failing = False
        context = ray.get_runtime_context()
        self.local_node_id: str | None = context.get_node_id()
        self.local_ip: str | None = self._ray.util.get_node_ip_address()
        self.view = self._first_view(wait_s)
        threading.Thread(target=self._follow, name=f"verifier-fleet-{name}", daemon=True).start()

    @classmethod
    def get(cls, name: str, *, wait_s: float) -> FleetResolver:
        """This process's resolver for ``name`` (clients of one fleet share its thread).

        Keyed by the Ray job too: a process that shuts Ray down and connects again gets a
        fresh resolver, never one holding handles of the old connection.
        """
        ray = connect()
        key = (name, os.getpid(), ray.get_runtime_context().get_job_id())
        with cls._cache_lock:
            resolver = cls._cache.get(key)
            if resolver is None:
                resolver = cls._cache[key] = FleetResolver(ray, name, wait_s)
            return resolver

    def connected(self) -> bool:
        """Ray is still up in this process. Checked before every Ray call: on a process that
        shut Ray down, Ray's API would start a new local cluster instead of failing."""
        return bool(self._ray.is_initialized())

    def addresses(self) -> list[str]:
        return weighted_addresses(self.view.members, self.local_node_id, self.local_ip)

    def fan_out(
        self, method: str, request: bytes, metadata: Sequence[tuple[str, str]], timeout_s: float
    ) -> FanOutReply:
        """Apply a registry change on every replica through the controller (blocking)."""
        if not self.connected():
            return FanOutReply(StatusCode.UNAVAILABLE.value, "Ray was shut down in this process")
        try:
            reference = self._current_controller().fan_out.remote(method, request, tuple(metadata), timeout_s)
            reply: FanOutReply = self._ray.get(reference, timeout=timeout_s + 5.0)
        except Exception as error:  # Ray's own errors: the controller is gone or did not answer
            self._controller = None
            return FanOutReply(StatusCode.UNAVAILABLE.value, f"fleet {self.name!r}: {type(error).__name__}: {error}")
        return reply

    def _first_view(self, wait_s: float) -> FleetView:
        deadline = time.monotonic() + wait_s
        while True:
            view = self._ask()
            if view is not None and view.members:
                return view
            if time.monotonic() >= deadline:
                raise ServerUnavailableError(
                    StatusCode.UNAVAILABLE, f"fleet {self.name!r} has no serving replica", SCHEME + self.name
                )
            time.sleep(0.5)

    def _ask(self) -> FleetView | None:
        if not self.connected():
            return None
        try:
            view: FleetView = self._ray.get(self._current_controller().members.remote(), timeout=10.0)
        except Exception as error:  # the controller restarting, or the fleet taken down
            if not self._failing:
                log.warning("fleet %r: no membership from its controller (keeping the last): %s", self.name, error)
            self._failing, self._controller = True, None
            return None
        if self._failing:
            log.info("fleet %r: membership from its controller again", self.name)
        self._failing = False
        return view

    def _current_controller(self) -> Any:
        """The controller's handle, looked up again after a failure (a fleet taken down and up again)."""
        if self._controller is None:
            self._controller = controller(self._ray, self.name)
        return self._controller

    def _follow(self) -> None:
        while self.connected():
            time.sleep(POLL_INTERVAL_S)
            view = self._ask()
            if view is not None and view.members and view.generation != self.view.generation:
                self.view = view


C = TypeVar("C")


class FleetStub(Generic[C]):
    """A ``VerifierServiceStub`` over a fleet: every call uses the channel of the current membership.

    ``open_channel`` builds a channel over a list of addresses (the client's own channel
    options, credentials and balancing); a channel the membership left behind is closed
    once calls that started on it are past their deadline (``retire_after_s``).
    """

    def __init__(
        self,
        resolver: FleetResolver,
        open_channel: Callable[[list[str]], C],
        close_channel: Callable[[C], Any],
        retire_after_s: float,
    ) -> None:
        self._resolver = resolver
        self._open_channel = open_channel
        self._close_channel = close_channel
        self._retire_after_s = retire_after_s
        self._lock = threading.Lock()
        self._closing: set[asyncio.Future[Any]] = set()
        self._generation = -1
        self._channel: C | None = None
        self._stub: Any = None
        self._retired: list[tuple[float, C]] = []

    def __getattr__(self, method: str) -> _FleetMethod:
        if method.startswith("_"):
            raise AttributeError(method)
        return _FleetMethod(self, method)

    def current(self) -> Any:
        """The generated stub over the current replicas (a new channel after a membership change)."""
        view = self._resolver.view
        with self._lock:
            if view.generation != self._generation:
                from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc

                if self._channel is not None:
                    self._retired.append((time.monotonic(), self._channel))
                self._channel = self._open_channel(self._resolver.addresses())
                self._stub = pb_grpc.VerifierServiceStub(self._channel)
                self._generation = view.generation
                self._close_retired(time.monotonic() - self._retire_after_s)
            return self._stub

    def channels(self) -> list[C]:
        """Every channel still open (the current one and retired ones), for the client's close."""
        with self._lock:
            open_channels = [channel for _, channel in self._retired]
            if self._channel is not None:
                open_channels.append(self._channel)
            self._retired, self._channel, self._generation = [], None, -1
            return open_channels

    def _close_retired(self, retired_before: float) -> None:
        keep = []
        for retired_at, channel in self._retired:
            if retired_at > retired_before:
                keep.append((retired_at, channel))
                continue
            closing = self._close_channel(channel)
            if inspect.isawaitable(closing):  # grpc.aio: close in the client's loop
                task = asyncio.ensure_future(closing)
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        self._retired = keep


class _FleetMethod:
    """One RPC method of a ``FleetStub``, looked up on the current channel at every call (and retry)."""

    def __init__(self, stub: FleetStub[Any], method: str) -> None:
        self._stub = stub
        self._method = method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._stub.current(), self._method)(*args, **kwargs)
