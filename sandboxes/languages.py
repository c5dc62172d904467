"""Language recipes: every fact about one language, in one `Recipe` entry of `LANGUAGES`.

A recipe says which file a job's entrypoint is and how to compile and run it (backends
substitute `{entry}`, the entrypoint file name, and `{stem}`, its name without extension,
and run the argv inside the sandbox with PATH=/usr/local/bin:/usr/bin:/bin plus the
toolchain's own directories), and also: the fence tags models write for it (the code
kind's extraction), whether its runtime reserves far more address space than it uses (no
RLIMIT_AS then, see _rlimits.py), how much memory its compiler gets, how to find its
toolchain on this host (and what of the host the sandbox must then see), its default
Docker image, and a self-test program the contract suite runs on every backend.

Adding a language is adding one `Recipe` below; a toolchain outside the system
directories also gets a probe function returning its `Toolchain`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .docker_image import DEFAULT_TAG

MiB = 1024 * 1024
#: PATH inside the sandbox before any toolchain's own directories.
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Toolchain:
    """What a language needs of the host beyond the system directories, found by its probe."""

    mounts: tuple[tuple[str, str], ...] = ()
    """(host path, sandbox path) pairs bound read-only into every sandbox (a sysroot, an /etc config dir)."""
    path: tuple[str, ...] = ()
    """Sandbox directories put in front of PATH (the toolchain's bin under its mount)."""


@dataclass(frozen=True)
class Recipe:
    """How one language is compiled and run, and every other fact about it (see the module docstring)."""

    name: str
    extension: str
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    entry_name: str = "main"
    """Entrypoint stem; Java needs `Main` because the public class names the file."""
    tool: str = ""
    """Executable whose presence on the system PATH makes the language available (unless `probe` says otherwise)."""
    fence_tags: tuple[str, ...] = ()
    """Markdown fence tags that mean this language, besides its name (```py, ```c++)."""
    reserves_address_space: bool = False
    """The runtime maps far more address space than it uses (JIT heaps, Go's arenas): RLIMIT_AS would break it."""
    compile_memory_bytes: int = 1024 * MiB
    """Memory of the compile phase (compilers need more room than the programs they build)."""
    probe: Callable[[], Toolchain | None] | None = field(default=None, compare=False)
    """Finds the toolchain on this host; None means `tool` on the system PATH, with nothing extra to mount."""
    docker_image: str | None = None
    """Default image of the Docker backend; None: only with an image the operator configures."""
    hello: str = ""
    """Self-test: reads one word from stdin and prints `<name> <word>`; the contract suite runs it everywhere."""

    @property
    def default_entrypoint(self) -> str:
        return f"{self.entry_name}.{self.extension}"

    def argv(self, template: tuple[str, ...], entrypoint: str) -> list[str]:
        stem = entrypoint.rsplit(".", 1)[0]
        return [part.format(entry=entrypoint, stem=stem) for part in template]

    def toolchain(self) -> Toolchain | None:
        """This host's toolchain for the language, or None when it is not installed (probed once per process)."""
        return _toolchain(self.name)


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


def _rust() -> Toolchain | None:
    sysroot = rust_sysroot()
    return None if sysroot is None else Toolchain(mounts=((str(sysroot), "/opt/rust"),), path=("/opt/rust/bin",))


def _java() -> Toolchain | None:
    """javac on the PATH; the JDK reads its configuration from /etc/java-<version>-openjdk."""
    if not shutil.which("javac", path=SYSTEM_PATH):
        return None
    configs = sorted(glob.glob("/etc/java-*-openjdk"))
    return Toolchain(mounts=tuple((os.path.realpath(path), path) for path in configs))


LANGUAGES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "python",
            "py",
            ("python3", "{entry}"),
            tool="python3",
            fence_tags=("py", "python3", "py3"),
            docker_image=DEFAULT_TAG,
            hello="print('python', input().strip())\n",
        ),
        Recipe(
            "c",
            "c",
            ("./{stem}",),
            ("gcc", "-O2", "-std=gnu17", "-pipe", "-o", "{stem}", "{entry}", "-lm"),
            tool="gcc",
            fence_tags=("h",),
            hello='#include <stdio.h>\nint main(void){char s[8]; scanf("%7s", s); printf("c %s\\n", s); return 0;}\n',
        ),
        Recipe(
            "cpp",
            "cpp",
            ("./{stem}",),
            ("g++", "-O2", "-std=gnu++17", "-pipe", "-o", "{stem}", "{entry}"),
            tool="g++",
            fence_tags=("c++", "cxx", "cc", "hpp"),
            hello='#include <iostream>\nint main(){std::string s; std::cin >> s; std::cout << "cpp " << s << "\\n";}\n',
        ),
        Recipe(
            "javascript",
            "js",
            ("node", "--max-old-space-size=192", "{entry}"),
            tool="node",
            fence_tags=("js", "node", "nodejs"),
            reserves_address_space=True,
            hello="const s = require('fs').readFileSync(0, 'utf8').trim(); console.log('javascript ' + s)\n",
        ),
        Recipe(
            "bash",
            "sh",
            ("bash", "{entry}"),
            tool="bash",
            fence_tags=("sh", "shell", "zsh"),
            docker_image=DEFAULT_TAG,
            hello='read s; echo "bash $s"\n',
        ),
        Recipe(
            "java",
            "java",
            ("java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss8m", "-cp", ".", "{stem}"),
            ("javac", "-J-XX:+UseSerialGC", "-d", ".", "{entry}"),
            entry_name="Main",
            tool="javac",
            reserves_address_space=True,
            probe=_java,
            hello="public class Main { public static void main(String[] a) { "
            'System.out.println("java " + new java.util.Scanner(System.in).next()); } }\n',
        ),
        Recipe(
            "rust",
            "rs",
            ("./{stem}",),
            ("rustc", "-O", "-C", "codegen-units=1", "-o", "{stem}", "{entry}"),
            tool="rustc",
            fence_tags=("rs",),
            reserves_address_space=True,
            probe=_rust,
            hello="fn main(){ let mut s = String::new(); std::io::stdin().read_line(&mut s).unwrap(); "
            'println!("rust {}", s.trim()); }\n',
        ),
        Recipe(
            "go",
            "go",
            ("./{stem}",),
            ("go", "build", "-o", "{stem}", "{entry}"),
            tool="go",
            fence_tags=("golang",),
            reserves_address_space=True,
            hello='package main\nimport "fmt"\nfunc main() { var s string; fmt.Scan(&s); fmt.Println("go", s) }\n',
        ),
    )
}


@cache
def _toolchain(name: str) -> Toolchain | None:
    recipe = LANGUAGES[name]
    if recipe.probe is not None:
        return recipe.probe()
    return Toolchain() if shutil.which(recipe.tool, path=SYSTEM_PATH) else None


def host_languages() -> list[str]:
    """Languages whose toolchain is installed on this host (for host-side sandboxes)."""
    return [name for name, recipe in LANGUAGES.items() if recipe.toolchain() is not None]


def fence_languages() -> dict[str, str]:
    """Fence tag (lower case) -> language name, every recipe's name and tags."""
    return {tag: recipe.name for recipe in LANGUAGES.values() for tag in (recipe.name, *recipe.fence_tags)}
