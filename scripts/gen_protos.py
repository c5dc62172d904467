"""Regenerate the checked-in protobuf modules from protos/verifier/v1/verifier.proto.

One pinned command (grpcio-tools' bundled protoc), run from the repository root:
``python scripts/gen_protos.py [--check]``. ``--check`` regenerates into a temporary
directory and exits non-zero when the checked-in files differ (the staleness test).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = Path("protos/verifier/v1/verifier.proto")
OUTPUTS = ("verifier_pb2.py", "verifier_pb2.pyi", "verifier_pb2_grpc.py")


def generate(out_root: Path) -> None:
    from grpc_tools import protoc

    args = [
        "protoc",
        f"-I{ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        str(ROOT / PROTO),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def stale_files() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        generated = Path(tmp) / PROTO.parent
        return [
            name
            for name in OUTPUTS
            if not (ROOT / PROTO.parent / name).exists()
            or not filecmp.cmp(generated / name, ROOT / PROTO.parent / name, shallow=False)
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the checked-in modules are stale")
    if parser.parse_args().check:
        stale = stale_files()
        if stale:
            print(f"stale generated protobuf modules: {', '.join(stale)}; run `make protos`", file=sys.stderr)
            return 1
        print("generated protobuf modules are up to date")
        return 0
    generate(ROOT)
    print(f"regenerated {', '.join(OUTPUTS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
