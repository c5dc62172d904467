"""`verifier serve` (the console entry point users run) serves sandboxed code reliably.

Regression: the CLI imports the SDK, and so gRPC, before the server could switch gRPC's
fork handling off; forked children then crashed (network namespace creation, sandbox
launches) and every code sample came back `error`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sdk import Outcome, VerifierClient
from verifier_server.testing import REPO_ROOT

C_PROGRAM = '```c\n#include <stdio.h>\nint main(){int a;scanf("%d",&a);printf("%d\\n",a*2);}\n```'
BASH_PROGRAM = "```bash\nread a\necho $((a * 2))\n```"


def test_verifier_serve_scores_sandboxed_code(tmp_path: Path):
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "sdk.cli.main", "serve", "--port", "0", "--data-dir", str(tmp_path),
               "--port-file", str(port_file)]  # fmt: skip
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    )
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text()) and time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.05)
        # The server process (exec'd by the CLI) starts with gRPC's fork support off.
        environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
        assert b"GRPC_ENABLE_FORK_SUPPORT=false" in environ
        with VerifierClient(f"127.0.0.1:{port_file.read_text()}", timeout_s=120) as client:
            programs = ["print(int(input()) * 2)", C_PROGRAM, BASH_PROGRAM] * 3
            results = client.score(
                "stdio-tests", programs, references=[{"tests": [{"input": "21", "output": "42"}]}] * len(programs)
            )
        assert [(r.outcome, r.score) for r in results] == [(Outcome.OK, 1.0)] * len(programs), [
            r.reason for r in results
        ]
    finally:
        server.terminate()
        assert server.wait(60) == 0
        log.close()
