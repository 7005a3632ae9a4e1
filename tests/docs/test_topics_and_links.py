"""The docs name every local topic, and every relative link in README.md and docs/ resolves."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from components.common import topics
from tests.docs.markdown import heading_anchors, links, read

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md")])

# Every local pub/sub topic the bundle defines (module-level strings with a '/').
TOPICS = sorted(
    value
    for name, value in vars(topics).items()
    if name.isupper() and isinstance(value, str) and "/" in value
)


def test_topics_module_has_the_topics() -> None:
    # Guards the discovery above: an empty list would make the parametrized test vacuous.
    assert topics.READINGS in TOPICS and topics.SYNC_STATUS in TOPICS and len(TOPICS) >= 10


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_is_in_messages_md(topic: str) -> None:
    assert f"`{topic}`" in read(DOCS / "messages.md"), f"docs/messages.md does not name topic `{topic}`"


def relative_links(page: Path) -> list[tuple[str, Path, str]]:
    """``(link as written, file it points to, anchor)`` for each relative link of ``page``."""
    found = []
    for target in links(read(page)):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue  # http(s), mailto: not checked offline
        path = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
        found.append((target, path, parts.fragment))
    return found


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file, or heading anchor, does not exist."""
    broken = []
    for target, path, anchor in relative_links(page):
        if not path.exists():
            broken.append(f"{target} (no file {path})")
        elif anchor and path.suffix == ".md" and anchor not in heading_anchors(read(path)):
            broken.append(f"{target} (no heading #{anchor} in {path.name})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert not broken_links(page), f"{page.relative_to(ROOT)}: broken links {broken_links(page)}"


def test_a_broken_link_or_anchor_is_reported(tmp_path: Path) -> None:
    # GIVEN a page linking to a file that exists, one that does not, and a missing heading
    (tmp_path / "there.md").write_text("# Deploy to a fleet\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#deploy-to-a-fleet) [gone](gone.md) [bad](there.md#nowhere)\n"
        "`[in code](ignored.md)` [web](https://example.com)\n",
        encoding="utf-8",
    )
    # WHEN checked THEN exactly the two broken ones are reported
    assert [entry.split(" ")[0] for entry in broken_links(page)] == ["gone.md", "there.md#nowhere"]


def test_the_docs_index_links_every_doc() -> None:
    # A page nobody links to is a page nobody finds: each docs/*.md is linked from README or a doc.
    linked = {path for page in PAGES for _, path, _ in relative_links(page)}
    orphans = sorted(p.name for p in DOCS.glob("*.md") if p.resolve() not in linked)
    assert not orphans, f"docs not linked from README.md or another doc: {orphans}"
