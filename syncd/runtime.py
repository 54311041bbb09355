"""The composition root: settings in, a ready `Syncer` (store, rules, connectors, writers) out.

The one place that knows how connectors are built from the configuration. Commands, the
daemon and the demo all go through `open_runtime`, so they run exactly the same engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from sqlalchemy import Engine

import connectors
from connectors.base import Connector, FieldMap, PropertyWriter
from syncd.alerts import Notifier
from syncd.config import Settings
from syncd.engine.apply import Writer
from syncd.engine.syncer import Syncer
from syncd.engine.writers import MembershipWriter, PropertiesWriter, RoutingWriter
from syncd.errors import ConfigError
from syncd.http import RetrySettings
from syncd.memory import tune_collector
from syncd.segments import FieldCatalog, RuleSet, load_mappings
from syncd.store import open_store
from syncd.store.types import utcnow


def connector_field_map(fields: FieldCatalog) -> FieldMap:
    """The connectors' view of `fields.yaml`: canonical name -> source path per system."""
    hubspot = {n: f.hubspot.path for n, f in fields.items() if f.hubspot is not None}
    mailchimp = {n: f.mailchimp.path for n, f in fields.items() if f.mailchimp is not None}
    return FieldMap.from_paths(hubspot=hubspot, mailchimp=mailchimp)


def api_counters(built: Mapping[str, Connector]) -> dict[str, tuple[int, int]]:
    """`api -> (calls, 429s)` so far, for run figures."""
    out: dict[str, tuple[int, int]] = {}
    for name, connector in built.items():
        stats = connector.stats.api(name)
        out[name] = (stats.api_calls, stats.http_429)
    return out


@dataclass
class Runtime:
    """Everything one command or daemon job needs; `close` releases connections."""

    settings: Settings
    db: Engine
    rules: RuleSet
    connectors: dict[str, Connector]
    syncer: Syncer
    notifier: Notifier | None = None
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Let alerts in flight go out (bounded), close connector pools and the database."""
        if self._closed:
            return
        self._closed = True
        if self.notifier is not None:
            self.notifier.flush()
        for connector in self.connectors.values():
            connector.close()
        self.db.dispose()


def retry_settings(settings: Settings, timeout_s: float) -> RetrySettings:
    """The configured retry policy with one connector's timeout."""
    return RetrySettings(timeout_s=timeout_s, **settings.retry.model_dump())


def build_connectors(
    settings: Settings, rules: RuleSet, retry: RetrySettings | None = None
) -> dict[str, Connector]:
    """Create the configured connectors (HubSpot and/or Mailchimp)."""
    field_map = connector_field_map(rules.fields)
    built: dict[str, Connector] = {}
    if settings.hubspot is not None:
        built["hubspot"] = connectors.create(
            "hubspot",
            base_url=settings.hubspot.base_url,
            access_token=settings.hubspot.access_token.get_secret_value(),
            field_map=field_map,
            retry=retry or retry_settings(settings, settings.hubspot.timeout_s),
            split_reads=settings.hubspot.split_reads,
        )
    if settings.mailchimp is not None:
        if not settings.mailchimp.audience_id:
            raise ConfigError("mailchimp.audience_id is required to sync a Mailchimp audience")
        built["mailchimp"] = connectors.create(
            "mailchimp",
            base_url=settings.mailchimp.resolved_base_url(),
            api_key=settings.mailchimp.api_key.get_secret_value(),
            audience_id=settings.mailchimp.audience_id,
            field_map=field_map,
            retry=retry or retry_settings(settings, settings.mailchimp.timeout_s),
        )
    if not built:
        raise ConfigError("neither hubspot nor mailchimp is configured; nothing to sync")
    return built


def build_writers(
    rules: RuleSet, built: Mapping[str, Connector], *, recreate: bool = True
) -> dict[str, Writer]:
    """One routing writer per API; HubSpot also writes syncd's own contact properties.

    `recreate`: make an owned list or tag a person deleted again (`on_deleted_target`).
    """
    writers: dict[str, Writer] = {}
    for name, connector in built.items():
        props = None
        if name == "hubspot":
            props = PropertiesWriter(
                cast(PropertyWriter, connector),
                [s.key for s in rules.segments],
                [s.key for s in rules.stages],
            )
        writers[name] = RoutingWriter(name, MembershipWriter(connector, recreate=recreate), props)
    return writers


def open_runtime(
    settings: Settings,
    *,
    rules: RuleSet | None = None,
    retry: RetrySettings | None = None,
    mappings: Path | None = None,
) -> Runtime:
    """Load mappings, open the migrated store, build connectors and the engine.

    Raises:
        ConfigError: Invalid mappings, unmigrated database, missing connector settings.
    """
    tune_collector()
    rules = rules or load_mappings(mappings or settings.mappings)
    db = open_store(settings.database_url, stall_timeout=settings.safety.lease_ttl)
    try:
        built = build_connectors(settings, rules, retry)
    except BaseException:
        db.dispose()
        raise
    notifier = Notifier(db, settings.workspace, settings.alerts, utcnow)
    syncer = Syncer(
        db,
        settings.workspace,
        rules,
        pullers=built,
        writers=build_writers(rules, built, recreate=settings.on_deleted_target == "recreate"),
        drift_readers=built,
        max_removals_pct=settings.safety.max_removals_pct,
        max_removals=settings.safety.max_removals,
        api_counters=lambda: api_counters(built),
        lease_ttl=settings.safety.lease_ttl,
        clock=utcnow,
        on_deleted_target=settings.on_deleted_target,
        listener=notifier,
        min_dwell=settings.safety.min_dwell,
        write_properties=settings.hubspot is None or settings.hubspot.write_properties,
    )
    return Runtime(settings, db, rules, built, syncer, notifier)
