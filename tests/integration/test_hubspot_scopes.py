"""The HubSpot scopes syncd asks for are exactly those of the endpoints its connector calls.

`connectors.hubspot.scopes` maps every endpoint to its scope. A full sync against the emulator
(pull with deals and companies, list writes, property writes, the drift read) must call only
mapped endpoints and need every listed scope; the client's source may name no endpoint the
map lacks; and the README's connect section lists the same scopes, no more, no fewer.
"""

from __future__ import annotations

import re
from pathlib import Path

from connectors.hubspot.scopes import ENDPOINT_SCOPES, REQUIRED_SCOPES
from syncd.config import sandbox_settings
from syncd.runtime import open_runtime
from syncd.store import upgrade
from tests.support.sandboxes import start_sandbox

ROOT = Path(__file__).resolve().parents[2]
_LABEL = re.compile(r"""f?"((?:GET|POST|PUT|PATCH|DELETE) /[^"]+)\"""")


def test_a_full_sync_calls_only_mapped_endpoints_and_needs_every_scope(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scopes.db'}"
    upgrade(url)
    with start_sandbox(contacts=120, seed=5) as sb:
        rt = open_runtime(sandbox_settings(sb, url, ROOT / "mappings"))
        try:
            result = rt.syncer.sync(trigger="manual", full=True)
            called = set(rt.connectors["hubspot"].stats.endpoints("hubspot"))
        finally:
            rt.close()
    assert result.counts.totals().get("added", 0) > 0  # lists and tags were written
    assert called <= set(ENDPOINT_SCOPES), called - set(ENDPOINT_SCOPES)
    assert {ENDPOINT_SCOPES[e] for e in called} == set(REQUIRED_SCOPES)


def test_every_endpoint_the_client_names_has_a_scope() -> None:
    labels: set[str] = set()
    for source in (ROOT / "connectors" / "hubspot").glob("*.py"):
        if source.name == "scopes.py":
            continue
        for label in _LABEL.findall(source.read_text(encoding="utf-8")):
            labels.update(_expand(label))
    assert labels, "no endpoint labels found in connectors/hubspot"
    assert labels <= set(ENDPOINT_SCOPES), labels - set(ENDPOINT_SCOPES)


#: What the placeholders of f-string labels stand for: deals and companies are read for contacts,
#: and their contacts for the deals and companies that changed.
_PAIRS = (("contacts", "deals"), ("contacts", "companies"), ("deals", "contacts"),
          ("companies", "contacts"))  # fmt: skip


def _expand(label: str) -> set[str]:
    if "{from_type}" in label:
        return {label.replace("{from_type}", a).replace("{to_type}", b) for a, b in _PAIRS}
    if "{to_type}" in label:
        return {label.replace("{to_type}", b) for a, b in _PAIRS if a == "contacts"}
    if "{object_type}" in label:
        return {label.replace("{object_type}", kind) for kind in ("deals", "companies")}
    return {label}


def test_the_readme_lists_exactly_the_required_scopes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Connect HubSpot and Mailchimp")
    end = readme.index("\n## ", start + 1)
    listed = set(re.findall(r"`(crm\.[a-z_.]+)`", readme[start:end]))
    assert listed == set(REQUIRED_SCOPES)
