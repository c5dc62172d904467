"""The ``verifier`` command: serve, registry commands, file scoring, preference pairs, sandbox runs."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdk._client import VerifierClient
from sdk._errors import VerifierError
from sdk._types import VerifierInfo, VerifierSpec
from sdk.cli import pairs as pairs_cmd
from sdk.cli import score_file

DEFAULT_SERVER = "127.0.0.1:50051"

# Commands that belong to other packages, loaded only when used so the client CLI
# never imports the server (or the sandbox) otherwise.
_DELEGATED = {
    "fleet": "verifier_server.fleet.cli",
    "sandbox": "sandboxes.cli",
    "train": "trainers.cli",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        # A fresh interpreter: this one has already loaded gRPC (the SDK), and the server
        # must configure gRPC's fork handling before gRPC loads (see verifier_server.main).
        environment = {**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "false"}
        os.execve(sys.executable, [sys.executable, "-m", "verifier_server", *argv], environment)
    if argv and argv[0] in _DELEGATED:
        module = importlib.import_module(_DELEGATED[argv[0]])
        return int(module.main(argv[1:]) or 0)
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except VerifierError as error:
        print(f"verifier: {error}", file=sys.stderr)
        return 1
    except score_file.InputFileError as error:
        print(f"verifier: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verifier", description="Reward and verifier service for RL post-training.")
    parser.add_argument(
        "--server",
        default=os.environ.get("VERIFIER_SERVER", DEFAULT_SERVER),
        help="server address(es), comma-separated (env VERIFIER_SERVER)",
    )
    parser.add_argument("--token", default=os.environ.get("VERIFIER_TOKEN"), help="bearer token (env VERIFIER_TOKEN)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per-call deadline in seconds")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    commands.add_parser("serve", help="run the server (see `verifier serve --help`)")
    commands.add_parser("sandbox", help="run a program in the sandbox (`verifier sandbox run --help`)")
    commands.add_parser("train", help="GRPO training with remote rewards (`verifier train grpo --help`)")
    commands.add_parser("fleet", help="a verifier fleet on a Ray cluster (`verifier fleet --help`)")

    register = commands.add_parser("register", help="register verifier spec(s) from a YAML or JSON file")
    register.add_argument("spec_file", type=Path)
    register.set_defaults(handler=_register)

    listing = commands.add_parser("list", help="list registered and built-in verifiers")
    listing.add_argument("--all-versions", action="store_true")
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="print a verifier's spec (NAME or NAME@VERSION)")
    show.add_argument("name")
    show.set_defaults(handler=_show)

    delete = commands.add_parser("delete", help="delete a verifier (all versions, or NAME@VERSION)")
    delete.add_argument("name")
    delete.set_defaults(handler=_delete)

    caps = commands.add_parser("capabilities", help="what the server supports")
    caps.set_defaults(handler=_capabilities)

    score = commands.add_parser("score", help="score a JSONL file of completions")
    score.add_argument("input", type=Path, help="JSONL rows with 'completion', optional 'prompt', reference fields")
    score.add_argument("--verifier", required=True, help="verifier name (NAME or NAME@VERSION)")
    score.add_argument("-o", "--output", type=Path, required=True, help="scored JSONL output")
    score.add_argument("--batch-size", type=int, default=256)
    score.add_argument("--skip-invalid", action="store_true", help="skip (and count) malformed lines")
    score.add_argument("--no-progress", action="store_true")
    score.set_defaults(handler=_score)

    pairs = commands.add_parser("pairs", help="preference pairs (chosen/rejected) from a scored JSONL file")
    pairs.add_argument("input", type=Path)
    pairs.add_argument("-o", "--output", type=Path, required=True)
    pairs.add_argument("--min-margin", type=float, default=0.0, help="keep pairs whose scores differ by more")
    pairs.add_argument(
        "--strategy",
        choices=("best-worst", "all"),
        default="best-worst",
        help="best-worst: one pair per prompt; all: every pair above the margin",
    )
    pairs.set_defaults(handler=_pairs)
    return parser


def _client(args: argparse.Namespace) -> VerifierClient:
    return VerifierClient(args.server, token=args.token, timeout_s=args.timeout)


def _register(args: argparse.Namespace) -> int:
    specs = _load_specs(args.spec_file)
    with _client(args) as client:
        for spec in specs:
            info = client.register(spec)
            print(f"registered {info.ref} ({info.spec.kind})")
    return 0


def _load_specs(path: Path) -> list[VerifierSpec]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise score_file.InputFileError(f"cannot read {path}: {exc}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data: Any = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml and json raise different types; both are "unparseable"
        raise score_file.InputFileError(f"{path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        raise score_file.InputFileError(f"{path} must hold a spec object or a list of them")
    return [VerifierSpec.from_dict(item) for item in items]


def _list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        infos = client.list(all_versions=args.all_versions)
    width = max((len(info.ref) for info in infos), default=10)
    for info in infos:
        marker = " (built-in)" if info.builtin else ""
        print(f"{info.ref:<{width}}  {info.spec.kind:<10} {info.spec.description[:70]}{marker}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        info = client.get(args.name)
    print(json.dumps(_info_dict(info), indent=2))
    return 0


def _info_dict(info: VerifierInfo) -> dict[str, Any]:
    return {
        "version": info.version,
        "builtin": info.builtin,
        "created_at_unix_s": info.created_at_unix_s,
        **info.spec.to_dict(),
    }


def _delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        deleted = client.delete(args.name)
    print(f"deleted {deleted} version(s) of {args.name}")
    return 0


def _capabilities(args: argparse.Namespace) -> int:
    with _client(args) as client:
        caps = client.capabilities()
    print(json.dumps(dataclasses.asdict(caps), indent=2))
    return 0


def _score(args: argparse.Namespace) -> int:
    with _client(args) as client:
        summary = score_file.score_jsonl(
            client,
            args.verifier,
            args.input,
            args.output,
            batch_size=args.batch_size,
            skip_invalid=args.skip_invalid,
            progress=not args.no_progress,
        )
    print(summary.render())
    return 0


def _pairs(args: argparse.Namespace) -> int:
    result = pairs_cmd.write_pairs(args.input, args.output, min_margin=args.min_margin, strategy=args.strategy)
    print(result.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
