"""``verifier fleet up|status|down``: a verifier fleet on the Ray cluster (wired into the ``verifier`` CLI)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from sdk._errors import VerifierError
from verifier_server.fleet import manage
from verifier_server.fleet.controller import ReplicaStatus


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verifier fleet",
        description="One verifier server per node of a Ray cluster, found by the SDK as ray://NAME.",
    )
    cluster = argparse.ArgumentParser(add_help=False)
    cluster.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else the local cluster)")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", parents=[cluster], help="start replicas on every node; returns when all serve")
    up.add_argument("--name", required=True, help="the fleet's name: clients use ray://NAME")
    up.add_argument("--config", help="server TOML config for every replica (read here, sent to the nodes)")
    up.add_argument("--replicas-per-node", type=int, help="replicas on each node (default 1, or per CPUs)")
    up.add_argument(
        "--cpus-per-replica", type=float, help="Ray CPUs each replica reserves; alone: one replica per that many CPUs"
    )
    up.add_argument("--data-root", help="where replicas keep their files on each node (default /tmp/verifier-fleet)")
    up.add_argument("--wait", type=float, default=manage.DEFAULT_WAIT_S, help="seconds to wait for all to serve")
    up.set_defaults(handler=_up)

    status = sub.add_parser("status", parents=[cluster], help="the fleet's replicas: address, node, pid, health")
    status.add_argument("--name", required=True)
    status.add_argument("--json", action="store_true", help="one JSON object per replica")
    status.set_defaults(handler=_status)

    down = sub.add_parser("down", parents=[cluster], help="drain and stop every replica and the controller")
    down.add_argument("--name", required=True)
    down.set_defaults(handler=_down)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except VerifierError as error:
        print(f"verifier fleet: {error}", file=sys.stderr)
        return 1


def _up(args: argparse.Namespace) -> int:
    spec = manage.fleet_spec(
        args.name,
        args.config,
        replicas_per_node=args.replicas_per_node,
        cpus_per_replica=args.cpus_per_replica,
        data_root=args.data_root,
    )
    seen: list[int] = []

    def progress(replicas: list[ReplicaStatus]) -> None:
        serving = sum(replica.member for replica in replicas)
        if replicas and [serving] != seen[-1:]:
            seen.append(serving)
            print(f"{serving}/{len(replicas)} replicas serving", file=sys.stderr, flush=True)

    replicas = manage.up(spec, address=args.address, wait_s=args.wait, on_progress=progress)
    print(render(replicas))
    print(f"fleet {args.name!r} is up: target ray://{args.name}")
    return 0


def _status(args: argparse.Namespace) -> int:
    replicas = manage.status(args.name, address=args.address)
    if args.json:
        for replica in replicas:
            print(json.dumps(dataclasses.asdict(replica)))
    else:
        print(render(replicas))
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = manage.down(args.name, address=args.address)
    print(f"fleet {args.name!r} is down ({len(stopped)} replicas stopped)")
    return 0


def render(replicas: list[ReplicaStatus]) -> str:
    """A table: one replica a line."""
    rows = [("ADDRESS", "NODE", "PID", "HEALTH", "MEMBER", "RESTARTS", "METRICS")]
    for r in replicas:
        rows.append(
            (
                r.address or "-",
                r.node_id[:12],
                str(r.pid or "-"),
                r.health,
                "yes" if r.member else "no",
                str(r.restarts),
                r.metrics_address or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
