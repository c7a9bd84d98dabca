"""The host's own settings, read from the environment (and a `.env` file in the working
directory, which the real environment overrides)."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from atom_host_stub.contract import ConfigIssue, Principal, Severity

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
# An API key is the only thing standing between the network and a tenant's data.
MIN_API_KEY_LENGTH = 16
# Request bodies (ATOM_MAX_BODY_BYTES): 256 KiB is twice the largest body a route takes in
# earnest (a send to 1000 contacts with its personalisation, about 120 KiB), and small enough
# that parsing the worst body that size allows (tens of thousands of tiny keys) keeps the event
# loop free for other tenants' requests.
DEFAULT_MAX_BODY_BYTES = 256 * 1024
# Host-level issues are reported under this name, beside the plugins' own.
HOST_NAME = "host"
MIN_SESSION_SECRET_CHARS = 32


def read_environment(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> dict[str, str]:
    """`environ` (default os.environ) over the values of `.env`, if there is one."""
    merged: dict[str, str] = {}
    path = dotenv_path if dotenv_path is not None else Path.cwd() / ".env"
    if path.is_file():
        from dotenv import dotenv_values  # ships with pydantic-settings, a core dependency

        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


WORKERS_VARIABLE = "ATOM_WORKERS"
# `serve --strict --workers N` tells its workers to refuse as well.
STRICT_VARIABLE = "ATOM_SERVE_STRICT"


def _positive_int(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_api_keys(raw: str) -> tuple[dict[str, Principal], list[str]]:
    """`key:tenant:user[,…]` → {key: Principal}, plus a problem per malformed entry (by position,
    never showing the key)."""
    keys: dict[str, Principal] = {}
    problems: list[str] = []
    for position, entry in enumerate(_split(raw), start=1):
        parts = entry.split(":")
        if len(parts) != 3 or not all(parts):
            problems.append(f"entry {position} is not of the form key:tenant:user")
            continue
        key, tenant, user = parts
        if len(key) < MIN_API_KEY_LENGTH:
            # Refused, not only warned about: a short key is guessed, not stolen.
            problems.append(
                f"entry {position} has a key of {len(key)} characters; keys need at least "
                f"{MIN_API_KEY_LENGTH} (the key is not accepted)"
            )
            continue
        if key in keys:
            problems.append(f"entry {position} repeats an earlier key")
            continue
        keys[key] = Principal(tenant_id=tenant, user_id=user)
    return keys, problems


MIN_MAX_BODY_BYTES = 1024
MAX_MAX_BODY_BYTES = 64 * 1024 * 1024


def _parse_max_body(raw: str) -> tuple[int, str | None]:
    """ATOM_MAX_BODY_BYTES → (limit, problem); the default when unset or invalid."""
    raw = raw.strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES, None
    if not raw.isdigit() or len(raw) > 12:
        return DEFAULT_MAX_BODY_BYTES, f"{raw[:20]!r} is not a whole number of bytes"
    value = int(raw)
    if not MIN_MAX_BODY_BYTES <= value <= MAX_MAX_BODY_BYTES:
        return DEFAULT_MAX_BODY_BYTES, (
            f"{value} is outside {MIN_MAX_BODY_BYTES}..{MAX_MAX_BODY_BYTES}"
        )
    return value, None


def _parse_extra_plugins(raw: str) -> dict[str, str]:
    """`name=module[,…]` (or just `module`, named by its last part) → {name: module}."""
    plugins: dict[str, str] = {}
    for entry in _split(raw):
        name, sep, module = entry.partition("=")
        if not sep:
            module, name = name, name.rsplit(".", 1)[-1]
        plugins[name.strip()] = module.strip()
    return plugins


@dataclass(frozen=True)
class HostSettings:
    """Everything the host itself is configured with. Build it with `from_env`."""

    env: Mapping[str, str]
    allowed_plugins: frozenset[str] | None = None  # None: every installed plugin
    autoload: bool = True
    extra_plugins: Mapping[str, str] = field(default_factory=dict)
    api_keys: Mapping[str, Principal] = field(default_factory=dict)
    api_key_problems: tuple[str, ...] = ()
    data_dir: Path = Path(".atom")
    database_url: str = ""
    public_url: str = "http://127.0.0.1:8000"
    health_cache_s: float = 5.0
    # Browser sessions (sessions.py): the signing secret (None: one kept in data_dir), how
    # long a sign-in lasts, and whether the cookie is Secure even on a plain-http request.
    session_secret: str | None = field(default=None, repr=False)
    session_max_age_s: int = 8 * 3600
    session_cookie_secure: bool = False
    session_problems: tuple[str, ...] = ()
    # Worker processes serving this host; `serve --workers N` sets ATOM_WORKERS for them.
    workers: int = 1
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_body_problem: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HostSettings:
        allowed = env.get("ATOM_PLUGINS", "").strip()
        data_dir = Path(env.get("ATOM_DATA_DIR") or ".atom").expanduser().absolute()
        api_keys, problems = parse_api_keys(env.get("ATOM_API_KEYS", ""))
        public_url = (env.get("ATOM_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
        session_problems: list[str] = []
        secret = env.get("ATOM_SESSION_SECRET", "").strip() or None
        if secret is not None and len(secret) < MIN_SESSION_SECRET_CHARS:
            session_problems.append(
                f"ATOM_SESSION_SECRET is shorter than {MIN_SESSION_SECRET_CHARS} characters"
            )
        raw_age = env.get("ATOM_SESSION_MAX_AGE_SECONDS", "").strip()
        max_age = 8 * 3600
        if raw_age:
            if raw_age.isdigit() and 60 <= int(raw_age) <= 30 * 86400:
                max_age = int(raw_age)
            else:
                session_problems.append(
                    "ATOM_SESSION_MAX_AGE_SECONDS is not a whole number from 60 to 2592000"
                )
        secure_raw = env.get("ATOM_SESSION_COOKIE_SECURE", "").strip().lower()
        max_body, max_body_problem = _parse_max_body(env.get("ATOM_MAX_BODY_BYTES", ""))
        return cls(
            env=dict(env),
            allowed_plugins=frozenset(_split(allowed)) if allowed else None,
            autoload=env.get("ATOM_DISABLE_PLUGIN_AUTOLOAD", "").strip().lower() not in TRUE_VALUES,
            extra_plugins=_parse_extra_plugins(env.get("ATOM_EXTRA_PLUGINS", "")),
            api_keys=api_keys,
            api_key_problems=tuple(problems),
            data_dir=data_dir,
            database_url=env.get("ATOM_DATABASE_URL") or f"sqlite:///{data_dir / 'atom.sqlite3'}",
            public_url=public_url,
            health_cache_s=float(env.get("ATOM_HEALTH_CACHE_SECONDS") or 5.0),
            session_secret=secret,
            session_max_age_s=max_age,
            session_cookie_secure=secure_raw in TRUE_VALUES
            or (not secure_raw and public_url.startswith("https://")),
            session_problems=tuple(session_problems),
            workers=_positive_int(env.get(WORKERS_VARIABLE, "")) or 1,
            max_body_bytes=max_body,
            max_body_problem=max_body_problem,
        )

    def provider_for(self, capability: str) -> str | None:
        """The plugin chosen for a capability, e.g. ATOM_CRM_PROVIDER for `crm`."""
        value = self.env.get(provider_variable(capability), "").strip()
        return value or None

    def validate(self) -> list[ConfigIssue]:
        """The host's own configuration problems (plugins report theirs through a hook)."""
        issues = [
            ConfigIssue(
                key="ATOM_API_KEYS",
                message=f"ATOM_API_KEYS is invalid: {problem}",
                hint="Use ATOM_API_KEYS=key:tenant:user[,key:tenant:user...].",
            )
            for problem in self.api_key_problems
        ]
        if not self.api_keys and not self.api_key_problems:
            issues.append(
                ConfigIssue(
                    key="ATOM_API_KEYS",
                    severity=Severity.WARNING,
                    message="ATOM_API_KEYS is not set: every authenticated route answers 401",
                    hint="Set ATOM_API_KEYS=key:tenant:user (a long random key per caller).",
                )
            )
        issues += [
            ConfigIssue(
                key=problem.split(" ", 1)[0],
                message=problem,
                hint="Use a random value of at least 32 characters, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
                if problem.startswith("ATOM_SESSION_SECRET")
                else "Use seconds, e.g. 28800 for 8 hours.",
            )
            for problem in self.session_problems
        ]
        if self.max_body_problem:
            issues.append(
                ConfigIssue(
                    key="ATOM_MAX_BODY_BYTES",
                    message=f"ATOM_MAX_BODY_BYTES is invalid: {self.max_body_problem}; "
                    f"using {self.max_body_bytes}",
                    hint=f"Use a whole number of bytes from 1024 to {MAX_MAX_BODY_BYTES}.",
                )
            )
        issues += database_url_issues(self.database_url)
        return issues


def ensure_private_dir(path: Path) -> Path:
    """Create the data directory readable by its owner only (0700): it holds keys, tokens and
    the database. An existing directory is left as its owner set it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def importable(module: str) -> bool:
    """Whether `module` is installed and not blocked (find_spec imports nothing)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # an import blocker, or a half-imported module
        return False


def provider_variable(capability: str) -> str:
    return f"ATOM_{re.sub(r'[^A-Za-z0-9]', '_', capability).upper()}_PROVIDER"


def database_url_issues(url: str) -> list[ConfigIssue]:
    """A database URL of a kind no plugin can serve is a config error. Whether the driver is
    installed is each plugin's to say: only it knows its extra (one report, not two)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("postgres"):
        return []
    if scheme.startswith("sqlite"):
        return []
    return [
        ConfigIssue(
            key="ATOM_DATABASE_URL",
            message=f"ATOM_DATABASE_URL has an unsupported scheme {scheme!r}",
            hint="Use sqlite:///path/to/file.sqlite3 or postgresql://user@host:5432/db.",
        )
    ]
