"""Finding the program in a completion: fenced blocks, their language tags, and which block wins."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandboxes.languages import fence_languages

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.DOTALL | re.MULTILINE)
_UNCLOSED = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*)\Z", re.DOTALL | re.MULTILINE)

#: Fence tags as models write them -> our language names: each recipe's name and `fence_tags` (sandboxes.LANGUAGES).
TAG_LANGUAGES: dict[str, str] = fence_languages()


@dataclass(frozen=True, slots=True)
class Extracted:
    """The chosen code, the language its fence named (None when untagged) and whether it was fenced."""

    code: str
    tag_language: str | None
    fenced: bool


def extract_code(
    text: str, *, block: str = "last", require_fence: bool = False, language: str | None = None
) -> Extracted | None:
    """Pick one fenced block (`block`: last, first or longest), preferring blocks tagged `language`.

    Why prefer tagged blocks: models often show an example input in an untagged fence after
    the solution; the block in the target language is the program. No fence falls back to
    the whole completion unless `require_fence`.
    """
    blocks = [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(text)]
    if not blocks:
        unclosed = _UNCLOSED.search(text)  # generation cut off before the closing fence
        if unclosed:
            blocks = [(unclosed.group(2).lower(), unclosed.group(3))]
    if not blocks:
        if require_fence or not text.strip():
            return None
        return Extracted(text, None, False)
    if language is not None:
        tagged = [b for b in blocks if TAG_LANGUAGES.get(b[0]) == language]
        blocks = tagged or [b for b in blocks if not b[0]] or blocks
    non_empty = [b for b in blocks if b[1].strip()] or blocks
    if block == "first":
        tag, code = non_empty[0]
    elif block == "longest":
        tag, code = max(non_empty, key=lambda b: len(b[1]))
    else:
        tag, code = non_empty[-1]
    if not code.strip():
        return None
    return Extracted(code, TAG_LANGUAGES.get(tag), True)
