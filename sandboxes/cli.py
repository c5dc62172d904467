"""`sandbox run`: run one file in a sandbox and print the Execution as JSON (wired into the `verifier` CLI)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from ._factory import BACKENDS, open_sandbox
from ._types import Job, Limits, SandboxError
from .languages import LANGUAGES

MiB = 1024 * 1024


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verifier sandbox", description="Run untrusted programs under kernel limits.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run one source file and print the result as JSON",
        description="Run one source file in the sandbox (no network, read-only system, kernel-enforced limits) "
        "and print its Execution as JSON; exit 0 when it ran OK.",
        epilog="example:\n  verifier sandbox run --language python main.py --stdin input.txt --time 2 --memory 128",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("file", type=Path, help="the program's source")
    run.add_argument("--language", required=True, choices=sorted(LANGUAGES))
    run.add_argument("--stdin", type=Path, default=None, help="file whose bytes are the program's stdin")
    run.add_argument(
        "--time", type=float, default=5.0, help="wall time limit in seconds (CPU limit likewise) (default: 5.0)"
    )
    run.add_argument("--memory", type=int, default=256, help="memory limit in MiB (default: 256)")
    run.add_argument("--backend", default="bwrap", choices=sorted(BACKENDS), help="(default: bwrap)")
    return parser


async def _run(args: argparse.Namespace) -> dict[str, object]:
    recipe = LANGUAGES[args.language]
    limits = Limits(wall_time_s=args.time, cpu_time_s=args.time, memory_bytes=args.memory * MiB)
    stdin = args.stdin.read_bytes() if args.stdin else b""
    job = Job(args.language, {recipe.default_entrypoint: args.file.read_bytes()}, stdin=stdin, limits=limits)
    sandbox = open_sandbox(args.backend)
    try:
        return (await sandbox.run(job)).to_dict()
    finally:
        await sandbox.aclose()


def main(argv: list[str]) -> int:
    """Exit status 0 when the program ran OK, 1 for any other status, 2 for usage or sandbox setup errors."""
    args = build_parser().parse_args(argv)
    try:
        result = asyncio.run(_run(args))
    except (SandboxError, OSError) as exc:
        print(json.dumps({"status": "sandbox_error", "reason": str(exc)}))
        return 2
    print(json.dumps(result, indent=2))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
