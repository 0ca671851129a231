"""User docs speak to users: no absolute paths of a development machine, no development history."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
USER_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: what only makes sense to the people who built it
FORBIDDEN = [
    (re.compile(r"(?<![\w.])/(work|home|root|tmp|Users)/\w"), "an absolute path of a development machine"),
    (re.compile(r"\bthe issue'?s?\b|\bissue #?\d+|\bin this PR\b", re.I), "a reference to the development tracker"),
    (re.compile(r"\b(now has|no longer|used to be|was changed)\b", re.I), "development history"),
    (re.compile(r"\bthe foundation'?s\b", re.I), "a development-history name"),
]


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: p.name)
def test_user_docs_have_no_machine_paths_or_development_history(doc):
    bad = [f"{doc.name}:{i}: {what}: {line.strip()}" for i, line in enumerate(doc.read_text().splitlines(), 1)
           for rx, what in FORBIDDEN if rx.search(line)]
    assert not bad, "\n".join(bad)
