"""Language recipes: which file a job's entrypoint is, how to compile it and how to run it.

A recipe is data, not code: backends substitute `{entry}` (the entrypoint file name) and
`{stem}` (its name without extension) and run the argv inside the sandbox, with
PATH=/usr/local/bin:/usr/bin:/bin. Availability is checked on the host that runs the
sandbox (the docker backend asks its image instead).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Recipe:
    """How one language is compiled and run."""

    name: str
    extension: str
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    entry_name: str = "main"
    """Entrypoint stem; Java needs `Main` because the public class names the file."""
    tool: str = ""
    """Host executable whose presence makes the language available."""

    @property
    def default_entrypoint(self) -> str:
        return f"{self.entry_name}.{self.extension}"

    def argv(self, template: tuple[str, ...], entrypoint: str) -> list[str]:
        stem = entrypoint.rsplit(".", 1)[0]
        return [part.format(entry=entrypoint, stem=stem) for part in template]


LANGUAGES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe("python", "py", ("python3", "{entry}"), tool="python3"),
        Recipe(
            "c", "c", ("./{stem}",), ("gcc", "-O2", "-std=gnu17", "-pipe", "-o", "{stem}", "{entry}", "-lm"), tool="gcc"
        ),
        Recipe(
            "cpp", "cpp", ("./{stem}",), ("g++", "-O2", "-std=gnu++17", "-pipe", "-o", "{stem}", "{entry}"), tool="g++"
        ),
        Recipe("javascript", "js", ("node", "--max-old-space-size=192", "{entry}"), tool="node"),
        Recipe("bash", "sh", ("bash", "{entry}"), tool="bash"),
        Recipe(
            "java",
            "java",
            ("java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss8m", "-cp", ".", "{stem}"),
            ("javac", "-J-XX:+UseSerialGC", "-d", ".", "{entry}"),
            entry_name="Main",
            tool="javac",
        ),
        Recipe(
            "rust",
            "rs",
            ("./{stem}",),
            ("rustc", "-O", "-C", "codegen-units=1", "-o", "{stem}", "{entry}"),
            tool="rustc",
        ),
        Recipe("go", "go", ("./{stem}",), ("go", "build", "-o", "{stem}", "{entry}"), tool="go"),
    )
}


@cache
def rust_sysroot() -> Path | None:
    """The real rustc toolchain dir (rustup's proxy in ~/.cargo/bin cannot run in a sandbox)."""
    rustc = shutil.which("rustc")
    if rustc is None:
        return None
    try:
        out = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(out.stdout.strip())
    return path if (path / "bin" / "rustc").exists() else None


def host_languages() -> list[str]:
    """Languages whose toolchain is installed on this host (for host-side sandboxes)."""
    found = []
    for name, recipe in LANGUAGES.items():
        if name == "rust":
            if rust_sysroot() is not None:
                found.append(name)
        elif shutil.which(recipe.tool, path="/usr/local/bin:/usr/bin:/bin"):
            found.append(name)
    return found
