"""How the `verifier` commands present themselves: help layout (defaults shown, examples as written), version."""

from __future__ import annotations

import argparse
import platform
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "verifier-service"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and example epilogs as written; every option's default where it has a meaningful one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or default in (None, False, argparse.SUPPRESS)
            or "default" in text
            or isinstance(action, argparse._VersionAction | argparse._HelpAction)
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def with_default(help_text: str, default: object) -> str:
    """``help_text`` plus its default, for parsers whose defaults live elsewhere (suppressed, from a config)."""
    if default is None or default is False or default == "" or default == ():
        return help_text
    shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
    return f"{help_text} (default: {shown})" if help_text else f"(default: {shown})"


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"


def version_text() -> str:
    return f"verifier {package_version()} (Python {platform.python_version()})"
