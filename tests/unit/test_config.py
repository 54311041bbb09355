"""Config loading: precedence, interpolation, every problem reported with its key path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from syncd.config import load_settings, parse_duration
from syncd.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("MAILCHIMP_API_KEY", "0123456789abcdef0123456789abcdef-us21")
    settings = load_settings(Path(__file__).parents[2] / "syncd.example.yaml")
    assert settings.hubspot is not None and settings.mailchimp is not None
    assert settings.mailchimp.resolved_base_url() == "https://us21.api.mailchimp.com/3.0"
    assert settings.schedule.incremental_every == timedelta(minutes=10)
    assert settings.safety.max_removals == 1000


def test_three_mistakes_are_all_reported_with_key_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "database_url: mysql://nope\n"
        "safety: {max_removals_pct: 150}\n"
        "schedule: {incremental_every: often}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    problems = info.value.problems
    assert len(problems) == 3
    joined = "\n".join(problems)
    for key in ("database_url", "safety.max_removals_pct", "schedule.incremental_every"):
        assert f"{path}: {key}:" in joined
    assert "less than or equal to 100" in joined


def test_unknown_keys_and_missing_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN_VAR", raising=False)
    path = write(
        tmp_path,
        "hubspt: {}\nhubspot: {access_token: '${NO_SUCH_TOKEN_VAR}', base_url: api.hubapi.com}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    assert "hubspt: unknown setting" in text
    assert "hubspot.access_token: environment variable NO_SUCH_TOKEN_VAR is not set" in text
    assert "hubspot.base_url: expected an http:// or https:// URL" in text


def test_environment_overrides_file_and_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "safety: {max_removals: 10}\n")
    monkeypatch.setenv("SYNCD_SAFETY__MAX_REMOVALS", "25")
    assert load_settings(path).safety.max_removals == 25
    monkeypatch.setenv("SYNCD_SAFETY__MAX_REMOVALS", "lots")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "environment SYNCD_SAFETY__MAX_REMOVALS: safety.max_removals:" in str(info.value)


def test_interpolation_default_and_secret_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_KEY", "deadbeefdeadbeefdeadbeefdeadbeef-us3")
    path = write(
        tmp_path,
        "mailchimp: {api_key: '${MC_KEY}', audience_id: '${AUD:-aud1}'}\n",
    )
    settings = load_settings(path)
    assert settings.mailchimp is not None
    assert settings.mailchimp.audience_id == "aud1"
    assert "deadbeef" not in repr(settings)
    assert "deadbeef" not in str(settings.model_dump())


def test_ui_off_loopback_needs_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ui\.token must be set"):
        load_settings(write(tmp_path, "ui: {host: 0.0.0.0}\n"))


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "safety: {max_removals: 1\n  oops: [\n")
    with pytest.raises(ConfigError, match=rf"{path}: line \d+: not valid YAML"):
        load_settings(path)


def test_a_section_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    # PyYAML alone keeps the later block: the 5% guard would silently become the default 20%.
    path = write(
        tmp_path,
        "database_url: sqlite:///x.db\n"
        "mappings: mappings\n"
        "safety: {max_removals_pct: 5}\n"
        "schedule: {incremental_every: 10m}\n"
        "safety: {max_removals: 1000}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: safety: duplicate key (lines 3 and 5)"


def test_a_nested_key_given_twice_is_refused_by_its_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "safety:\n  max_removals_pct: 5\n  max_removals: 10\n  max_removals_pct: 50\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: safety.max_removals_pct: duplicate key (lines 2 and 4)"


def test_every_duplicate_is_listed_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hubspot:\n  access_token: a\n  access_token: b\n"
        "ui: {port: 1, port: 2}\nworkspace: w\nworkspace: w\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.problems == [
        f"{path}: hubspot.access_token: duplicate key (lines 2 and 3)",
        f"{path}: ui.port: duplicate key (lines 4 and 4)",
        f"{path}: workspace: duplicate key (lines 5 and 6)",
    ]
    # Secrets are named by path only: the values never reach the message.
    assert "access_token: a" not in str(info.value)


def test_yaml_merge_keys_override_without_counting_as_duplicates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ui: &ui {port: 8000, host: 127.0.0.1}\nmetrics:\n  <<: *ui\n  port: 9000\n",
    )
    settings = load_settings(path)
    assert (settings.ui.port, settings.metrics.port) == (8000, 9000)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("1.5h", 5400), ("1d", 86400), (45, 45)]
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["10", "ten minutes", "5w", "", True])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_ui_allowed_hosts_and_session_ttl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings(None).ui
    assert defaults.allowed_hosts == [] and defaults.session_ttl == timedelta(hours=12)
    text = (
        "ui: {allowed_hosts: [Console.Example.COM, '*.corp.example', '[::1]'], session_ttl: 30m}\n"
    )
    ui = load_settings(write(tmp_path, text)).ui
    assert ui.allowed_hosts == ["console.example.com", "*.corp.example", "::1"]
    assert ui.session_ttl == timedelta(minutes=30)
    monkeypatch.setenv("SYNCD_UI__ALLOWED_HOSTS", '["ops.example"]')
    assert load_settings(None).ui.allowed_hosts == ["ops.example"]


def test_ui_allowed_hosts_must_be_names_and_ttl_at_least_a_minute(tmp_path: Path) -> None:
    text = (
        "ui:\n"
        "  allowed_hosts: [ok.example, 'https://x.example', 'x.example:8686', '*', 'a.*.b', '']\n"
        "  session_ttl: 30s\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    problems = "\n".join(info.value.problems)
    for index in (1, 2, 3, 4, 5):
        assert f"ui.allowed_hosts[{index}]: " in problems
    assert "ui.allowed_hosts[0]" not in problems
    assert "without scheme, port or path" in problems
    assert "ui.session_ttl: expected at least 1m" in problems
