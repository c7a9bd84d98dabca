"""`atom-host sandbox`: run the offline HubSpot sandbox standalone over HTTP."""

from __future__ import annotations

import json

import click

from atom_hubspot.sandbox.config import (
    DEFAULT_SEARCH_LAG_S,
    DEMO_PORTAL_ID,
    FaultConfig,
    SandboxConfig,
)

# The host's exit code for "a needed extra is missing" (atom-host's README, CLI section); the
# plugin does not import the host's CLI, so the number is repeated here.
EXIT_MISSING_EXTRA = 4


def _faults(spec: str | None) -> FaultConfig:
    """`--faults` takes JSON (`{"error_rate_5xx": 0.1}`) or `key=value,key=value`."""
    if not spec:
        return FaultConfig()
    spec = spec.strip()
    if spec.startswith("{"):
        return FaultConfig.model_validate(json.loads(spec))
    data: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise click.BadParameter(f"{part!r} is not key=value", param_hint="--faults")
        data[key.strip()] = value.strip()
    return FaultConfig.model_validate(data)


def build_config(
    *,
    rate_limit: int | None,
    window: float,
    search_rate: int | None,
    daily_limit: int | None,
    faults: str | None,
    token_ttl: int,
    no_seed: bool,
    private_app_token: tuple[str, ...],
    webhook_url: str | None = None,
    webhook_disorder: float = 0.0,
    search_lag: float = DEFAULT_SEARCH_LAG_S,
) -> SandboxConfig:
    try:
        fault_config = _faults(faults)
    except (ValueError, json.JSONDecodeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    return SandboxConfig(
        seed=not no_seed,
        requests_per_10s=rate_limit,
        window_s=window,
        search_per_s=search_rate,
        daily_limit=daily_limit,
        faults=fault_config,
        fault_style="wire",
        access_token_ttl_s=token_ttl,
        private_app_tokens={t: DEMO_PORTAL_ID for t in private_app_token},
        webhook_url=webhook_url,
        webhook_disorder=webhook_disorder,
        search_lag_s=search_lag,
    )


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option(
    "--rate-limit",
    type=int,
    default=110,
    show_default=True,
    help="Requests per window (10 s) per portal; 0 turns the limit off.",
)
@click.option(
    "--window",
    type=float,
    default=10.0,
    show_default=True,
    help="Length in seconds of the rolling window (scale it down for benchmarks).",
)
@click.option(
    "--search-rate",
    type=int,
    default=5,
    show_default=True,
    help="Search requests per second per portal; 0 turns the limit off.",
)
@click.option("--daily-limit", type=int, default=None, help="Requests per day per portal.")
@click.option(
    "--search-lag",
    type=click.FloatRange(min=0),
    default=DEFAULT_SEARCH_LAG_S,
    show_default=True,
    help="Seconds search trails writes, as HubSpot's index does; 0: search sees writes at once.",
)
@click.option(
    "--faults",
    default=None,
    help="Injected faults: JSON or key=value pairs, e.g. "
    '"error_rate_5xx=0.05,latency_ms=80,lost_answer_rate=0.01".',
)
@click.option(
    "--token-ttl",
    type=int,
    default=1800,
    show_default=True,
    help="Access-token lifetime in seconds.",
)
@click.option("--no-seed", is_flag=True, help="Start with an empty demo portal.")
@click.option(
    "--private-app-token",
    multiple=True,
    help="Accept this static token for the demo portal (repeatable).",
)
@click.option(
    "--webhook-url",
    default=None,
    help="Deliver every change as signed HubSpot webhooks to this URL "
    "(e.g. http://127.0.0.1:8000/webhooks/hubspot).",
)
@click.option(
    "--webhook-disorder",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of deliveries sent twice and out of order (HubSpot promises neither).",
)
def sandbox(
    host: str,
    port: int,
    rate_limit: int,
    window: float,
    search_rate: int,
    daily_limit: int | None,
    search_lag: float,
    faults: str | None,
    token_ttl: int,
    no_seed: bool,
    private_app_token: tuple[str, ...],
    webhook_url: str | None,
    webhook_disorder: float,
) -> None:
    """Run the offline HubSpot sandbox (OAuth, CRM, lists, marketing) over HTTP."""
    try:
        import uvicorn

        from atom_hubspot.sandbox.app import create_sandbox_app
    except ImportError as exc:
        click.echo(
            f"sandbox needs the web framework ({exc.name or 'a web package'} is missing): "
            "pip install 'atom-hubspot[api]'",
            err=True,
        )
        raise SystemExit(EXIT_MISSING_EXTRA) from None

    config = build_config(
        rate_limit=rate_limit or None,
        window=window,
        search_rate=search_rate or None,
        daily_limit=daily_limit,
        faults=faults,
        token_ttl=token_ttl,
        no_seed=no_seed,
        private_app_token=private_app_token,
        webhook_url=webhook_url,
        webhook_disorder=webhook_disorder,
        search_lag=search_lag,
    )
    app = create_sandbox_app(config)
    base = f"http://{host}:{port}"
    click.echo(f"HubSpot sandbox on {base}  (demo portal {DEMO_PORTAL_ID})")
    click.echo(f"  HUBSPOT_API_BASE_URL={base}")
    click.echo(f"  HUBSPOT_AUTHORIZE_URL={base}/oauth/authorize")
    click.echo(f"  HUBSPOT_CLIENT_ID={config.client_id}  (secret: {config.client_secret})")
    click.echo(f"  admin: {base}/_sandbox")
    if webhook_url:
        click.echo(f"  webhooks to: {webhook_url}")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@click.command("sandbox-edit")
@click.option(
    "--url",
    default="http://127.0.0.1:8765",
    show_default=True,
    help="The running sandbox (its admin endpoints answer loopback clients).",
)
@click.option("--portal", type=int, default=DEMO_PORTAL_ID, show_default=True)
@click.argument("object_type", type=click.Choice(["contacts", "companies", "deals"]))
@click.argument("object_id", type=int)
@click.argument("changes", nargs=-1, required=True)
def sandbox_edit(
    url: str, portal: int, object_type: str, object_id: int, changes: tuple[str, ...]
) -> None:
    """Change a sandbox record as a user in HubSpot's UI would: NAME=VALUE ... (webhook
    subscribers and the journal hear of it like any change in HubSpot)."""
    import httpx

    props: dict[str, str] = {}
    for change in changes:
        name, sep, value = change.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{change!r} is not NAME=VALUE", param_hint="CHANGES")
        props[name] = value
    target = f"{url.rstrip('/')}/_sandbox/portals/{portal}/objects/{object_type}/{object_id}"
    try:
        answer = httpx.patch(target, json={"properties": props}, timeout=10)
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"the sandbox at {url} did not answer: {type(exc).__name__}"
        ) from None
    if answer.status_code != 200:
        message = answer.json().get("message", answer.text) if answer.content else ""
        raise click.ClickException(f"the sandbox answered {answer.status_code}: {message}")
    click.echo(
        f"{object_type} {object_id} in portal {portal}: "
        + ", ".join(f"{k}={v!r}" for k, v in props.items())
    )
