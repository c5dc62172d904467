"""How large a spec a caller may send: one rule that both faces (gRPC and HTTP) apply before resolving it."""

from __future__ import annotations

from verifier_server.errors import InvalidArgument

MAX_NAME_CHARS = 1024
MAX_DESCRIPTION_CHARS = 64 * 1024


def check_spec_bounds(
    name: str, description: str, config_bytes: int, max_spec_bytes: int, *, field: str, config_field: str
) -> None:
    """Refuse a spec whose name, description or encoded config is over the server's bounds.

    ``config_bytes`` is the size of the config as JSON text (gRPC: ``config_json`` before it is
    decoded, so an oversized one is never parsed; HTTP: the decoded object encoded again).
    ``field`` and ``config_field`` name the spec and its config in the request, for the error.
    """
    if len(description) > MAX_DESCRIPTION_CHARS or len(name) > MAX_NAME_CHARS:
        raise InvalidArgument(
            field, f"name and description may have at most {MAX_NAME_CHARS} and {MAX_DESCRIPTION_CHARS} characters"
        )
    if config_bytes > max_spec_bytes:
        raise InvalidArgument(
            config_field, f"is {config_bytes} bytes; this server accepts specs up to {max_spec_bytes}"
        )
