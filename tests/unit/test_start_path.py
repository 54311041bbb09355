"""What importing loads, each check in a fresh interpreter: the emulator stays off the start path.

The CLI, the daemon, the console and the composition root load neither the emulator nor
faker. Importing `syncd.sandbox` itself loads neither the emulator nor faker nor polars; each
of the emulator's modules imports on its own; and loading all of them brings in nothing else
of syncd. Faker loads only when data is generated.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import syncd.sandbox

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("faker", "polars")


def _loaded_after(code: str) -> set[str]:
    """Module names in `sys.modules` after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def _sandbox_modules() -> list[str]:
    found = pkgutil.walk_packages(syncd.sandbox.__path__, prefix="syncd.sandbox.")
    return sorted(m.name for m in found)


def _syncd_modules(loaded: set[str]) -> set[str]:
    return {m for m in loaded if m == "syncd" or m.startswith("syncd.")}


@pytest.mark.parametrize("statement", ["import syncd.sandbox", "import syncd.sandbox.defaults"])
def test_importing_the_package_loads_only_its_defaults(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert not loaded & set(HEAVY)
    assert _syncd_modules(loaded) == {"syncd", "syncd.sandbox", "syncd.sandbox.defaults"}


def test_the_default_credentials_need_no_emulator() -> None:
    loaded = _loaded_after(
        "from syncd.sandbox import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY\n"
        "assert DEFAULT_HUBSPOT_TOKEN == 'sandbox-hubspot-token'\n"
        "assert DEFAULT_MAILCHIMP_KEY == 'sandbox-mailchimp-key-us1'"
    )
    assert "syncd.sandbox.app" not in loaded


def test_the_emulator_loads_faker_only_to_generate_data() -> None:
    imported = _loaded_after("from syncd.sandbox import Sandbox, Limits, FaultConfig")
    assert "syncd.sandbox.app" in imported
    assert not imported & set(HEAVY)
    generated = _loaded_after("from syncd.sandbox import Sandbox\nSandbox(contacts=5).stop()")
    assert "faker" in generated  # the check above is not vacuous
    assert "polars" not in generated


def test_the_emulator_loads_nothing_else_of_syncd() -> None:
    imports = "\n".join(f"import {m}" for m in _sandbox_modules())
    loaded = _loaded_after(imports + "\nfrom syncd.sandbox import Sandbox\nSandbox(5).stop()")
    inside = {"syncd", "syncd.sandbox"}
    assert {
        m for m in _syncd_modules(loaded) - inside if not m.startswith("syncd.sandbox.")
    } == set()


@pytest.mark.parametrize("module", _sandbox_modules())
def test_each_module_imports_on_its_own(module: str) -> None:
    assert module in _loaded_after(f"import {module}")


@pytest.mark.parametrize(
    "statement",
    [
        "import syncd.cli",
        "import syncd.daemon",
        "import syncd.ui",
        "import syncd.runtime",
        "from syncd.cli import app; app(['--version'], standalone_mode=False)",
    ],
)
def test_the_start_path_loads_neither_the_emulator_nor_faker(statement: str) -> None:
    # `syncd --version`, `syncd run`, `syncd sync` and `syncd ui` load these modules; only
    # `syncd demo` and `syncd sandbox serve` reach the emulator, inside their commands.
    loaded = _loaded_after(statement)
    assert "faker" not in loaded
    assert not {m for m in loaded if m == "syncd.sandbox" or m.startswith("syncd.sandbox.")}
