"""Every relative link in README.md and docs/*.md leads somewhere: the file exists and, when the link
names a heading (`#…`), the file has that heading (GitHub's anchor for it). The reference moved from
the README into docs/, so a link or anchor left behind fails here."""

from __future__ import annotations

import re
from pathlib import Path

from tests.live import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(doc: Path) -> set[str]:
    """GitHub's anchors for the headings of ``doc``: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"(?ms)^```.*?^```", "", doc.read_text())
    found = set()
    for heading in re.findall(r"(?m)^#{1,6} (.+)$", text):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target):  # http(s):, mailto:
                continue
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path).resolve() if path else doc
            if not linked.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
