"""The HTTP/JSON face of the verifier service (curl, OpenRLHF's remote reward URL, JSON trainers).

It is a second face on the same ``VerifierService`` object as the gRPC servicer, and
like the servicer it only translates: ``wire`` (JSON <-> domain), ``status`` (domain
errors -> HTTP statuses), ``openrlhf`` (OpenRLHF's request and reply), ``app`` (routes
behind one choke point) and ``face`` (start and drain). Built on aiohttp's server:
asyncio-native, so it runs on the gRPC server's event loop.
"""

from __future__ import annotations

from verifier_server.http.app import ROUTES, HttpApi, ServingState
from verifier_server.http.face import HttpFace, start_http_face

__all__ = ["ROUTES", "HttpApi", "HttpFace", "ServingState", "start_http_face"]
