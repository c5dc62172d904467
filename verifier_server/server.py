"""Builds and runs the gRPC server: servicer, health, reflection, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from verifier_server.config import ServerConfig
from verifier_server.kinds.base import ResourceBag
from verifier_server.registry import open_registry
from verifier_server.service import VerifierService
from verifier_server.servicer import VerifierServicer

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

    async def drain_and_stop(self) -> None:
        """Stop taking new calls, let in-flight calls finish (up to the drain timeout), then close."""
        log.info("draining", extra={"grace_s": self.config.drain_timeout_s})
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace=self.config.drain_timeout_s)
        await self.service.aclose()
        log.info("stopped")


async def start_server(config: ServerConfig) -> RunningServer:
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    resources = ResourceBag(
        settings={
            "workers": config.workers,
            "sandbox_backend": config.sandbox_backend,
            "data_dir": config.data_dir,
            **config.kinds,
        }
    )
    service = VerifierService(open_registry(config.resolved_registry_url()), resources)
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.aio.server(options=options)
    pb_grpc.add_VerifierServiceServicer_to_server(
        VerifierServicer(service, config.max_samples_per_request, config.max_message_bytes), server
    )
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(config.address)
    if port == 0:
        raise OSError(f"could not bind {config.address}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    if config.port_file:
        Path(config.port_file).write_text(str(port))
    log.info("serving", extra={"address": f"{config.host}:{port}", "registry": config.resolved_registry_url()})
    return RunningServer(server, service, health_servicer, port, config)


async def serve(config: ServerConfig) -> None:
    """Run until SIGTERM or SIGINT, then drain."""
    running = await start_server(config)
    print(f"verifier server listening on {config.host}:{running.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await running.drain_and_stop()
