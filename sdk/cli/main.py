"""The ``verifier`` command: serve, registry commands, file scoring, reports, preference pairs, sandbox runs.

The connection flags (``--server``, ``--token``, ``--timeout``) are accepted before or
after the subcommand. Commands that belong to other packages (``serve``, ``sandbox``,
``train``, and any listed in ``_DELEGATED``) are handed their own arguments unparsed,
so the client CLI never imports the server or the sandbox otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sdk._client import VerifierClient
from sdk._columns import RowColumns
from sdk._errors import VerifierError
from sdk._types import VerifierInfo, VerifierSpec
from sdk.cli import pairs as pairs_cmd
from sdk.cli import score_file
from sdk.cli._files import InputFileError
from sdk.cli._help import HelpFormatter, version_text

DEFAULT_SERVER = "127.0.0.1:50051"

# Commands that belong to other packages: the module's ``main(argv)`` gets everything after
# the command's name. ``passes`` are the connection flags it accepts itself.
_DELEGATED: dict[str, tuple[str, tuple[str, ...]]] = {
    "fleet": ("verifier_server.fleet.cli", ()),
    "sandbox": ("sandboxes.cli", ()),
    "train": ("trainers.cli", ("--server", "--token")),
}
_CONNECTION_FLAGS = ("--server", "--token", "--timeout")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit status 0 on success, 1 when the server or a verifier failed, 2 for usage errors."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # `verifier show x | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not raise again, and exit like a piped Unix tool.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


def _main(argv: list[str]) -> int:
    leading, command, rest = _split_command(argv)
    if command == "serve":
        if leading:
            print(f"verifier serve: {leading[0]} is a client flag; the server takes --host/--port", file=sys.stderr)
            return EXIT_USAGE
        # A fresh interpreter: this one has already loaded gRPC (the SDK), and the server
        # must configure gRPC's fork handling before gRPC loads (see verifier_server.main).
        environment = {**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "false"}
        os.execve(sys.executable, [sys.executable, "-m", "verifier_server", "serve", *rest], environment)
    if command in _DELEGATED:
        module_name, passes = _DELEGATED[command]
        forwarded = _forward(leading, passes, command)
        if forwarded is None:
            return EXIT_USAGE
        module = importlib.import_module(module_name)
        return int(module.main([*rest, *forwarded]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args) or 0)
    except VerifierError as error:
        print(f"verifier: {error}", file=sys.stderr)
        return EXIT_FAILED
    except InputFileError as error:
        print(f"verifier: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("verifier: interrupted (score, report and pairs leave no partial output)", file=sys.stderr)
        return 130


def _split_command(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(connection flags before the command, the command, everything after it)."""
    index = 0
    while index < len(argv):
        token = argv[index]
        name = token.split("=", 1)[0]
        if name in _CONNECTION_FLAGS:
            index += 1 if "=" in token else 2
            continue
        if token.startswith("-"):
            return argv, None, []
        return argv[:index], token, argv[index + 1 :]
    return argv, None, []


def _forward(leading: list[str], passes: tuple[str, ...], command: str) -> list[str] | None:
    """The leading connection flags a delegated command accepts; None (after saying why) for one it does not."""
    for token in leading:
        name = token.split("=", 1)[0]
        if name.startswith("--") and name not in passes:
            print(f"verifier {command}: {name} does not apply to this command", file=sys.stderr)
            return None
    return leading


def _connection_flags(*, suppress: bool) -> argparse.ArgumentParser:
    """The connection flags; on subcommands their defaults are suppressed so a value given earlier survives."""
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_argument_group("connection (before or after the command)")

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group.add_argument(
        "--server",
        default=default(os.environ.get("VERIFIER_SERVER", DEFAULT_SERVER)),
        help="server address(es), comma-separated (env VERIFIER_SERVER; default: 127.0.0.1:50051)",
    )
    group.add_argument(
        "--token", default=default(os.environ.get("VERIFIER_TOKEN")), help="bearer token (env VERIFIER_TOKEN)"
    )
    group.add_argument(
        "--timeout", type=float, default=default(600.0), help="per-call deadline in seconds (default: 600)"
    )
    return flags


def _command(
    commands: Any, name: str, summary: str, example: str, handler: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog="example:\n  " + example.replace("\n", "\n  "),
        formatter_class=HelpFormatter,
        parents=[_connection_flags(suppress=True)],
    )
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verifier",
        description="Reward and verifier service for RL post-training.",
        epilog="Run `verifier COMMAND --help` for a command's options and an example.",
        formatter_class=HelpFormatter,
        parents=[_connection_flags(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    commands.add_parser("serve", help="run the server (`verifier serve --help`)")
    commands.add_parser("sandbox", help="run a program in the sandbox (`verifier sandbox run --help`)")
    commands.add_parser("train", help="GRPO training with remote rewards (`verifier train grpo --help`)")
    commands.add_parser("fleet", help="a verifier fleet on a Ray cluster (`verifier fleet --help`)")
    _registry_commands(commands)
    _file_commands(commands)
    return parser


def _registry_commands(commands: Any) -> None:
    register = _command(
        commands,
        "register",
        "register verifier spec(s) from a YAML or JSON file (a spec or a list of specs)",
        "verifier register examples/specs/format-regex.yaml\n"
        "verifier register --dry-run my-spec.yaml    # check it, register nothing",
        _register,
    )
    register.add_argument("spec_file", type=Path, metavar="SPEC_FILE", help="YAML (.yaml/.yml) or JSON file")
    register.add_argument(
        "--dry-run", action="store_true", help="have the server check the spec(s) and register nothing"
    )

    listing = _command(
        commands, "list", "list registered and built-in verifiers", "verifier list --all-versions", _list
    )
    listing.add_argument("--all-versions", action="store_true", help="every version, not only the latest")

    show = _command(commands, "show", "print a verifier's spec as JSON", "verifier show think-answer-format", _show)
    show.add_argument("name", metavar="NAME[@VERSION]", help="the latest version, or the one @VERSION pins")

    delete = _command(
        commands, "delete", "delete a verifier (every version, or NAME@VERSION)", "verifier delete my-check@2", _delete
    )
    delete.add_argument("name", metavar="NAME[@VERSION]")

    _command(
        commands,
        "capabilities",
        "what the server can run: kinds, languages, sandbox and judge backends, limits",
        "verifier capabilities --server host:50051",
        _capabilities,
    )


def _file_commands(commands: Any) -> None:
    score = _command(
        commands,
        "score",
        "score a JSONL, JSON or Parquet file of completions into a scored JSONL file",
        "verifier score --verifier math rollouts.jsonl -o scored.jsonl\n"
        "verifier score --verifier think-answer-format data.parquet --completion-field response -o scored.jsonl",
        _score,
    )
    score.add_argument(
        "input", type=Path, metavar="INPUT", help="rows with a completion, an optional prompt, and reference fields"
    )
    score.add_argument("--verifier", required=True, help="verifier name (NAME or NAME@VERSION)")
    score.add_argument("-o", "--output", type=Path, required=True, help="scored JSONL (written only on success)")
    _column_flags(score)
    score.add_argument("--batch-size", type=int, default=256, help="rows per request")
    score.add_argument("--skip-invalid", action="store_true", help="skip (and count) malformed rows")
    score.add_argument(
        "--fail-on-error",
        action="store_true",
        help="exit 1 when any row's scoring failed (outcome error or timeout); the output is still written",
    )
    score.add_argument("--no-progress", action="store_true", help="no progress bar")

    report = _command(
        commands,
        "report",
        "an HTML page (self-contained, charts included) about a scored file",
        "verifier report scored.jsonl -o report.html",
        _report,
    )
    _scored_file_flags(report, output_help="the HTML page")
    report.add_argument("--title", help="page title (default: the input's file name)")

    pairs = _command(
        commands,
        "pairs",
        "preference pairs (chosen/rejected per prompt) from a scored file, for DPO",
        "verifier pairs scored.jsonl --min-margin 0.2 -o pairs.jsonl",
        _pairs,
    )
    _scored_file_flags(pairs, output_help="pairs JSONL (prompt, chosen, rejected)")
    pairs.add_argument("--min-margin", type=float, default=0.0, help="keep pairs whose scores differ by more")
    pairs.add_argument(
        "--strategy",
        choices=("best-worst", "all"),
        default="best-worst",
        help="best-worst: one pair per prompt; all: every pair above the margin",
    )


def _scored_file_flags(parser: argparse.ArgumentParser, *, output_help: str) -> None:
    """The input and output of a command that reads what `verifier score` wrote (report, pairs)."""
    parser.add_argument("input", type=Path, metavar="SCORED", help="output of `verifier score`")
    parser.add_argument("-o", "--output", type=Path, required=True, help=output_help)
    _column_flags(parser)


def _column_flags(parser: argparse.ArgumentParser) -> None:
    """The flags ``_columns`` reads."""
    parser.add_argument("--completion-field", default="completion", help="the field holding the completion")
    parser.add_argument("--prompt-field", default="prompt", help="the field holding the prompt")


def _columns(args: argparse.Namespace) -> RowColumns:
    return RowColumns(completion=args.completion_field, prompt=args.prompt_field)


def _client(args: argparse.Namespace) -> VerifierClient:
    return VerifierClient(args.server, token=args.token, timeout_s=args.timeout)


def _register(args: argparse.Namespace) -> int:
    specs = _load_specs(args.spec_file)
    with _client(args) as client:
        for spec in specs:
            info = client.register(spec, dry_run=args.dry_run)
            if args.dry_run:
                print(f"ok: {spec.name} ({spec.kind}) is a valid spec; nothing was registered (--dry-run)")
            else:
                print(f"registered {info.ref} ({info.spec.kind})")
    return EXIT_OK


def _load_specs(path: Path) -> list[VerifierSpec]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data: Any = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml and json raise different types; both are "unparseable"
        raise InputFileError(f"{path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        raise InputFileError(f"{path} must hold a spec object or a list of them")
    specs = []
    for index, item in enumerate(items):
        try:
            specs.append(VerifierSpec.from_dict(item))
        except VerifierError as error:
            where = f"{path}" if len(items) == 1 else f"{path}, spec {index + 1}"
            raise InputFileError(f"{where}: {error}") from None
    return specs


def _list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        infos = client.list(all_versions=args.all_versions)
    width = max((len(info.ref) for info in infos), default=10)
    for info in infos:
        marker = " (built-in)" if info.builtin else ""
        print(f"{info.ref:<{width}}  {info.spec.kind:<10} {info.spec.description[:70]}{marker}")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        info = client.get(args.name)
    print(json.dumps(_info_dict(info), indent=2))
    return EXIT_OK


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
    return EXIT_OK


def _capabilities(args: argparse.Namespace) -> int:
    with _client(args) as client:
        caps = client.capabilities()
    print(json.dumps(dataclasses.asdict(caps), indent=2))
    return EXIT_OK


def _score(args: argparse.Namespace) -> int:
    with _client(args) as client:
        summary = score_file.score_file(
            client,
            args.verifier,
            args.input,
            args.output,
            batch_size=args.batch_size,
            skip_invalid=args.skip_invalid,
            progress=not args.no_progress,
            columns=_columns(args),
        )
    print(summary.render())
    print(f"wrote {args.output}")
    if summary.rows and summary.failed == summary.rows:
        print(f"verifier: every row failed to score ({summary.failed} error/timeout); see the reasons above",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    if args.fail_on_error and summary.failed:
        print(f"verifier: {summary.failed} of {summary.rows} rows failed to score (--fail-on-error)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from sdk.cli import report

    page = report.write_report(args.input, args.output, columns=_columns(args), title=args.title)
    print(page.render())
    return EXIT_OK


def _pairs(args: argparse.Namespace) -> int:
    result = pairs_cmd.write_pairs(
        args.input,
        args.output,
        min_margin=args.min_margin,
        strategy=args.strategy,
        columns=_columns(args),
    )
    print(result.render())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
