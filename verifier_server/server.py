"""Builds and runs the gRPC server: servicer, health, reflection, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from verifier_server import kinds
from verifier_server.admission import AdmissionController, AdmissionLimits
from verifier_server.auth import TokenAuthInterceptor, load_tokens
from verifier_server.config import ServerConfig
from verifier_server.errors import Unavailable
from verifier_server.http import HttpFace, start_http_face
from verifier_server.kinds.base import ResourceBag
from verifier_server.kinds.sandboxed.access import prepare_sandbox, runs_of
from verifier_server.kinds.sandboxed.shipping import preload_sources
from verifier_server.kinds.settings import KindSettings
from verifier_server.metrics import Metrics
from verifier_server.registry import open_registry
from verifier_server.service import VerifierService
from verifier_server.servicer import VerifierServicer
from verifier_server.sessions import SessionManager, SessionSettings

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["VerifierService"].full_name


@dataclass
class RunningServer:
    """A started server; ``port`` is the bound port (useful when the config asked for 0)."""

    server: grpc.aio.Server
    service: VerifierService
    health: health_aio.HealthServicer
    port: int
    config: ServerConfig
    metrics: Metrics
    metrics_port: int | None = None
    http: HttpFace | None = None
    sessions: SessionManager | None = None

    async def drain_and_stop(self) -> None:
        """Stop taking new calls, let in-flight calls finish (up to the drain timeout), then close."""
        log.info("draining", extra={"grace_s": self.config.drain_timeout_s})
        await self.health.enter_graceful_shutdown()
        if self.http is not None:
            self.http.start_draining()
        await asyncio.sleep(self.config.drain_notice_s)
        stopping = [self.server.stop(grace=self.config.drain_timeout_s)]
        if self.http is not None:
            stopping.append(self.http.stop())
        await asyncio.gather(*stopping)
        if self.sessions is not None:
            await self.sessions.aclose()  # before the sandbox they run in
        await self.service.aclose()
        log.info("stopped")


async def start_server(config: ServerConfig) -> RunningServer:
    kind_settings = kinds.read_server_settings(config.kinds)  # a typo in [kinds.NAME] stops the start
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    admission = AdmissionController(_admission_limits(config, kind_settings))
    metrics = Metrics(admission, kinds=kinds.KIND_TABLE)
    resources = ResourceBag(
        settings={
            "workers": config.workers,
            "sandbox_backend": config.sandbox_backend,
            "sandbox_uid_base": config.sandbox_uid_base,
            "sandbox_uid_range_size": config.sandbox_uid_range_size,
            "data_dir": config.data_dir,
            **config.kinds,
        },
        metrics=metrics,
    )
    # The kinds' shipped programs (the code harness, ...), imported once by the sandbox's fork server.
    preload = preload_sources(kinds.shipped_modules())
    await prepare_sandbox(resources, allow_weak=config.allow_unsafe_weak_sandbox, preload=preload)
    service = VerifierService(
        open_registry(config.resolved_registry_url()), resources, admission=admission, observer=metrics
    )
    sessions = SessionManager(
        SessionSettings.from_config(config), resources, resolve=service.resolve, admission=admission, observer=metrics
    )
    try:
        session_uids = await sessions.claim_uids()
    except Unavailable:
        await service.aclose()  # the sandbox and its slot claims with it
        raise
    if session_uids and sessions.unavailable:
        log.warning("sessions cannot run here (scoring is unaffected): %s", sessions.unavailable)
    elif session_uids:
        log.info("sessions ready", extra={"session_uids": runs_of(session_uids)})
    metrics.track_sessions(sessions)
    interceptors: list[grpc.aio.ServerInterceptor] = [metrics.interceptor()]
    tokens = load_tokens(config.auth_tokens_file, os.environ.get("VERIFIER_AUTH_TOKENS", ""))
    if tokens:
        interceptors.insert(0, TokenAuthInterceptor(tokens))
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.aio.server(options=options, interceptors=interceptors)
    pb_grpc.add_VerifierServiceServicer_to_server(
        VerifierServicer(
            service, config.max_samples_per_request, config.max_message_bytes, config.max_spec_bytes, sessions
        ),
        server,
    )
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    credentials = _server_credentials(config)
    try:
        if credentials is None:
            port = server.add_insecure_port(config.address)
        else:
            port = server.add_secure_port(config.address, credentials)
    except RuntimeError:  # gRPC's "Failed to bind", whatever the cause
        port = 0
    if port == 0:
        raise OSError(
            f"cannot listen on {config.address}: the port is in use (or the host is not an address of this "
            "machine); stop the other server or pick another port with --port (0 picks a free one)"
        )
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    metrics_port = metrics.serve_http(config.host, config.metrics_port) if config.metrics_port >= 0 else None
    http = await start_http_face(service, config, tokens=tokens, metrics=metrics) if config.http_port >= 0 else None
    if config.port_file:
        if http is not None:
            Path(config.port_file + ".http").write_text(str(http.port))
        Path(config.port_file).write_text(str(port))
    log.info(
        "serving",
        extra={
            "address": f"{config.host}:{port}",
            "registry": _redacted(config.resolved_registry_url()),
            "tls": credentials is not None,
            "auth": bool(tokens),
            "metrics_port": metrics_port,
            "http_port": http.port if http is not None else None,
        },
    )
    return RunningServer(server, service, health_servicer, port, config, metrics, metrics_port, http, sessions)


def _admission_limits(config: ServerConfig, kind_settings: Mapping[str, KindSettings]) -> AdmissionLimits:
    per_kind = {
        kind: settings.max_inflight_samples
        for kind, settings in kind_settings.items()
        if settings.max_inflight_samples is not None
    }
    return AdmissionLimits(
        max_inflight_samples=config.max_inflight_samples,
        per_client_fraction=config.per_client_fraction,
        retry_after_s=config.retry_after_s,
        per_kind=per_kind,
    )


def _server_credentials(config: ServerConfig) -> grpc.ServerCredentials | None:
    """TLS when a certificate and key are configured; mutual TLS when a client CA is too."""
    if not (config.tls_cert_file and config.tls_key_file):
        return None
    cert = Path(config.tls_cert_file).read_bytes()
    key = Path(config.tls_key_file).read_bytes()
    client_ca = Path(config.tls_client_ca_file).read_bytes() if config.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _redacted(url: str) -> str:
    """A registry URL fit for logs: the password (if any) replaced."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


async def serve(config: ServerConfig) -> None:
    """Run until SIGTERM or SIGINT, then drain."""
    running = await start_server(config)
    print(f"verifier server listening on {config.host}:{running.port}", flush=True)
    if running.http is not None:
        scheme = "https" if running.http.tls else "http"
        print(f"verifier HTTP/JSON on {scheme}://{config.host}:{running.http.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await running.drain_and_stop()
