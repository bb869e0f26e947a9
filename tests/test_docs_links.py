"""Every relative link in README.md and docs/*.md points at a file that exists, and a
link with an anchor (`file.md#heading`, `#heading`) at a heading of that file."""
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def documents():
    return [REPO_ROOT / "README.md"] + sorted((REPO_ROOT / "docs").glob("*.md"))


def heading_anchors(text):
    """The anchors GitHub gives a Markdown file's headings ("## A `b` c" -> "a-b-c")."""
    anchors, seen = set(), {}
    for line in FENCE.sub("", text).splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else "%s-%d" % (slug, count))
    return anchors


def broken_links(paths):
    """[(document, link)] of every relative link whose file or heading does not exist."""
    broken = []
    for document in paths:
        text = document.read_text()
        for target in LINK.findall(CODE_SPAN.sub("", FENCE.sub("", text))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path, _, anchor = target.partition("#")
            linked = (document.parent / path).resolve() if path else document
            if not linked.exists():
                broken.append((document.name, target))
            elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(
                    linked.read_text()):
                broken.append((document.name, target))
    return broken


def test_every_relative_link_of_the_docs_resolves():
    assert len(documents()) >= 6
    assert broken_links(documents()) == []


def test_the_readme_links_every_doc():
    readme = (REPO_ROOT / "README.md").read_text()
    for doc in sorted((REPO_ROOT / "docs").glob("*.md")):
        assert "](docs/%s)" % doc.name in readme, doc.name


@pytest.mark.parametrize("link", [
    "missing.md", "../docs/missing.md", "other.md#no-such-heading", "#no-such-heading"])
def test_a_broken_link_is_reported(tmp_path, link):
    (tmp_path / "other.md").write_text("# Other\n\n## `config.json` reference\n")
    document = tmp_path / "page.md"
    document.write_text("# Page\n\nSee [there](%s).\n" % link)
    assert broken_links([document]) == [("page.md", link)]


def test_good_links_code_and_urls_are_not_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## `config.json` reference\n")
    document = tmp_path / "page.md"
    document.write_text(
        "# Page\n\n[a](other.md) [b](other.md#configjson-reference) [c](#page) "
        "[d](https://example.invalid/x.md) ![e](other.md)\n\n"
        "```\n[f](missing.md)\n```\n`[g](missing.md)`\n")
    assert broken_links([document]) == []
