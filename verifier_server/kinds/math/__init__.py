"""The ``math`` verifier kind: final-answer extraction and symbolic equivalence in worker processes.

Modules, each owning one thing: ``extraction`` (finding the answer), with ``boxes``
(boxes and listed boxes), ``markers`` (answer words in many languages) and ``statement``
(the answer a sentence states); ``normalize`` (canonical text), ``numeric`` (plain
numbers and tolerance), ``bounds`` (how much work an answer may cause), ``fastpath``
(cases certain without sympy), ``lite`` and ``parsing`` (reading answers as sympy
objects), ``compare`` (our equivalence rules, math-verify for the rest; workers only),
``worker`` and ``pool`` (memory-capped processes with hard deadlines), ``cache``
(verdict LRU), ``config`` (the spec), ``settings`` (the server's ``[kinds.math]``), ``builtins``
(``math``, ``math-strict``) and ``kind`` (the batch flow).
"""

from __future__ import annotations

from verifier_server.kinds.math.builtins import builtin_specs
from verifier_server.kinds.math.config import MathConfig
from verifier_server.kinds.math.kind import MathKind, MathVerifier

__all__ = ["MathConfig", "MathKind", "MathVerifier", "builtin_specs"]
