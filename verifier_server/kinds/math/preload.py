"""Imported by the pool's forkserver: importing it warms the parser so forked workers start warm.

The only module here whose import does work; that is its whole purpose, and it is
never imported by the server process itself.
"""

from __future__ import annotations

from verifier_server.kinds.math.warmup import warm_up

warm_up()
