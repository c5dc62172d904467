"""ms-swift: remote verifiers as ORM plugins.

    VERIFIER_SERVER=127.0.0.1:50051 swift rlhf --rlhf_type grpo \\
        --external_plugins examples/swift_plugin.py \\
        --reward_funcs verified_math verified_format --reward_weights 1 0.2 ...

Dataset columns (``answer``/``solution``) reach the verifier as references. A sample the
verifier cannot score is ``None``: ms-swift turns it into NaN and leaves it out of the sum.
Both plugins are async, so ms-swift scores them concurrently; ``remote_orm(...,
asynchronous=False)`` gives the blocking form.
"""

from __future__ import annotations

import os
from typing import Any

from sdk.adapters.swift import remote_orm

try:
    from swift.rewards import orms
except ImportError:  # outside ms-swift (tests, dry runs): a plain registry with the same shape
    orms: dict[str, Any] = {}  # type: ignore[no-redef]

SERVER = os.environ.get("VERIFIER_SERVER", "127.0.0.1:50051")

orms["verified_math"] = remote_orm("math", target=SERVER)
orms["verified_format"] = remote_orm("think-answer-format", target=SERVER)
orms["verified_math_sync"] = remote_orm("math", target=SERVER, asynchronous=False)
