"""One TOML configuration file, with environment overrides for secrets and deployment.

Every setting has a default that runs the embedded trial setup (SQLite CRM, private Redis,
local Asterisk rig). `CTIGW_<SECTION>_<KEY>` overrides any key, e.g. CTIGW_AMI_SECRET,
CTIGW_CRM_URL, CTIGW_REDIS_URL, so secrets never have to live in the file.

The sections are pydantic models and `Settings` a pydantic-settings class: `Settings()` alone
is the built-in defaults (what tests build and then assign to), `load_settings()` layers the
file and then the environment over them.
"""
from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Literal, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource,
                               SettingsConfigDict, TomlConfigSettingsSource)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The defaults name the example flows and roster, and a state folder. In a checkout they are
# the repository's own; installed from the wheel, the copies shipped in gateway/starter and
# the service's state folder (systemd's $STATE_DIRECTORY), else ./var where it runs.
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file()
EXAMPLES_ROOT = PROJECT_ROOT if IN_CHECKOUT else Path(__file__).resolve().parent / "starter"
DEFAULT_STATE_DIR = (PROJECT_ROOT / "var" if IN_CHECKOUT
                     else Path(os.environ.get("STATE_DIRECTORY") or "var").resolve())
ENV_PREFIX = "CTIGW_"


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


def _host_list(value):
    # CTIGW_AGI_ALLOWED_HOSTS=10.0.0.1,10.0.0.2 (or a JSON list); the file gives a TOML list.
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Port = Annotated[int, Field(gt=0, lt=65536)]
Seconds = Annotated[float, Field(gt=0)]
HostList = Annotated[list[str], NoDecode, BeforeValidator(_host_list)]


class _Section(BaseModel):
    # Assignment is not validated: code and tests set values directly (e.g. port 0 for "any").
    model_config = ConfigDict(extra="forbid")


class GatewaySettings(_Section):
    instance: str = "gw1"
    default_region: str = "TR"
    state_dir: str = str(DEFAULT_STATE_DIR)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"


class AmiSettings(_Section):
    host: str = "127.0.0.1"
    port: Port = 5038
    username: str = "ctigw"
    secret: str = Field(default="", repr=False)
    auth: Literal["md5", "plain"] = "md5"
    keepalive_interval: Seconds = 20.0
    action_timeout: Seconds = 10.0
    reconnect_max: Seconds = 30.0


class AgiSettings(_Section):
    bind: str = "127.0.0.1"
    port: Port = 4573
    allowed_hosts: HostList = Field(default_factory=lambda: ["127.0.0.1"])
    max_sessions: Annotated[int, Field(gt=0)] = 2000
    command_timeout: Seconds = 30.0
    env_timeout: Seconds = 5.0
    backlog: Annotated[int, Field(gt=0)] = 4096


class RedisSettings(_Section):
    # Empty: start a private redis-server on loopback (trial setup). Production sets a URL.
    url: str = Field(default="", repr=False)
    key_prefix: str = "ctigw"
    # A Redis that stops answering must fail the call fast, not hang it: seconds to connect,
    # to wait for a reply, and of idleness after which a connection is PINGed before use.
    connect_timeout: Seconds = 2.0
    socket_timeout: Seconds = 5.0
    health_check_interval: Annotated[float, Field(ge=0)] = 15.0


class CrmSettings(_Section):
    url: str = Field(default="", repr=False)  # empty: SQLite file in the state dir
    create_leads: bool = False
    spool_path: str = ""  # empty: spool file in the state dir


class IvrSettings(_Section):
    flows_dir: str = str(EXAMPLES_ROOT / "ivr_flows")
    main_flow: str = "main"
    sounds_dir: str = ""  # Asterisk's sounds dir, for `flows check` of prompt names


class NotReadyReasonEntry(_Section):
    """One reason an agent may pick on their desk for not being ready, in both languages."""
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    tr: Annotated[str, Field(min_length=1, max_length=64)]
    en: Annotated[str, Field(min_length=1, max_length=64)]


DEFAULT_NOT_READY_REASONS = (
    ("break", "Mola", "Break"),
    ("lunch", "Yemek", "Lunch"),
    ("meeting", "Toplantı", "Meeting"),
    ("training", "Eğitim", "Training"),
    ("coaching", "Koçluk", "Coaching"),
    ("back_office", "Arka ofis işi", "Back-office work"),
)


class AcdSettings(_Section):
    roster: str = str(EXAMPLES_ROOT / "agents" / "roster.yaml")
    ring_timeout: Annotated[int, Field(gt=0)] = 15
    wrapup_seconds: Annotated[int, Field(ge=0)] = 10
    # A caller on hold leaves for the fallback queue when the gateway that owns the call has
    # not refreshed its liveness mark in Asterisk for this long (telephony_conf: ctigw-hold).
    hold_grace: Annotated[int, Field(gt=0)] = 20
    hold_slice: Annotated[int, Field(gt=0)] = 5  # seconds of music between two checks of the mark
    # A failed connect (AMI Redirect) is tried again after 1 s, 2 s, 4 s... (less some jitter);
    # after connect_attempts failures the caller goes to the fallback queue.
    connect_attempts: int = 4
    connect_retry_initial: float = 1.0
    connect_retry_max: float = 8.0
    connect_retry_jitter: float = 0.25
    # Where a relax step's `outcome: voicemail` records the caller (a folder on the Asterisk host).
    voicemail_dir: str = "/var/spool/asterisk/ctigw-voicemail"
    # The reasons the agent desk offers for "not ready" (the ACD's own RONA and login aside).
    not_ready_reasons: Annotated[list[NotReadyReasonEntry], Field(min_length=1, max_length=32)] = [
        NotReadyReasonEntry(code=c, tr=tr, en=en) for c, tr, en in DEFAULT_NOT_READY_REASONS]

    @model_validator(mode="after")
    def _rules_across_keys(self):
        codes = [r.code for r in self.not_ready_reasons]
        if len(set(codes)) != len(codes):
            raise ValueError("not_ready_reasons: a code is listed twice")
        # Otherwise one late refresh of the mark would already send waiting callers away.
        if self.hold_grace < 2 * self.hold_slice:
            raise ValueError(f"hold_grace ({self.hold_grace}) must be at least twice hold_slice ({self.hold_slice})")
        from gateway.acd.retry import ConnectRetry  # here: the ACD package is heavy for a config reader

        ConnectRetry(attempts=self.connect_attempts, initial=self.connect_retry_initial,
                     maximum=self.connect_retry_max, jitter=self.connect_retry_jitter)  # raises ValueError
        return self


class HttpSettings(_Section):
    bind: str = "127.0.0.1"
    port: Port = 8088
    # Signs the API's bearer tokens (ctigw api-token); empty: the HTTP API is off.
    token_secret: str = Field(default="", repr=False)
    backlog: Annotated[int, Field(gt=0)] = 128
    # Web sign-in sessions (in Redis): ended after this long without a request, and after
    # this long in any case.
    session_idle: Annotated[int, Field(gt=0)] = 30 * 60
    session_absolute: Annotated[int, Field(gt=0)] = 12 * 3600
    # Failed sign-ins per username and per address before a lockout, which doubles with
    # each further failure from this many seconds.
    login_failures: Annotated[int, Field(gt=0)] = 5
    login_lockout: Annotated[int, Field(gt=0)] = 60
    api_token_ttl: Annotated[int, Field(gt=0)] = 30 * 24 * 3600  # `ctigw api-token` without --ttl
    # Who may read GET /metrics. The figures name queues and show the traffic, so not anyone:
    # with metrics_token set, a scraper sends `Authorization: Bearer <token>` (from anywhere);
    # without one, only clients whose address is in metrics_allowed_hosts (by default this host:
    # Prometheus on the same machine, or an SSH tunnel). Behind a reverse proxy every client has
    # the proxy's address: set a token there. /healthz and /readyz are open (probes), and say
    # only which check failed.
    metrics_token: str = Field(default="", repr=False)
    metrics_allowed_hosts: HostList = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    readiness_timeout: Seconds = 1.0  # each /readyz check (Redis, CRM...) gives up after this

    @field_validator("metrics_allowed_hosts")
    @classmethod
    def _addresses(cls, hosts: list[str]) -> list[str]:
        from gateway.agi.access import AllowList

        AllowList(hosts)  # "10.0.0.0/8", "::1"; raises ValueError for anything else
        return hosts


class RigSettings(_Section):
    """The local Asterisk used for trying the gateway out and for tests."""

    root: str = "/var/cache/ctigw/asterisk-sid"
    sip_port: Port = 5060
    ami_port: Port = 5038
    inbound_number: str = "100"


# The sources load_settings() adds beneath the constructor's arguments, for the one call.
_loading: ContextVar[tuple[PydanticBaseSettingsSource, ...]] = ContextVar("ctigw_settings_sources", default=())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="_", env_nested_max_split=1,
                                      extra="forbid")

    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    ami: AmiSettings = Field(default_factory=AmiSettings)
    agi: AgiSettings = Field(default_factory=AgiSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    crm: CrmSettings = Field(default_factory=CrmSettings)
    ivr: IvrSettings = Field(default_factory=IvrSettings)
    acd: AcdSettings = Field(default_factory=AcdSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    rig: RigSettings = Field(default_factory=RigSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, *_loading.get())

    @property
    def state_dir(self) -> Path:
        return Path(self.gateway.state_dir)

    @property
    def crm_url(self) -> str:
        return self.crm.url or f"sqlite:///{self.state_dir / 'crm.sqlite3'}"

    @property
    def spool_path(self) -> Path:
        return Path(self.crm.spool_path) if self.crm.spool_path else self.state_dir / "activity-spool.sqlite3"


class _EnvironmentOverrides(EnvSettingsSource):
    """CTIGW_<SECTION>_<KEY> from the given mapping. Only known keys count: CTIGW_TEST_PG_URL
    and the like belong to other programs."""

    def __init__(self, settings_cls, environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)
        self.used: dict[tuple[str, str], str] = {}  # (section, key) -> variable name

    def _load_env_vars(self):
        return {k.lower(): v for k, v in self._environ.items() if k.upper().startswith(ENV_PREFIX)}

    def __call__(self) -> dict:
        found = super().__call__()
        known = {}
        for section, values in found.items():
            model = Settings.model_fields[section].annotation
            if not isinstance(values, dict):
                continue
            kept = {k: v for k, v in values.items() if k in model.model_fields}
            for key in kept:
                self.used[(section, key)] = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            if kept:
                known[section] = kept
        return known


def load_settings(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), then apply CTIGW_<SECTION>_<KEY> environment overrides."""
    environ = os.environ if environ is None else environ
    path = path or environ.get("CTIGW_CONFIG") or None
    env = _EnvironmentOverrides(Settings, environ)
    sources: list[PydanticBaseSettingsSource] = [env]
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"configuration file not found: {path}")
        try:
            sources.append(TomlConfigSettingsSource(Settings, toml_file=Path(path)))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    token = _loading.set(tuple(sources))
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError("\n".join(_explain(error, env.used, path) for error in exc.errors())) from None
    finally:
        _loading.reset(token)


def _explain(error: dict, from_env: dict, path) -> str:
    loc = error["loc"]
    section = str(loc[0])
    sections = ", ".join(Settings.model_fields)
    if section not in Settings.model_fields:
        return f"unknown section [{section}] (known: {sections})"
    if len(loc) == 1:
        if error["type"] == "value_error":  # a rule across the section's keys
            return f"[{section}] {error['msg'].removeprefix('Value error, ')}"
        return f"[{section}] must be a table"
    key = str(loc[1])
    model = Settings.model_fields[section].annotation
    if error["type"] == "extra_forbidden":
        return f"[{section}] unknown key {key!r} (known: {', '.join(model.model_fields)})"
    origin = f"from {from_env[(section, key)]}" if (section, key) in from_env else f"in {path}"
    shown = "********" if key in _SECRETS.get(section, ()) else repr(error["input"])
    return f"[{section}] {key}: {error['msg']}, got {shown} ({origin})"


_SECRETS = {"ami": ("secret",), "http": ("token_secret", "metrics_token"), "crm": ("url",), "redis": ("url",)}


def describe(settings: Settings) -> dict:
    """The effective settings for display, with secrets replaced."""
    out = settings.model_dump()
    for section, key in (("ami", "secret"), ("http", "token_secret"), ("http", "metrics_token")):
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
