"""Starting and stopping the HTTP face: one aiohttp site on the server's event loop.

It shares the event loop, the ``VerifierService``, the tokens, the TLS files and the
metrics with the gRPC face, so a sample costs the same whichever way it arrives.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from verifier_server.config import ServerConfig
from verifier_server.http.app import HttpApi, ServingState
from verifier_server.metrics import Metrics
from verifier_server.service import VerifierService

log = logging.getLogger(__name__)


@dataclass
class HttpFace:
    """A started HTTP face; ``port`` is the bound port (useful when the config asked for 0)."""

    runner: web.AppRunner
    state: ServingState
    port: int
    tls: bool

    def start_draining(self) -> None:
        """``/healthz`` answers 503 from now on; requests are still served until ``stop``."""
        self.state.serving = False

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish (up to the drain timeout), close."""
        self.state.serving = False
        await self.runner.cleanup()


async def start_http_face(
    service: VerifierService, config: ServerConfig, *, tokens: Mapping[str, str], metrics: Metrics | None
) -> HttpFace:
    state = ServingState()
    api = HttpApi(
        service,
        max_samples_per_request=config.max_samples_per_request,
        max_message_bytes=config.max_message_bytes,
        max_spec_bytes=config.max_spec_bytes,
        tokens=tokens,
        metrics=metrics,
        state=state,
    )
    runner = web.AppRunner(api.application(), access_log=None, handle_signals=False)
    await runner.setup()
    context = ssl_context(config)
    site = web.TCPSite(
        runner, config.host, config.http_port, ssl_context=context, shutdown_timeout=config.drain_timeout_s
    )
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    port = int(runner.addresses[0][1])
    state.serving = True
    return HttpFace(runner, state, port, tls=context is not None)


def ssl_context(config: ServerConfig) -> ssl.SSLContext | None:
    """TLS with the gRPC face's certificate and key; client certificates required with a client CA."""
    if not (config.tls_cert_file and config.tls_key_file):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    if config.tls_client_ca_file:
        context.load_verify_locations(cafile=config.tls_client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
