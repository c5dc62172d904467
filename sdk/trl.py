"""``SandboxEnvironment``: sandboxed Python (and bash) tools for TRL's ``environment_factory``.

TRL 1.16's contract (``GRPOTrainer``, see its ``_tool_call_loop``): ``environment_factory()``
takes no arguments and returns an instance; instances are pooled and reused. Before each
rollout TRL calls ``reset(**row)`` with the dataset row (its return value, if not None, is
appended to the prompt); every public method other than ``reset`` and ``get_reward`` becomes a
tool the model may call, described to it by the method's signature and docstring; tool calls
run one rollout after another, with no timeout; an exception becomes ``{"error": ...}`` for
the model. If the class defines ``get_reward()``, TRL calls it once per finished rollout as an
extra reward (named after the class).

Here each rollout gets a session of its own on the verifier server. What the row's setup
builds is made once per prompt and *forked* for each rollout of the GRPO group (rows of one
prompt arrive one after another): that is the batching TRL's sequential loop allows. Each
tool call has its own deadline (TRL has none), and a lost sandbox is reported to the model
and replaced by a fresh one on the next call.

    from sdk.trl import SandboxEnvironment
    trainer = GRPOTrainer(..., environment_factory=SandboxEnvironment.factory(
        target="verifier:50051", bash=True, reward="python-tests"))
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sdk._base import DEFAULT_TARGET, VerifierTarget
from sdk._client import VerifierClient
from sdk._errors import SessionLostError, SessionSetupError, VerifierError
from sdk._session import Session
from sdk._types import CellResult, SessionLimits

log = logging.getLogger(__name__)

TRL_KEYWORDS = frozenset({"prompt", "environment"})
"""Row fields that are not the environment's (TRL's prompt, the multi-environment selector)."""


@dataclass
class EnvironmentOptions:
    """How the environments of one factory behave (shared by all its instances)."""

    target: str | Sequence[str] = DEFAULT_TARGET
    """The verifier server(s)."""
    setup_column: str = "setup"
    """Row field with Python code run once per prompt before the rollout (absent: no setup)."""
    files_column: str = "files"
    """Row field mapping relative paths to contents, written to /work before the setup."""
    reward: VerifierTarget | None = None
    """A code-kind verifier scoring the end state (``get_reward``); the row's other fields are its reference."""
    reference_columns: Sequence[str] | None = None
    """Row fields sent as the reward's reference; None sends every JSON-serializable field."""
    tool_timeout_s: float = 10.0
    """Wall time of one tool call; the session kills a runaway cell at this limit."""
    max_output_chars: int = 4000
    """What the model sees of one tool call's output, at most (the end is kept when cut)."""
    limits: SessionLimits | None = None
    fork_groups: bool = True
    """Build a prompt's setup once and fork it per rollout (False: a fresh session per rollout)."""
    group_size: int | None = None
    """Rollouts per prompt (``num_generations``): forked in one call when given, one at a time otherwise."""
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tool_timeout_s <= 0:
            raise ValueError("tool_timeout_s must be positive")


class _Shared:
    """What all environments of one factory share: the client and the prompts' prepared parent sessions."""

    MAX_PARENTS = 4

    def __init__(self, options: EnvironmentOptions) -> None:
        self.options = options
        self.client = VerifierClient(options.target, **dict(options.client_options))
        self.lock = threading.Lock()
        self.parents: OrderedDict[str, tuple[Session, list[Session]]] = OrderedDict()

    def session_for(self, setup: str, files: Mapping[str, str | bytes]) -> Session:
        """A session in the state `setup` leaves: a fork of the prompt's parent, or a new one."""
        options = self.options
        if not options.fork_groups:
            return self._open(setup, files)
        key = hashlib.sha256(json.dumps([setup, sorted((k, _text(v)) for k, v in files.items())]).encode()).hexdigest()
        with self.lock:
            try:
                return self._copy_of_parent(key, setup, files)
            except SessionLostError:  # the prepared parent expired between batches: prepare it again
                self.parents.pop(key, None)
                return self._copy_of_parent(key, setup, files)

    def _copy_of_parent(self, key: str, setup: str, files: Mapping[str, str | bytes]) -> Session:
        entry = self.parents.get(key)
        if entry is None:
            entry = (self._open(setup, files), [])
            self.parents[key] = entry
            while len(self.parents) > self.MAX_PARENTS:
                _, (old, spare) = self.parents.popitem(last=False)
                for session in (*spare, old):
                    _quietly_close(session)
        self.parents.move_to_end(key)
        parent, spare = entry
        if not spare:
            spare.extend(parent.fork(self.options.group_size or 1))
        return spare.pop(0)

    def _open(self, setup: str, files: Mapping[str, str | bytes]) -> Session:
        opts = self.options
        session = self.client.session("python", setup=setup, files=files, limits=_with_cell_time(opts.limits, opts))
        return session.open()

    def close(self) -> None:
        with self.lock:
            for parent, spare in self.parents.values():
                for session in (*spare, parent):
                    _quietly_close(session)
            self.parents.clear()
        self.client.close()


class SandboxEnvironment:
    """A Python sandbox per rollout, as TRL tools: ``python(code)`` (and ``bash(command)`` with ``bash=True``).

    Usable as ``environment_factory=SandboxEnvironment`` (server at the default address, no
    reward), or configured: ``environment_factory=SandboxEnvironment.factory(target=..., ...)``
    (see ``EnvironmentOptions`` for every option).
    """

    _default_shared: _Shared | None = None

    def __init__(self, shared: _Shared | None = None) -> None:
        if shared is None:  # TRL calls the class itself: one shared default setup per process
            if SandboxEnvironment._default_shared is None:
                SandboxEnvironment._default_shared = _Shared(EnvironmentOptions())
            shared = SandboxEnvironment._default_shared
        self._shared = shared
        self._session: Session | None = None
        self._row: dict[str, Any] = {}
        self._setup = ""
        self._files: dict[str, str | bytes] = {}

    @classmethod
    def factory(cls, *, bash: bool = False, **options: Any) -> Callable[[], SandboxEnvironment]:
        """A zero-argument factory for ``environment_factory``; ``options`` are ``EnvironmentOptions`` fields.

        ``bash=True`` adds the ``bash`` tool; a ``reward`` adds ``get_reward`` (TRL logs it under
        the class name, ``SandboxEnvironment``).
        """
        shared = _Shared(EnvironmentOptions(**options))
        mixins: list[type] = []
        if bash:
            mixins.append(_BashTool)
        if shared.options.reward is not None:
            mixins.append(_EndStateReward)
        environment_type = type(cls.__name__, tuple(mixins), {"__doc__": cls.__doc__}) if mixins else cls

        def make() -> SandboxEnvironment:
            return environment_type(shared)

        make.shared = shared  # type: ignore[attr-defined]  # for tests and for closing
        return make

    def reset(self, **row: Any) -> str | None:
        """Start a rollout: a session in the state the row's setup leaves (forked from the prompt's)."""
        self._close_session()
        options = self._shared.options
        self._row = {k: v for k, v in row.items() if k not in TRL_KEYWORDS}
        setup = self._row.get(options.setup_column) or ""
        files = self._row.get(options.files_column) or {}
        if not isinstance(setup, str) or not isinstance(files, Mapping):
            raise ValueError(f"row field {options.setup_column!r} must be code and {options.files_column!r} a mapping")
        self._setup, self._files = setup, dict(files)
        try:
            self._session = self._shared.session_for(setup, self._files)
        except SessionSetupError as exc:
            raise ValueError(f"the row's setup failed: {exc}") from None
        return None

    def python(self, code: str) -> str:
        """Run Python code in a persistent sandbox: variables, imports and files stay from one call to the next.

        Args:
            code: Python source to run. The value of its last expression is shown, as in a notebook.

        Returns:
            What the code printed, then the value of its last expression, or the error it raised.
        """
        return self._tool(code, None)

    # -- plumbing (names start with "_": TRL turns every public method into a tool) --------------

    def _tool(self, code: str, language: str | None) -> str:
        options = self._shared.options
        try:
            session = self._live_session()
            result = session.run(code, timeout_s=options.tool_timeout_s, language=language)
        except SessionLostError as exc:
            self._session = None
            return f"[the sandbox was lost and its state is gone; the next call starts afresh: {exc.message}]"
        except VerifierError as exc:
            return f"[the sandbox could not run this: {exc}]"
        if result.session_lost:
            self._session = None
        return _shown(result, options.max_output_chars)

    def _live_session(self) -> Session:
        if self._session is None:
            self._session = self._shared.session_for(self._setup, self._files)
        return self._session

    def _close_session(self) -> None:
        if self._session is not None:
            _quietly_close(self._session)
            self._session = None

    def __del__(self) -> None:
        try:
            self._close_session()
        except Exception:
            pass


class _BashTool(SandboxEnvironment):
    def bash(self, command: str) -> str:
        """Run a bash command in the same sandbox (same files); the shell keeps its directory and variables.

        Args:
            command: The shell command(s) to run.

        Returns:
            What the command printed, and its exit status when it failed.
        """
        return self._tool(command, "bash")


class _EndStateReward(SandboxEnvironment):
    def get_reward(self) -> float | None:
        """The end state scored by the factory's verifier (None when it could not be scored)."""
        options = self._shared.options
        session = self._session
        if session is None or options.reward is None:
            return None
        reference = _reference(self._row, options)
        try:
            result = session.score(options.reward, reference, timeout_s=max(60.0, options.tool_timeout_s * 4))
        except VerifierError as exc:
            log.warning("sandbox environment: end state not scored: %s", exc)
            return None
        return result.score


def _reference(row: Mapping[str, Any], options: EnvironmentOptions) -> dict[str, Any]:
    skip = {options.setup_column, options.files_column}
    names = options.reference_columns if options.reference_columns is not None else [k for k in row if k not in skip]
    reference = {}
    for name in names:
        if name in row:
            try:
                json.dumps(row[name])
            except (TypeError, ValueError):
                continue
            reference[name] = row[name]
    return reference


def _shown(result: CellResult, limit: int) -> str:
    text = result.output
    if result.session_lost:
        text += "[the sandbox was lost and its state is gone; the next call starts afresh]\n"
    if len(text) > limit:
        text = f"[... {len(text) - limit} characters cut]\n" + text[-limit:]
    return text or "[no output]"


def _with_cell_time(limits: SessionLimits | None, options: EnvironmentOptions) -> SessionLimits:
    from dataclasses import replace

    base = limits or SessionLimits()
    return replace(base, cell_wall_time_s=base.cell_wall_time_s or options.tool_timeout_s)


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.hex()


def _quietly_close(session: Session) -> None:
    try:
        session.close(timeout_s=5.0)
    except VerifierError as exc:
        log.debug("closing a sandbox session failed: %s", exc)
