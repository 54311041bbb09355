"""`syncd alerts test`: send a test alert to every configured webhook, and say what happened."""

from __future__ import annotations

import typer

from syncd.alerts import Alert, deliver_now
from syncd.cli.common import ConfigOpt, fail, out, settings_for
from syncd.cli.text import line
from syncd.errors import ExitCode


def alerts_test(config: ConfigOpt = None) -> None:
    """POST a test event to each of `alerts.webhooks` (no suppression) and report each host."""
    settings = settings_for(config)
    hooks = settings.alerts.webhooks
    if not hooks:
        fail("no webhooks configured: set alerts.webhooks in syncd.yaml", ExitCode.USAGE)
    text = f"syncd [{settings.workspace}]: test alert; webhooks are wired up"
    alert = Alert(
        "test", settings.workspace, None, "test", [], {}, text, settings.alerts.console_url
    )
    failed = 0
    for host, ok in deliver_now(hooks, alert):
        out.print(line(f"{host}: ", ("delivered", "green") if ok else ("failed", "red")))
        failed += not ok
    if failed:
        raise typer.Exit(ExitCode.FAILED)


def register(app: typer.Typer) -> None:
    """Add the `alerts` group to the `syncd` app."""
    group = typer.Typer(help="Webhook alerts.", no_args_is_help=True)
    group.command("test")(alerts_test)
    app.add_typer(group, name="alerts")
