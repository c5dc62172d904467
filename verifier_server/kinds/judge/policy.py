"""What a judge spec may make the server reach, as the server's ``[kinds.judge]`` settings decide.

A spec is untrusted input, whoever sends it: a score-role token may send one inline, and an
admin token is a registry credential, not the host's. So nothing in a spec can widen what the
server touches outside its sandboxes:

* ``base_url`` must lie under an entry of ``openai_endpoints`` (same scheme, host and port, path
  at or below the entry's), so a spec cannot point the server at internal services or at a
  listener of its own;
* ``api_key_env`` must be one of that same entry's ``api_key_envs``, so the server's environment
  (its tokens, database URL, cloud keys) is never sent anywhere but where its operator said;
* a local ``model`` must resolve (symlinks followed) inside one of ``model_roots``, or be a
  model that ships with the server (the offline built-ins);
* ``allow_download`` and ``trust_remote_code`` are server-only switches, off by default: remote
  code imports Python into the server process, downloads fetch anything from the Hub.

A refusal is ``PERMISSION_DENIED`` naming the spec field and the setting that would allow it.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier_server.errors import NotAllowed
from verifier_server.kinds.base import ConfigReader

if TYPE_CHECKING:
    from verifier_server.kinds.judge.settings import JudgeSettings

_HUB_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[\w.-]{1,96})?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    """A URL reduced to what decides where a request goes."""

    scheme: str
    host: str
    port: int
    path: str
    """Without a trailing slash; ``""`` for the root."""

    def covers(self, other: Origin) -> bool:
        if (self.scheme, self.host, self.port) != (other.scheme, other.host, other.port):
            return False
        return other.path == self.path or other.path.startswith(self.path + "/")


@dataclass(frozen=True, slots=True)
class AllowedEndpoint:
    """One entry of ``openai_endpoints``: where judges may send requests, with which keys, how hard."""

    base_url: str
    origin: Origin
    api_key_envs: tuple[str, ...] = ()
    max_concurrency: int = 64
    """HTTP requests in flight to this endpoint, from every verifier together."""
    max_requests_per_second: float | None = None
    """Spacing of requests to this endpoint, from every verifier together; None is unlimited."""


@dataclass(frozen=True, slots=True)
class JudgePolicy:
    endpoints: tuple[AllowedEndpoint, ...] = ()
    model_roots: tuple[Path, ...] = ()
    allow_download: bool = False
    trust_remote_code: bool = False

    @classmethod
    def from_settings(cls, settings: JudgeSettings) -> JudgePolicy:
        """The policy the server's ``[kinds.judge]`` settings state (already checked when read)."""
        return cls(
            endpoints=settings.openai_endpoints,
            model_roots=tuple(Path(os.path.realpath(root)) for root in settings.model_roots),
            allow_download=settings.allow_download,
            trust_remote_code=settings.trust_remote_code,
        )

    # -- the checks a spec goes through ------------------------------------------------------

    def endpoint_for(self, reader: ConfigReader, base_url: str) -> AllowedEndpoint:
        origin = parse_origin(base_url)
        if isinstance(origin, str):
            raise reader.error("base_url", origin)
        for endpoint in self.endpoints:
            if endpoint.origin.covers(origin):
                return endpoint
        raise NotAllowed(
            reader.path("base_url"),
            "this server does not allow judge requests to that URL; its operator lists the endpoints "
            "judges may use in [kinds.judge] openai_endpoints",
        )

    def check_api_key_env(self, reader: ConfigReader, endpoint: AllowedEndpoint, name: str) -> None:
        if not _ENV_NAME.fullmatch(name):
            raise reader.error("api_key_env", "must be the NAME of an environment variable, not the key itself")
        if name not in endpoint.api_key_envs:
            raise NotAllowed(
                reader.path("api_key_env"),
                f"this server does not send {name} to that endpoint; its operator lists the key variables "
                "each endpoint may receive in [kinds.judge] openai_endpoints[].api_key_envs",
            )

    def check_model(self, reader: ConfigReader, model: str, allow_download: bool, builtin_dirs: Sequence[Path]) -> None:
        """A local model inside the roots or shipped with the server; a Hub id only when downloads are allowed."""
        if allow_download and not self.allow_download:
            raise NotAllowed(
                reader.path("allow_download"),
                "this server does not download models ([kinds.judge] allow_download is off)",
            )
        if "\x00" in model:
            raise reader.error("model", "must be a path or a model id")
        if _looks_local(model):
            self._check_local_model(reader, model, builtin_dirs)
            return
        if not allow_download:
            raise reader.error(
                "model",
                f"{model[:200]!r} is not a local model directory (no config.json); models load from local paths "
                "unless allow_download is true",
            )
        if not _HUB_REPO_ID.fullmatch(model) or ".." in model:
            raise reader.error("model", f"{model[:200]!r} is neither a local directory nor a Hub repository id")

    def check_remote_code(self, reader: ConfigReader, trust_remote_code: bool) -> None:
        if trust_remote_code and not self.trust_remote_code:
            raise NotAllowed(
                reader.path("trust_remote_code"),
                "this server does not run a model's own Python code ([kinds.judge] trust_remote_code is off)",
            )

    def _check_local_model(self, reader: ConfigReader, model: str, builtin_dirs: Sequence[Path]) -> None:
        resolved = Path(os.path.realpath(model))
        if any(resolved == Path(os.path.realpath(d)) for d in builtin_dirs):
            return
        if not any(resolved == root or root in resolved.parents for root in self.model_roots):
            raise NotAllowed(
                reader.path("model"),
                "this server loads models only from its model roots ([kinds.judge] model_roots) "
                "and the models it ships with",
            )
        if not (resolved / "config.json").is_file():
            raise reader.error("model", f"{model[:200]!r} is not a local model directory (no config.json)")


def parse_origin(url: str) -> Origin | str:
    """Where ``url`` sends requests, or why it is not an acceptable base URL."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url) or "\\" in url:
        return "must be an http(s) URL without whitespace or backslashes"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return f"must be an http(s) URL ending in /v1, got {url[:200]!r}"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not carry credentials (user:password@); name a key variable in api_key_env"
    if parts.query or parts.fragment or "%" in parts.path:
        return "must be a plain base URL (no query, fragment or percent-escapes)"
    segments = parts.path.split("/")
    if any(segment in (".", "..") for segment in segments):
        return "must not contain '.' or '..' path segments"
    return Origin(
        scheme=parts.scheme,
        host=parts.hostname.lower(),
        port=port if port is not None else _DEFAULT_PORTS[parts.scheme],
        path=parts.path.rstrip("/"),
    )


def read_endpoint(item: Any, where: str) -> AllowedEndpoint:
    """One ``openai_endpoints`` entry of the server's settings; errors name ``where`` (an operator's error)."""
    if isinstance(item, str):
        item = {"base_url": item}
    reader = ConfigReader(item if isinstance(item, Mapping) else {}, where)
    if not isinstance(item, Mapping):
        raise reader.error("base_url", "an entry is a base URL or a {base_url, api_key_envs, ...} table")
    base_url = reader.str("base_url")
    origin = parse_origin(base_url)
    if isinstance(origin, str):
        raise reader.error("base_url", origin)
    envs = reader.str_list("api_key_envs")
    for name in envs:
        if not _ENV_NAME.fullmatch(name):
            raise reader.error("api_key_envs", f"{name!r} is not an environment variable name")
    endpoint = AllowedEndpoint(
        base_url=base_url,
        origin=origin,
        api_key_envs=envs,
        max_concurrency=reader.int("max_concurrency", 64, minimum=1),
        max_requests_per_second=reader.optional_float("max_requests_per_second", minimum=1e-6),
    )
    reader.finish()
    return endpoint


def _looks_local(model: str) -> bool:
    """A path rather than a Hub id: absolute, relative with a dot, home, or existing on disk."""
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or Path(model).exists()
