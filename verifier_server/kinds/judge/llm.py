"""The ``llm`` judge: a prompt template, a judge model, and a rule reading its verdict.

The verdict is either parsed from generated text (a number or a label; retried
with sampling when unreadable) or read from label log-probabilities. With
``reasoning`` the judge first writes a rationale; for log-probability scoring it
is then asked for the bare verdict in a follow-up turn. Pairwise judges compare
the completion with a reference response, optionally in both orders to cancel the
judge's position bias.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from verifier_server.domain import Message, Sample, ScoreResult
from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.caps import capped_int
from verifier_server.kinds.judge.backends import GenerationParams, Prompt
from verifier_server.kinds.judge.config import BackendConfig
from verifier_server.kinds.judge.failures import JudgeFailure
from verifier_server.kinds.judge.inputs import reference_text, template_variables
from verifier_server.kinds.judge.per_sample import PerSampleJudge
from verifier_server.kinds.judge.scoring import ScoringRule, read_scoring
from verifier_server.kinds.judge.settings import JudgeSettings
from verifier_server.kinds.judge.templates import BUILTIN_TEMPLATES, MissingVariable, Template, render
from verifier_server.kinds.judge.templates import template_variables as placeholders

_PAIR_VARIABLES = ("response_a", "response_b")


@dataclass(frozen=True, slots=True)
class LLMJudgeConfig:
    template: Template
    rule: ScoringRule
    chat: bool
    reasoning: bool
    max_new_tokens: int
    temperature: float
    parse_retries: int
    retry_temperature: float
    verdict_prompt: str
    pairwise_field: str | None
    both_orders: bool


@dataclass(frozen=True, slots=True)
class _Verdict:
    value: float
    details: dict[str, Any]


def read_llm_config(reader: ConfigReader, backend: BackendConfig, settings: JudgeSettings) -> LLMJudgeConfig:
    template = _read_template(reader)
    rule = read_scoring(reader, template.scoring)
    chat = reader.bool("chat", True)
    reasoning = reader.bool("reasoning", False)
    pairwise = reader.sub("pairwise") if reader.has("pairwise") else None
    pairwise_field = pairwise.str("field") if pairwise else None
    both_orders = pairwise.bool("both_orders", True) if pairwise else False
    if pairwise:
        pairwise.finish()
    _check_pair_variables(reader, template, pairwise_field is not None)
    if backend.openai is not None and backend.openai.endpoint == "completions" and chat:
        raise reader.error("chat", "endpoint 'completions' takes raw text: set chat: false (or use endpoint 'chat')")
    return LLMJudgeConfig(
        template=template,
        rule=rule,
        chat=chat,
        reasoning=reasoning,
        max_new_tokens=capped_int(
            reader, "max_new_tokens", 512 if reasoning else 32, settings.cap("max_new_tokens"), minimum=1
        ),
        temperature=reader.float("temperature", 0.0, minimum=0.0, maximum=5.0),
        parse_retries=reader.int("parse_retries", 2, minimum=0, maximum=10),
        retry_temperature=reader.float("retry_temperature", 0.7, minimum=0.0, maximum=5.0),
        verdict_prompt=reader.str("verdict_prompt", _default_verdict_prompt(rule)),
        pairwise_field=pairwise_field,
        both_orders=both_orders,
    )


def _read_template(reader: ConfigReader) -> Template:
    name_or_text = reader.str("template")
    template = BUILTIN_TEMPLATES.get(name_or_text)
    if template is None:
        if "{" not in name_or_text:
            known = ", ".join(sorted(BUILTIN_TEMPLATES))
            raise reader.error(
                "template",
                f"unknown built-in template {name_or_text!r} (known: {known}); "
                "an inline template must use {placeholders}",
            )
        template = Template(text=name_or_text)
    system = reader.optional_str("system")
    if system is not None:
        template = Template(text=template.text, system=system or None, scoring=template.scoring)
    for key, text in (("template", template.text), ("system", template.system)):
        try:
            placeholders(text or "")
        except ValueError as exc:
            raise reader.error(key, str(exc)) from None
    return template


def _check_pair_variables(reader: ConfigReader, template: Template, pairwise: bool) -> None:
    used = set(template.variables)
    if pairwise and not set(_PAIR_VARIABLES) <= used:
        raise reader.error("template", "a pairwise judge's template must use {response_a} and {response_b}")
    if not pairwise and used & set(_PAIR_VARIABLES):
        raise reader.error("pairwise", "the template uses {response_a}/{response_b}: set pairwise.field")


def _default_verdict_prompt(rule: ScoringRule) -> str:
    if rule.method == "number":
        return f"Give only your final score, a number from {rule.minimum:g} to {rule.maximum:g}."
    return "Give only your final answer: " + " or ".join(rule.label_names) + "."


class LLMJudge(PerSampleJudge[LLMJudgeConfig]):
    async def _score_one(self, sample: Sample) -> ScoreResult:
        if sample.completion is None:
            return ScoreResult.invalid("sample has no completion")
        variables = template_variables(sample)
        try:
            if self.config.pairwise_field is None:
                verdict = await self._judge(self._prompt(variables))
            else:
                verdict = await self._judge_pair(sample, variables)
        except MissingVariable as exc:
            return ScoreResult.invalid(f"judge template needs {exc.name!r}, which this sample does not provide")
        except JudgeFailure as exc:
            return ScoreResult.failed(exc.outcome, exc.reason)
        return ScoreResult.ok(verdict.value, **verdict.details)

    async def _judge_pair(self, sample: Sample, variables: dict[str, Any]) -> _Verdict:
        field = self.config.pairwise_field
        assert field is not None  # only called for pairwise judges
        other = sample.reference.get(field)
        if other is None:
            raise MissingVariable(field)
        mine, theirs = variables["completion"], reference_text(other)
        orders = [(mine, theirs)] + ([(theirs, mine)] if self.config.both_orders else [])
        prompts = [self._prompt({**variables, "response_a": a, "response_b": b}) for a, b in orders]
        verdicts = await asyncio.gather(*(self._judge(p) for p in prompts))
        # order 1 asks "is A (the completion) better", order 2 "is A (the reference) better"
        preferences = [verdicts[0].value] + [1.0 - v.value for v in verdicts[1:]]
        details = {"pairwise_orders": [v.details for v in verdicts], "pairwise_preferences": preferences}
        return _Verdict(sum(preferences) / len(preferences), details)

    def _prompt(self, variables: dict[str, Any]) -> Prompt:
        template = self.config.template
        text = render(template.text, variables)
        system = render(template.system, variables) if template.system else None
        if not self.config.chat:
            return f"{system}\n\n{text}" if system else text
        messages = ((Message("system", system),) if system else ()) + (Message("user", text),)
        return messages

    async def _judge(self, prompt: Prompt) -> _Verdict:
        if self.config.rule.method == "logprobs":
            return await self._judge_by_logprobs(prompt)
        return await self._judge_by_parsing(prompt)

    async def _judge_by_parsing(self, prompt: Prompt) -> _Verdict:
        config = self.config
        output = ""
        for attempt in range(config.parse_retries + 1):
            temperature = config.temperature if attempt == 0 else max(config.temperature, config.retry_temperature)
            params = GenerationParams(config.max_new_tokens, temperature, attempt)
            output = await self.runner.generate(prompt, params)
            parsed = config.rule.parse(output, reasoning=config.reasoning)
            if parsed is not None:
                key = "judge_rationale" if config.reasoning else "judge_output"
                details = {key: output, "judge_verdict": parsed.matched, "judge_attempts": attempt + 1}
                return _Verdict(parsed.value, details)
        expected = (
            f"a number in [{config.rule.minimum:g}, {config.rule.maximum:g}]"
            if config.rule.method == "number"
            else "one of " + ", ".join(config.rule.label_names)
        )
        raise JudgeFailure(
            f"could not read {expected} from the judge's output after {config.parse_retries + 1} attempts; "
            f"last output: {output[:200]!r}"
        )

    async def _judge_by_logprobs(self, prompt: Prompt) -> _Verdict:
        config = self.config
        details: dict[str, Any] = {}
        if config.reasoning:
            rationale = await self.runner.generate(prompt, GenerationParams(config.max_new_tokens, config.temperature))
            details["judge_rationale"] = rationale
            prompt = _follow_up(prompt, rationale, config.verdict_prompt)
        logprobs = await self.runner.label_logprobs(prompt, config.rule.label_names)
        weighted = config.rule.from_logprobs(logprobs)
        if weighted is None:
            raise JudgeFailure(
                "the judge gave none of the labels " + ", ".join(config.rule.label_names) + " any probability"
            )
        value, probs = weighted
        details["label_probs"] = probs
        return _Verdict(value, details)


def _follow_up(prompt: Prompt, rationale: str, verdict_prompt: str) -> Prompt:
    """Ask for the bare verdict after the rationale, as a new turn every chat API accepts."""
    if isinstance(prompt, str):
        return f"{prompt}{rationale}\n\n{verdict_prompt}\n"
    return (*prompt, Message("assistant", rationale), Message("user", verdict_prompt))
