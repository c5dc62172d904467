"""The ``ifeval`` verifier kind: verifiable instruction following (Google's IFEval, AllenAI's RLVR data).

A kind rather than a ``format`` check: the instructions differ per sample (they come
from the dataset row), there are strict and loose modes and two scorings, and it
needs language detection and sentence splitting. Modules: ``text`` (words, sentences,
language, linear scans), ``params`` (binding arguments), ``google`` (IFEval's 25
instruction types), ``open_instruct`` (the RLVR ``func_name`` functions),
``constraints`` (reading a reference) and ``kind`` (scoring).
"""

from __future__ import annotations

from verifier_server.kinds.ifeval.kind import IFEvalConfig, IFEvalKind, IFEvalVerifier

__all__ = ["IFEvalConfig", "IFEvalKind", "IFEvalVerifier"]
