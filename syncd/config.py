"""Settings: `syncd.yaml` plus environment, validated once at start-up.

Precedence, lowest first: built-in defaults, the YAML file, then `SYNCD_...` environment
variables (nested keys joined with `__`, e.g. `SYNCD_HUBSPOT__ACCESS_TOKEN`). Inside the YAML
file, `${VAR}` (or `${VAR:-default}`) is replaced by the environment variable, so secrets stay
out of the file. Every problem is reported at once, each naming its file and key path.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from syncd.errors import ConfigError
from syncd.redact import REDACTOR
from syncd.yamlfile import parse_yaml

ENV_PREFIX = "SYNCD_"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest duration syncd accepts anywhere (100 years): beyond it, dates overflow.
MAX_DURATION = timedelta(days=36500)


def parse_duration(value: Any) -> timedelta:
    """Parse `30s`, `10m`, `1h`, `1d` (or a number of seconds) into a timedelta.

    Raises:
        ValueError: Not a duration, negative, or longer than `MAX_DURATION` (one line).
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError("expected a duration such as 30s, 10m, 1h or 1d")
    if not 0 <= seconds <= MAX_DURATION.total_seconds():
        raise ValueError(f"expected a duration between 0s and {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _not_a_flag(value: Any, info: ValidationInfo, model: type[BaseModel]) -> Any:
    """Refuse `true`/`false` where a number or text is expected.

    Pydantic reads `max_removals: true` as 1, so a typo would silently become a limit.
    """
    field = model.model_fields.get(info.field_name or "")
    if isinstance(value, bool) and field is not None and field.annotation is not bool:
        raise ValueError("expected a value, not true/false")
    return value


def _secret_set(value: SecretStr | None) -> SecretStr | None:
    """Refuse an empty token or key: `access_token: ""` is a mistake, not a credential."""
    if value is not None and not value.get_secret_value().strip():
        raise ValueError("must not be empty (remove the setting, or give the real value)")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_flags(cls, value: Any, info: ValidationInfo) -> Any:
        return _not_a_flag(value, info, cls)


class HubSpotSettings(_Section):
    """HubSpot private-app access; `base_url` points at the sandbox in tests and the demo."""

    access_token: Annotated[SecretStr, AfterValidator(_secret_set)]
    base_url: str = "https://api.hubapi.com"
    timeout_s: float = Field(default=30.0, gt=0)
    #: Write `syncd_segments` / `syncd_journey_stage` on contacts. Off: lists only, and the
    #: next incremental pull does not re-read every contact those writes touched.
    write_properties: bool = True
    #: Full pulls read the contact list from the bottom and search from the top at once,
    #: meeting in the middle (`connectors/hubspot/split.py`). Off: the list alone, one page
    #: after another.
    split_reads: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value)


class MailchimpSettings(_Section):
    """Mailchimp Marketing API access for one audience."""

    api_key: SecretStr
    audience_id: str | None = None
    base_url: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value)

    @field_validator("api_key")
    @classmethod
    def _has_datacenter(cls, value: SecretStr) -> SecretStr:
        _secret_set(value)
        if "-" not in value.get_secret_value().strip("-"):
            raise ValueError("expected a Mailchimp API key ending in its datacenter, like '-us1'")
        return value

    def resolved_base_url(self) -> str:
        """The API root: the configured one, or the one the key's datacenter suffix names."""
        if self.base_url:
            return self.base_url.rstrip("/")
        datacenter = self.api_key.get_secret_value().rsplit("-", 1)[1]
        return f"https://{datacenter}.api.mailchimp.com/3.0"


class ScheduleSettings(_Section):
    """When the daemon runs incremental syncs and the nightly reconcile."""

    incremental_every: Duration = timedelta(minutes=10)
    reconcile_cron: str = "0 3 * * *"
    misfire_grace: Duration = timedelta(minutes=5)

    @field_validator("reconcile_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"expected a 5-field crontab expression ({exc})") from None
        return value

    @field_validator("incremental_every")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 1:
            raise ValueError("expected at least 1s")
        return value


class SafetySettings(_Section):
    """Guards that hold a run instead of writing it."""

    max_removals_pct: float = Field(default=20.0, ge=0, le=100)
    max_removals: int = Field(default=1000, ge=0)
    #: How long the apply lease outlives a writer that stopped renewing it (killed, paused).
    lease_ttl: Duration = timedelta(seconds=60)
    #: Anti-flapping: a contact added to a target is not removed before this, nor re-added
    #: this soon after a removal (consent and deletions always win). `0` is off.
    min_dwell: Duration = timedelta(0)

    @field_validator("lease_ttl")
    @classmethod
    def _ttl_range(cls, value: timedelta) -> timedelta:
        if not 3 <= value.total_seconds() <= 3600:
            raise ValueError("expected between 3s and 1h")
        return value


class AlertSettings(_Section):
    """Webhooks told about held, failed, partial and recovered runs and decided holds.

    Each URL may carry a secret (Slack and Teams put it in the path): write it as `${VAR}`.
    Identical alerts are sent again only after `repeat_after`.
    """

    webhooks: list[SecretStr] = Field(default_factory=list)
    repeat_after: Duration = timedelta(hours=6)
    #: The console's address, for links in alerts (e.g. https://syncd.example.com).
    console_url: str | None = None

    @field_validator("webhooks")
    @classmethod
    def _http_urls(cls, value: list[SecretStr]) -> list[SecretStr]:
        for i, url in enumerate(value):
            if not url.get_secret_value().startswith(("http://", "https://")):
                raise ValueError(f"webhook {i + 1} is not an http(s) URL")
        return value


class RetrySection(_Section):
    """How transient API failures (429, 5xx, timeouts) are retried within one run."""

    max_attempts: int = Field(default=6, ge=1, le=20)
    max_elapsed_s: float = Field(default=300.0, ge=0)
    initial_wait_s: float = Field(default=1.0, ge=0)
    max_wait_s: float = Field(default=60.0, ge=0)
    jitter_s: float = Field(default=1.0, ge=0)
    max_retry_after_s: float = Field(default=120.0, ge=0)


class AuditSettings(_Section):
    """How long audit events are kept."""

    retention_days: int = Field(default=90, ge=1)


class LoggingSettings(_Section):
    """Log level and format (`auto`: console on a terminal, JSON otherwise)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class MetricsSettings(_Section):
    """The daemon's `/healthz` and `/metrics` endpoint."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


_HOST_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


def host_pattern(entry: str) -> str:
    """Normalise one `ui.allowed_hosts` entry: a host name or IP, or `*.` and a domain.

    Names are lower-cased and IP addresses written canonically without brackets, so the
    console's Host and Origin checks compare like with like.

    Raises:
        ValueError: The entry has a scheme, port, path, or a `*` other than a leading `*.`.
    """
    name = entry.strip().lower()
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(name.removeprefix("*.")):
        raise ValueError(
            f"{entry!r} is not a host name: write it without scheme, port or path "
            "('*.example.com' allows every name under example.com)"
        )
    return name


HostPattern = Annotated[str, AfterValidator(host_pattern)]


class UiSettings(_Section):
    """The admin web console.

    `allowed_hosts` are the names a browser may reach it by (the Host header is checked on
    every request, against DNS rebinding); empty means the loopback names plus the bound
    host. `session_ttl` is how long a login (or an anonymous loopback session) lasts.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8686, ge=0, le=65535)
    token: Annotated[SecretStr | None, AfterValidator(_secret_set)] = None
    allowed_hosts: list[HostPattern] = Field(default_factory=list)
    session_ttl: Duration = timedelta(hours=12)
    #: The HubSpot portal (hub) id, for links to contact records; none without it.
    hubspot_portal_id: int | None = Field(default=None, ge=1)
    #: Mailchimp's data centre (`us21`) for links to members; default: from the API key.
    mailchimp_dc: str | None = Field(default=None, pattern=r"^[a-z]{2,4}[0-9]{1,3}$")
    #: Who the console's decisions are recorded as (`console:<label>`).
    user_label: str = Field(default="admin", min_length=1, max_length=64)

    @field_validator("session_ttl")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError("expected at least 1m")
        return value


class Settings(BaseSettings):
    """Everything syncd reads at start-up. Build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database_url: str = "sqlite:///syncd.db"
    workspace: str = Field(default="default", min_length=1, max_length=64)
    mappings: Path = Path("mappings")
    hubspot: HubSpotSettings | None = None
    mailchimp: MailchimpSettings | None = None
    #: What reconcile does about an owned list or tag a person deleted: make it again with
    #: its members (`recreate`), or leave it deleted and stop writing it (`stop`).
    on_deleted_target: Literal["recreate", "stop"] = "recreate"
    schedule: ScheduleSettings = ScheduleSettings()
    safety: SafetySettings = SafetySettings()
    alerts: AlertSettings = AlertSettings()
    retry: RetrySection = RetrySection()
    audit: AuditSettings = AuditSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    ui: UiSettings = UiSettings()

    @field_validator("*", mode="before")
    @classmethod
    def _no_flags(cls, value: Any, info: ValidationInfo) -> Any:
        return _not_a_flag(value, info, cls)

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        return check_database_url(value)

    @model_validator(mode="after")
    def _ui_token_off_loopback(self) -> Settings:
        if self.ui.host not in ("127.0.0.1", "localhost", "::1") and self.ui.token is None:
            raise ValueError("ui.host is not a loopback address, so ui.token must be set")
        return self

    def secrets(self) -> list[str]:
        """Every secret value, for the log redactor."""
        values = [
            self.hubspot.access_token if self.hubspot else None,
            self.mailchimp.api_key if self.mailchimp else None,
            self.ui.token,
            *self.alerts.webhooks,
        ]
        return [v.get_secret_value() for v in values if v is not None]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment wins over the file; no dotenv or secret-file sources."""
        # Environment wins over the file, which arrives as init kwargs.
        return (env_settings, init_settings)


_DB_URL_HELP = "expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


def check_database_url(value: str) -> str:
    """`value` when it is a SQLite or PostgreSQL URL syncd can open, else a one-line refusal.

    Raises:
        ValueError: Not such a URL (`sqlite:/x.db`, `oracle://...`, a SQLite URL with no path).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        raise ValueError(_DB_URL_HELP)
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"not a database URL; {_DB_URL_HELP}") from None
    if url.get_backend_name() == "sqlite" and not url.database:
        raise ValueError(f"a SQLite URL needs a file path; {_DB_URL_HELP}")
    return value


def _check_http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


def interpolate(data: Any, path: str, problems: list[str], where: str) -> Any:
    """Replace `${VAR}` in every string of a YAML tree; missing variables become problems."""
    if isinstance(data, dict):
        return {k: interpolate(v, _join(path, str(k)), problems, where) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate(v, f"{path}[{i}]", problems, where) for i, v in enumerate(data)]
    if not isinstance(data, str):
        return data

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or value == "":
            if default is not None:
                return default
            problems.append(f"{where}: {path}: environment variable {name} is not set")
            return ""
        return value

    return _VAR.sub(repl, data)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, str(part))
    return out


def _env_name(path: str) -> str:
    return ENV_PREFIX + path.replace(".", "__").upper()


def _source_of(path: str, where: str) -> str:
    env = _env_name(path)
    return f"environment {env}" if env in os.environ else where


class SandboxAddresses(Protocol):
    """Where a running emulator answers and what it accepts (`syncd.sandbox.Sandbox` fits)."""

    hubspot_token: str
    mailchimp_key: str

    @property
    def hubspot_url(self) -> str:
        """HubSpot's base URL on the emulator."""
        ...

    @property
    def mailchimp_url(self) -> str:
        """Mailchimp's base URL (`.../3.0`) on the emulator."""
        ...

    @property
    def audience_id(self) -> str:
        """The emulator's one audience."""
        ...


def sandbox_settings(
    sb: SandboxAddresses,
    database_url: str,
    mappings: Path,
    safety: SafetySettings | None = None,
) -> Settings:
    """Settings pointing both connectors at a running emulator (demo, tests, benchmarks)."""
    return Settings(
        database_url=database_url,
        mappings=mappings,
        safety=safety or SafetySettings(),
        hubspot=HubSpotSettings(access_token=SecretStr(sb.hubspot_token), base_url=sb.hubspot_url),
        mailchimp=MailchimpSettings(
            api_key=SecretStr(sb.mailchimp_key),
            audience_id=sb.audience_id,
            base_url=sb.mailchimp_url,
        ),
    )


def load_settings(path: Path | None = None) -> Settings:
    """Read, interpolate and validate the configuration.

    Args:
        path: The YAML file; `None` means environment and defaults only.

    Raises:
        ConfigError: With every problem found, each naming its file (or variable) and key path.
    """
    where = str(path) if path is not None else "defaults"
    raw = _read_file(path) if path is not None else {}
    problems: list[str] = []
    raw = interpolate(raw, "", problems, where)
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            key = _loc(err["loc"])
            problems.append(f"{_source_of(key, where)}: {key or '(top level)'}: {_describe(err)}")
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the configuration", problems=problems)
    REDACTOR.register(settings.secrets())
    return settings


def _read_file(path: Path) -> dict[str, Any]:
    """The settings in `path`, before interpolation and validation.

    Refuses, before anything is validated, what would otherwise be silently misread: YAML that
    does not parse, a key given twice (PyYAML would keep the later one, so a second `safety:`
    block would quietly replace the first), and a file that is not a mapping.

    Raises:
        ConfigError: One line naming the file, and the key path and lines where it applies.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    problems: list[str] = []
    raw = parse_yaml(text, str(path), problems)
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"{len(problems)} problems in {path}", problems=problems)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return raw


def _describe(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown setting (check the spelling)"
    if kind == "missing":
        return "required setting is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")
