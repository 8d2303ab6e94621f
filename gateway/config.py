"""One TOML configuration file, with environment overrides for secrets and deployment.

Every setting has a default that runs the embedded trial setup (SQLite CRM, private Redis,
local Asterisk rig). `CTIGW_<SECTION>_<KEY>` overrides any key, e.g. CTIGW_AMI_SECRET,
CTIGW_CRM_URL, CTIGW_REDIS_URL, so secrets never have to live in the file.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = PROJECT_ROOT / "var"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


@dataclass
class GatewaySettings:
    instance: str = "gw1"
    default_region: str = "TR"
    state_dir: str = str(DEFAULT_STATE_DIR)
    log_level: str = "INFO"
    log_format: str = "text"  # or "json"


@dataclass
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "ctigw"
    secret: str = field(default="", repr=False)
    auth: str = "md5"
    keepalive_interval: float = 20.0
    action_timeout: float = 10.0
    reconnect_max: float = 30.0


@dataclass
class AgiSettings:
    bind: str = "127.0.0.1"
    port: int = 4573
    allowed_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    max_sessions: int = 2000
    command_timeout: float = 30.0
    env_timeout: float = 5.0
    backlog: int = 4096


@dataclass
class RedisSettings:
    # Empty: start a private redis-server on loopback (trial setup). Production sets a URL.
    url: str = ""
    key_prefix: str = "ctigw"


@dataclass
class CrmSettings:
    url: str = ""  # empty: SQLite file in the state dir
    create_leads: bool = False
    spool_path: str = ""  # empty: spool file in the state dir


@dataclass
class IvrSettings:
    flows_dir: str = str(PROJECT_ROOT / "ivr_flows")
    main_flow: str = "main"
    sounds_dir: str = ""  # Asterisk's sounds dir, for `flows check` of prompt names


@dataclass
class AcdSettings:
    roster: str = str(PROJECT_ROOT / "agents" / "roster.yaml")
    ring_timeout: int = 15
    wrapup_seconds: int = 10
    # A caller on hold leaves for the fallback queue when the gateway that owns the call has
    # not refreshed its liveness mark in Asterisk for this long (telephony_conf: ctigw-hold).
    hold_grace: int = 20
    hold_slice: int = 5  # seconds of music between two checks of the mark


@dataclass
class HttpSettings:
    bind: str = "127.0.0.1"
    port: int = 8088
    # Signs the API's bearer tokens (ctigw api-token); empty: the HTTP API is off.
    token_secret: str = field(default="", repr=False)
    backlog: int = 128
    # Web sign-in sessions (in Redis): ended after this long without a request, and after
    # this long in any case.
    session_idle: int = 30 * 60
    session_absolute: int = 12 * 3600
    # Failed sign-ins per username and per address before a lockout, which doubles with
    # each further failure from this many seconds.
    login_failures: int = 5
    login_lockout: int = 60
    api_token_ttl: int = 30 * 24 * 3600  # `ctigw api-token` without --ttl


@dataclass
class RigSettings:
    """The local Asterisk used for trying the gateway out and for tests."""

    root: str = "/var/cache/ctigw/asterisk-sid"
    sip_port: int = 5060
    ami_port: int = 5038
    inbound_number: str = "100"


@dataclass
class Settings:
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    agi: AgiSettings = field(default_factory=AgiSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    crm: CrmSettings = field(default_factory=CrmSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    acd: AcdSettings = field(default_factory=AcdSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    rig: RigSettings = field(default_factory=RigSettings)

    @property
    def state_dir(self) -> Path:
        return Path(self.gateway.state_dir)

    @property
    def crm_url(self) -> str:
        return self.crm.url or f"sqlite:///{self.state_dir / 'crm.sqlite3'}"

    @property
    def spool_path(self) -> Path:
        return Path(self.crm.spool_path) if self.crm.spool_path else self.state_dir / "activity-spool.sqlite3"


def _coerce(section: str, key: str, value, target_type):
    where = f"[{section}] {key}"
    try:
        if target_type is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if target_type is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if target_type is float:
            return float(value)
        if target_type == "list[str]":
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(value)
            return value
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError):
        kind = target_type if isinstance(target_type, str) else target_type.__name__
        raise ConfigError(f"{where}: expected {kind}, got {value!r}") from None


def load_settings(path: str | os.PathLike | None = None, environ=None) -> Settings:
    """Read the TOML file (if any), then apply CTIGW_<SECTION>_<KEY> environment overrides."""
    environ = os.environ if environ is None else environ
    raw: dict = {}
    path = path or environ.get("CTIGW_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    settings = Settings()
    known_sections = {f.name for f in dataclasses.fields(Settings)}
    for section in raw:
        if section not in known_sections:
            raise ConfigError(f"unknown section [{section}] (known: {', '.join(sorted(known_sections))})")
    for sfield in dataclasses.fields(Settings):
        section_obj = getattr(settings, sfield.name)
        values = raw.get(sfield.name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"[{sfield.name}] must be a table")
        fields = {f.name: f for f in dataclasses.fields(section_obj)}
        for key in values:
            if key not in fields:
                raise ConfigError(f"[{sfield.name}] unknown key {key!r} (known: {', '.join(sorted(fields))})")
        for name, f in fields.items():
            target = "list[str]" if "list" in str(f.type) else {"int": int, "float": float, "bool": bool}.get(str(f.type), str)
            env_key = f"CTIGW_{sfield.name.upper()}_{name.upper()}"
            if env_key in environ:
                setattr(section_obj, name, _coerce(sfield.name, name, environ[env_key], target))
            elif name in values:
                setattr(section_obj, name, _coerce(sfield.name, name, values[name], target))
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if settings.ami.auth not in ("md5", "plain"):
        raise ConfigError(f"[ami] auth: expected 'md5' or 'plain', got {settings.ami.auth!r}")
    for section, port in (("ami", settings.ami.port), ("agi", settings.agi.port), ("http", settings.http.port)):
        if not 0 < port < 65536:
            raise ConfigError(f"[{section}] port: {port} is not a TCP port")
    if settings.gateway.log_format not in ("text", "json"):
        raise ConfigError(f"[gateway] log_format: expected 'text' or 'json', got {settings.gateway.log_format!r}")


def describe(settings: Settings) -> dict:
    """The effective settings for display, with secrets replaced."""
    out = dataclasses.asdict(settings)
    for section, key in (("ami", "secret"), ("http", "token_secret")):
        if out[section][key]:
            out[section][key] = "********"
    for section, key in (("crm", "url"), ("redis", "url")):
        out[section][key] = redact_url(out[section][key])
    return out


def redact_url(url: str) -> str:
    """postgresql://user:pw@host/db -> postgresql://user:***@host/db"""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url
