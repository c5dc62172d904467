"""A compiled ``code`` spec (`CodeConfig`) and how a spec's config becomes one, capped by the server's settings."""

from __future__ import annotations

from dataclasses import dataclass

from sandboxes import LANGUAGES
from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.caps import capped_float, capped_int
from verifier_server.kinds.code import scoring
from verifier_server.kinds.code.checkers import CHECKERS, Checker, CheckOptions
from verifier_server.kinds.code.settings import CodeSettings
from verifier_server.kinds.code.tests_model import STYLES
from verifier_server.kinds.code.verdict import Snippets
from verifier_server.kinds.sandboxed.user_function import defines_function

MiB = 1024 * 1024
ISOLATIONS = ("shared", "per_test")


@dataclass(frozen=True, slots=True)
class CodeConfig:
    """A compiled ``code`` spec; docs/kinds.md says what each field means."""

    language: str | None
    block: str
    require_fence: bool
    no_code_score: float
    style: str
    tests_field: str | None
    fn_name: str | None
    checker: str
    checker_source: str | None
    float_rel_tol: float
    float_abs_tol: float
    unwrap_singleton: bool
    isolation: str
    scoring: str
    stop_on_failure: bool
    time_limit_s: float
    memory_bytes: int
    output_limit_bytes: int
    compile_time_limit_s: float
    max_tests: int | None
    prepend_prompt: str
    snippet_chars: int
    settings: CodeSettings

    @property
    def judge(self) -> Checker:
        return CHECKERS[self.checker]

    @property
    def check_options(self) -> CheckOptions:
        return CheckOptions(self.float_rel_tol, self.float_abs_tol, self.unwrap_singleton)

    @property
    def snippets(self) -> Snippets:
        return Snippets(self.snippet_chars)


def read_config(reader: ConfigReader, settings: CodeSettings) -> CodeConfig:
    """The spec's fields, validated and capped; raises the reader's error naming the field."""
    language = reader.optional_str("language")
    if language is not None and language not in LANGUAGES:
        raise reader.error("language", f"unknown language {language!r} (known: {', '.join(sorted(LANGUAGES))})")
    checker = reader.str("checker", "whitespace", choices=tuple(CHECKERS))
    checker_source = reader.optional_str("checker_source")
    if CHECKERS[checker].in_sandbox:
        _require_function(reader, "checker_source", checker_source, "check")
    elif checker_source is not None:
        raise reader.error("checker_source", 'only used with checker: "program"')
    return CodeConfig(
        language=language,
        block=reader.str("block", "last", choices=("last", "first", "longest")),
        require_fence=reader.bool("require_fence", False),
        no_code_score=reader.float("no_code_score", 0.0),
        style=reader.str("tests", "auto", choices=STYLES),
        tests_field=reader.optional_str("tests_field"),
        fn_name=reader.optional_str("fn_name"),
        checker=checker,
        checker_source=checker_source,
        float_rel_tol=reader.float("float_rel_tol", 1e-6, minimum=0.0),
        float_abs_tol=reader.float("float_abs_tol", 1e-6, minimum=0.0),
        unwrap_singleton=reader.bool("unwrap_singleton", False),
        isolation=reader.str("isolation", "shared", choices=ISOLATIONS),
        scoring=reader.str("scoring", "fraction", choices=scoring.SCORINGS),
        stop_on_failure=reader.bool("stop_on_failure", False),
        time_limit_s=capped_float(
            reader, "time_limit_s", settings.time_limit_s, settings.cap("time_limit_s"), minimum=0.01
        ),
        memory_bytes=capped_int(reader, "memory_mb", settings.memory_mb, settings.cap("memory_mb"), minimum=16) * MiB,
        output_limit_bytes=capped_int(
            reader, "output_limit_bytes", MiB, settings.cap("output_limit_bytes"), minimum=1024
        ),
        compile_time_limit_s=capped_float(
            reader, "compile_time_limit_s", 30.0, settings.cap("compile_time_limit_s"), minimum=1.0
        ),
        max_tests=_max_tests(reader, settings),
        prepend_prompt=reader.str("prepend_prompt", "auto", choices=("auto", "always", "never")),
        snippet_chars=reader.int("snippet_chars", 200, minimum=0, maximum=100_000),
        settings=settings,
    )


def _max_tests(reader: ConfigReader, settings: CodeSettings) -> int | None:
    if reader.raw("max_tests") is None:
        return None
    return capped_int(reader, "max_tests", settings.cap_max_tests, settings.cap("max_tests"), minimum=1)


def _require_function(reader: ConfigReader, key: str, source: str | None, name: str) -> None:
    """ast-parse (never exec) user source at registration: syntax errors name the field."""
    if source is None:
        raise reader.error(key, f"required: Python source defining {name}(...)")
    problem = defines_function(source, name)
    if problem:
        raise reader.error(key, problem)
