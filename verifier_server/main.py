"""``verifier serve``: parse flags, load configuration, run the server."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys

# Must happen before grpc is imported. The server forks (sandbox launches, worker pools)
# while gRPC threads run; with gRPC's fork support on, a forked child restarts gRPC's
# poller between fork() and exec(), which then crashes on the fds subprocess closes:
# sandboxed runs died with SIGSEGV/SIGABRT under load. The server never uses gRPC in a
# forked child, so it needs none of that support.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from verifier_server.config import ServerConfig, load_config
from verifier_server.errors import VerifierError
from verifier_server.logs import configure_logging
from verifier_server.pid1 import become_init_if_pid1

EXAMPLE = """example:
  verifier serve                                   # 127.0.0.1:50051, SQLite registry in ./.state, bubblewrap sandbox
  verifier serve --host 0.0.0.0 --port 50051 --data-dir /var/lib/verifier --config server.toml"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verifier serve",
        description="Run the verifier gRPC server. Settings come from defaults, then --config (TOML), then\n"
        "VERIFIER_<SETTING> environment variables, then these flags.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="TOML config file (also VERIFIER_CONFIG)")
    parser.add_argument("--host", help="interface to bind")
    parser.add_argument("--port", type=int, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--http-port", dest="http_port", type=int, help="HTTP/JSON port; 0 picks a free one, -1 turns it off"
    )
    parser.add_argument("--data-dir", dest="data_dir", help="where the SQLite registry lives")
    parser.add_argument("--registry-url", dest="registry_url", help="sqlite:///PATH or postgresql://...")
    parser.add_argument("--port-file", dest="port_file", help="write the bound port here when ready")
    parser.add_argument("--sandbox-backend", dest="sandbox_backend", help="bwrap | docker | unsafe-local")
    parser.add_argument(
        "--allow-unsafe-weak-sandbox",
        dest="allow_unsafe_weak_sandbox",
        action="store_true",
        default=None,
        help="start even if bwrap cannot run its full design (not root, no cgroups); development only",
    )
    parser.add_argument("--workers", type=int, help="worker processes for CPU-bound kinds (0 = one per core)")
    parser.add_argument("--metrics-port", dest="metrics_port", type=int, help="Prometheus port (-1 off)")
    parser.add_argument("--auth-tokens-file", dest="auth_tokens_file", help="file of 'token role' lines")
    parser.add_argument("--tls-cert-file", dest="tls_cert_file")
    parser.add_argument("--tls-key-file", dest="tls_key_file")
    parser.add_argument("--tls-client-ca-file", dest="tls_client_ca_file", help="require client certs (mTLS)")
    parser.add_argument(
        "--max-inflight-samples", dest="max_inflight_samples", type=int, help="admission bound per kind (0 = unbounded)"
    )
    parser.add_argument("--drain-timeout-s", dest="drain_timeout_s", type=float)
    parser.add_argument("--log-level", dest="log_level")
    parser.add_argument("--log-format", dest="log_format", choices=("json", "text"))
    defaults = {f.name: f.default for f in dataclasses.fields(ServerConfig)}
    for action in parser._actions:  # the defaults live on ServerConfig; show them where a user looks
        default = defaults.get(action.dest)
        if default not in (None, ""):
            action.help = f"{action.help or ''} (default: {default})".strip()
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    become_init_if_pid1()  # before anything starts threads
    config_file = args.pop("config")
    try:
        config = load_config(config_file, overrides=args)
    except VerifierError as error:
        print(f"verifier serve: {error.message}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_format)
    from verifier_server.server import serve

    try:
        asyncio.run(serve(config))
    except VerifierError as error:
        print(f"verifier serve: {error.message}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"verifier serve: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
