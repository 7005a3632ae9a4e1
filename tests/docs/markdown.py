"""Reading the operator docs the way the doc tests need: code spans, links, heading anchors."""

from __future__ import annotations

import re
from pathlib import Path

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# [text](target) and [text](target "title"); images too. Not inside code (stripped first).
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def code_identifiers(text: str) -> set[str]:
    """Every identifier written as code in ``text``: in fenced blocks and in inline code spans.

    A configuration key counts as documented only where it is written as code (``maxBytes``), so
    an English word in prose (``type``, ``dir``) does not pass for the key.
    """
    found: set[str] = set()
    for block in _FENCE.finditer(text):
        found.update(_IDENTIFIER.findall(block.group(0)))
    rest = _FENCE.sub("", text)
    for span in _CODE_SPAN.finditer(rest):
        found.update(_IDENTIFIER.findall(span.group(2)))
    return found


def links(text: str) -> list[str]:
    """The targets of the Markdown links in ``text``, outside code."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    return _LINK.findall(prose)


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of ``text`` (lower case, punctuation dropped, spaces to -)."""
    anchors: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        plain = _CODE_SPAN.sub(lambda m: m.group(2), heading).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")
        anchors.add(slug)
    return anchors


def read(path: Path) -> str:
    """A doc's text."""
    return path.read_text(encoding="utf-8")
