"""The channel types: what each one's settings are, how they are checked, shown and sent.

One entry per type (CHANNEL_TYPES): a serializer that checks and cleans the settings (the keys
the web app's forms send, see docs/compatibility.md), how each key is masked in answers, and a
builder of the Apprise notifier that delivers through it. Settings are stored encrypted
(medikeep/crypto.py); nothing here writes them in clear anywhere.

Masking: every masked value contains "..." because the web app sends back, on save, every value
of its edit form that does not contain "..." (web-client-api §8); `merge_config` keeps the
stored value for those.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from medikeep import crypto
from medikeep.api.representation import FastSerializer
from notifications.models import ChannelType

MASK = "..."
HIDDEN = "...hidden..."  # a secret, fully masked

# How a key is shown in `config_masked`.
PLAIN = "plain"  # in full: not sensitive (host, port, priority …)
PARTIAL = "partial"  # an identifier: a few characters at each end
SECRET = "secret"  # a token or password: nothing of it
URL = "url"  # a URL that carries a secret in its path or query: scheme and host only

NEEDS_REENTRY = (
    "The stored settings of this channel cannot be decrypted (the server's encryption key "
    "changed). Enter the channel's settings again."
)

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _is_hostname(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return all(_HOST_LABEL.match(label) for label in host.rstrip(".").split("."))


def _http_url(value: str, key: str, *, allow_path: bool = True) -> str:
    """An http(s) URL with a host (self-hosted servers may be `http://ntfy:8080`)."""
    message = f"{key} must be an http:// or https:// URL with a host name."
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(message) from exc
    if parts.scheme.lower() not in {"http", "https"} or not _is_hostname(parts.hostname or ""):
        raise ValidationError(message)
    if parts.username or parts.password:
        raise ValidationError(f"{key} must not carry a user name or password; use the token key.")
    if port == 0:
        raise ValidationError(f"{key} has an invalid port.")
    if any(ch.isspace() for ch in value):
        raise ValidationError(f"{key} must not contain spaces.")
    if not allow_path and parts.path.strip("/"):
        raise ValidationError(f"{key} must be the server's address without a path.")
    return value


class ConfigSerializer(FastSerializer):
    """Base of the per-type settings: unknown keys are dropped, values are cleaned."""

    masks: dict[str, str] = {}


def _token_field(max_length: int = 255, **kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, trim_whitespace=True, **kwargs)


# ---------------------------------------------------------------- the types' settings


class EmailConfig(ConfigSerializer):
    smtp_host = serializers.CharField(max_length=253)
    smtp_port = serializers.IntegerField(min_value=1, max_value=65535, default=587)
    smtp_user = serializers.CharField(max_length=254, required=False, allow_blank=True)
    smtp_password = serializers.CharField(
        max_length=500, required=False, allow_blank=True, trim_whitespace=False
    )
    from_email = serializers.EmailField(max_length=254)
    to_email = serializers.EmailField(max_length=254)
    use_tls = serializers.BooleanField(default=True)
    masks = {"smtp_user": PARTIAL, "smtp_password": SECRET, "to_email": PARTIAL}

    def validate_smtp_host(self, value):
        if not _is_hostname(value):
            raise ValidationError("smtp_host must be a host name or an IP address.")
        return value

    def validate(self, attrs):
        if attrs.get("smtp_password") and not attrs.get("smtp_user"):
            raise ValidationError({"smtp_user": ["smtp_user is required with smtp_password."]})
        return attrs


class TelegramConfig(ConfigSerializer):
    bot_token = _token_field(200)
    chat_id = serializers.CharField(max_length=100)
    masks = {"bot_token": SECRET, "chat_id": PARTIAL}

    def validate_bot_token(self, value):
        if not re.fullmatch(r"(bot)?[0-9]{3,20}:[A-Za-z0-9_-]{10,150}", value):
            raise ValidationError(
                "bot_token must be the token BotFather gave you (digits, a colon, then letters)."
            )
        return value.removeprefix("bot")

    def validate_chat_id(self, value):
        if not re.fullmatch(r"-?[0-9]{1,32}|@?[A-Za-z_][A-Za-z0-9_]{2,63}", value):
            raise ValidationError("chat_id must be a numeric chat id or an @channel name.")
        return value


_DISCORD = re.compile(
    r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/"
    r"(?P<id>[0-9]{5,30})/(?P<token>[A-Za-z0-9_-]{10,200})/?"
)
_SLACK = re.compile(
    r"https://hooks\.slack\.com/services/"
    r"(?P<a>[A-Za-z0-9]{4,40})/(?P<b>[A-Za-z0-9]{4,40})/(?P<c>[A-Za-z0-9]{8,80})/?"
)


class DiscordConfig(ConfigSerializer):
    webhook_url = serializers.CharField(max_length=500)
    masks = {"webhook_url": URL}

    def validate_webhook_url(self, value):
        if not _DISCORD.fullmatch(value):
            raise ValidationError(
                "webhook_url must be a Discord webhook URL: "
                "https://discord.com/api/webhooks/<id>/<token>."
            )
        return value


class SlackConfig(ConfigSerializer):
    webhook_url = serializers.CharField(max_length=500)
    masks = {"webhook_url": URL}

    def validate_webhook_url(self, value):
        if not _SLACK.fullmatch(value):
            raise ValidationError(
                "webhook_url must be a Slack incoming-webhook URL: "
                "https://hooks.slack.com/services/T…/B…/…."
            )
        return value


class WebhookConfig(ConfigSerializer):
    url = serializers.CharField(max_length=2000)
    method = serializers.ChoiceField(choices=["POST", "PUT", "PATCH", "GET"], default="POST")
    auth_token = _token_field(500, required=False, allow_blank=True)
    masks = {"url": URL, "auth_token": SECRET}

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].strip().upper()}
        return super().to_internal_value(data)

    def validate_url(self, value):
        return _http_url(value, "url")


class PushoverConfig(ConfigSerializer):
    user_key = serializers.CharField(max_length=50)
    api_token = _token_field(50)
    masks = {"user_key": PARTIAL, "api_token": SECRET}

    def validate_user_key(self, value):
        if not re.fullmatch(r"[A-Za-z0-9]{20,40}", value):
            raise ValidationError("user_key must be your Pushover user (or group) key.")
        return value

    def validate_api_token(self, value):
        if not re.fullmatch(r"[A-Za-z0-9]{20,40}", value):
            raise ValidationError("api_token must be your Pushover application's API token.")
        return value


_NTFY_PRIORITY_NAMES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}


class NtfyConfig(ConfigSerializer):
    server_url = serializers.CharField(max_length=500, default="https://ntfy.sh")
    topic = serializers.CharField(max_length=64)
    auth_token = _token_field(500, required=False, allow_blank=True)
    priority = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    masks = {"topic": PARTIAL, "auth_token": SECRET}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            priority = data.get("priority")
            if isinstance(priority, str) and priority.strip().lower() in _NTFY_PRIORITY_NAMES:
                data = {**data, "priority": _NTFY_PRIORITY_NAMES[priority.strip().lower()]}
            elif priority == "":
                data = {**data, "priority": None}
        return super().to_internal_value(data)

    def validate_server_url(self, value):
        return _http_url(value, "server_url", allow_path=False).rstrip("/")

    def validate_topic(self, value):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
            raise ValidationError("topic may hold only letters, digits, - and _ (1–64).")
        return value


class GotifyConfig(ConfigSerializer):
    server_url = serializers.CharField(max_length=500)
    app_token = _token_field(200)
    priority = serializers.IntegerField(min_value=0, max_value=10, default=5)
    masks = {"app_token": SECRET}

    def validate_server_url(self, value):
        return _http_url(value, "server_url").rstrip("/")

    def validate_app_token(self, value):
        if not re.fullmatch(r"[A-Za-z0-9_.-]{4,200}", value):
            raise ValidationError("app_token must be the token of a Gotify application.")
        return value


@dataclass(frozen=True)
class ChannelSpec:
    value: str
    label: str
    config: type[ConfigSerializer]


CHANNEL_TYPES: dict[str, ChannelSpec] = {
    spec.value: spec
    for spec in (
        ChannelSpec(ChannelType.EMAIL, "Email", EmailConfig),
        ChannelSpec(ChannelType.TELEGRAM, "Telegram", TelegramConfig),
        ChannelSpec(ChannelType.DISCORD, "Discord", DiscordConfig),
        ChannelSpec(ChannelType.SLACK, "Slack", SlackConfig),
        ChannelSpec(ChannelType.WEBHOOK, "Webhook", WebhookConfig),
        ChannelSpec(ChannelType.PUSHOVER, "Pushover", PushoverConfig),
        ChannelSpec(ChannelType.NTFY, "ntfy", NtfyConfig),
        ChannelSpec(ChannelType.GOTIFY, "Gotify", GotifyConfig),
    )
}


def _spec(channel_type: str) -> ChannelSpec:
    spec = CHANNEL_TYPES.get(channel_type) if isinstance(channel_type, str) else None
    if spec is None:
        raise ValidationError(
            {"channel_type": [f"Unknown channel type; use one of: {', '.join(CHANNEL_TYPES)}."]}
        )
    return spec


# ---------------------------------------------------------------- checking and showing


def validate_config(channel_type: str, config: dict) -> dict:
    """The cleaned settings (defaults filled, unknown keys dropped, blanks of optional keys
    removed); ValidationError({key: [message]}) naming each bad or missing key."""
    spec = _spec(channel_type)
    if not isinstance(config, dict):
        raise ValidationError({"non_field_errors": ["config must be an object."]})
    checker = spec.config(data=config)
    if not checker.is_valid():
        raise ValidationError(checker.errors)
    return {key: value for key, value in checker.validated_data.items() if value not in ("", None)}


def _partly(value: str) -> str:
    if "@" in value:  # an address: a little of the name, the domain
        name, _, domain = value.rpartition("@")
        return f"{name[:2]}{MASK}@{domain}"
    if len(value) >= 9:
        return f"{value[:3]}{MASK}{value[-3:]}"
    if len(value) >= 5:
        return f"{value[:1]}{MASK}{value[-1:]}"
    return MASK


def _url_shown(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return HIDDEN
    return f"{parts.scheme}://{host}{port}/{MASK}" if host else HIDDEN


def mask_config(channel_type: str, config: dict) -> dict:
    """The settings as answers show them: identifiers partly, secrets not at all."""
    masks = _spec(channel_type).config.masks
    shown = {}
    for key, value in config.items():
        how = masks.get(key, PLAIN)
        if how == PLAIN or value in ("", None) or not isinstance(value, str):
            shown[key] = value
        elif how == PARTIAL:
            shown[key] = _partly(value)
        elif how == URL:
            shown[key] = _url_shown(value)
        else:
            shown[key] = HIDDEN
    return shown


def merge_config(channel_type: str, stored: dict, changes: dict) -> dict:
    """The settings after an update that sends only some keys (validate the result).

    A masked value sent back (a string with "...") keeps the stored one; null or "" clears an
    optional key; keys not sent are unchanged."""
    masks = _spec(channel_type).config.masks
    merged = dict(stored)
    for key, value in changes.items():
        if isinstance(value, str) and MASK in value and masks.get(key, PLAIN) != PLAIN:
            continue
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def redactions(channel_type: str, config: dict) -> list[tuple[str, str]]:
    """(text, replacement) pairs that keep this channel's settings out of errors and logs:
    secrets (and the pieces of them a log line may hold) become "[hidden]", identifiers their
    partly masked form. Longest first, so a whole value goes before its pieces."""
    masks = CHANNEL_TYPES[channel_type].config.masks if channel_type in CHANNEL_TYPES else {}
    pairs: dict[str, str] = {}
    for key, value in config.items():
        how = masks.get(key, PLAIN)
        if how == PLAIN or not isinstance(value, str) or not value:
            continue
        if how == PARTIAL:
            if len(value) >= 5:
                pairs.setdefault(value, _partly(value))
            continue
        pieces = {value}
        if how == URL:
            try:
                parts = urlsplit(value)
            except ValueError:
                parts = None
            if parts is not None:
                pieces.add(parts.path + (f"?{parts.query}" if parts.query else ""))
                pieces.update(parts.path.split("/"))
                pieces.update(v for _, v in parse_qsl(parts.query))
        else:  # a token: also each part a log line may show alone (a bot token's two halves)
            pieces.update(re.split(r"[/:]", value))
        for piece in pieces:
            if len(piece) >= 6 or piece == value:
                for variant in (piece, quote(piece), quote(piece, safe="")):
                    pairs[variant] = "[hidden]"
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


# ---------------------------------------------------------------- stored channels


def store_config(channel, config: dict) -> None:
    """Encrypt cleaned settings onto the channel (the caller saves it)."""
    channel.config_encrypted = crypto.encrypt_json(config)


def channel_config(channel) -> dict:
    """The channel's settings in clear; crypto.DecryptionError if they cannot be decrypted."""
    config = crypto.decrypt_json(channel.config_encrypted)
    if not isinstance(config, dict):
        raise crypto.DecryptionError("The stored settings are damaged.")
    return config


def config_status(channel) -> tuple[bool, str | None]:
    """(valid, error): whether the stored settings decrypt and pass the type's checks now."""
    try:
        config = channel_config(channel)
    except crypto.DecryptionError:
        return False, NEEDS_REENTRY
    try:
        validate_config(channel.channel_type, config)
    except ValidationError as exc:
        return False, describe_errors(exc)
    return True, None


def describe_errors(exc: ValidationError) -> str:
    """'key: message; key: message' from a validation error of the settings."""
    detail: Any = exc.detail
    if isinstance(detail, dict):
        lines = []
        for key, messages in detail.items():
            items = messages if isinstance(messages, list) else [messages]
            for message in items:
                lines.append(str(message) if key == "non_field_errors" else f"{key}: {message}")
        return "; ".join(lines)
    if isinstance(detail, list):
        return "; ".join(str(item) for item in detail)
    return str(detail)


def reencrypt(channels) -> int:
    """Re-encrypt stored settings not under the current key (after a key rotation); the
    number changed. Settings no key opens are left alone (their channel asks for re-entry)."""
    changed = 0
    for channel in channels:
        try:
            if not crypto.needs_rotation(channel.config_encrypted):
                continue
            channel.config_encrypted = crypto.rotate(channel.config_encrypted)
        except crypto.DecryptionError:
            continue
        channel.save(update_fields=["config_encrypted"])
        changed += 1
    return changed


# ---------------------------------------------------------------- delivery through Apprise


def notifier(channel_type: str, config: dict, *, idempotency_key: str | None = None, **common):
    """The Apprise notifier of these (cleaned) settings. `common` goes to every plugin
    (asset, cto/rto timeouts); webhook requests carry `X-MediKeep-Delivery: <key>`."""
    from notifications import sending  # noqa: F401  (installs the filter on Apprise's logs)

    config = validate_config(channel_type, config)
    return _BUILDERS[channel_type](config, idempotency_key, common)


def apprise_url(channel_type: str, config: dict) -> str:
    """The Apprise URL of these settings: it holds secrets, never show or log it."""
    return notifier(channel_type, config).url()


def _host_for(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _server(url: str) -> dict:
    parts = urlsplit(url)
    return {
        "host": _host_for(parts.hostname),
        "port": parts.port,
        "secure": parts.scheme.lower() == "https",
        "schema": parts.scheme.lower(),
    }


def _email(config, key, common):
    from apprise.plugins.email import NotifyEmail

    port = config["smtp_port"]
    # use_tls: implicit TLS on 465 (SMTPS), STARTTLS on any other port.
    mode = ("ssl" if port == 465 else "starttls") if config["use_tls"] else "insecure"
    user = config.get("smtp_user")
    return NotifyEmail(
        smtp_host=config["smtp_host"],
        host=config["smtp_host"],
        port=port,
        user=quote(user, safe="") if user else None,
        password=quote(config.get("smtp_password", ""), safe="") or None,
        from_addr=config["from_email"],
        targets=[config["to_email"]],
        secure_mode=mode,
        secure=mode != "insecure",
        schema="mailtos" if mode != "insecure" else "mailto",
        **common,
    )


def _telegram(config, key, common):
    from apprise.plugins.telegram import NotifyTelegram

    return NotifyTelegram(
        bot_token=config["bot_token"],
        targets=[config["chat_id"]],
        detect_owner=False,
        include_image=False,
        **common,
    )


def _discord(config, key, common):
    from apprise.plugins.discord import NotifyDiscord

    found = _DISCORD.fullmatch(config["webhook_url"])
    return NotifyDiscord(
        webhook_id=found["id"],
        webhook_token=found["token"],
        avatar=False,
        footer=False,
        include_image=False,
        **common,
    )


def _slack(config, key, common):
    from apprise.plugins.slack import NotifySlack

    found = _SLACK.fullmatch(config["webhook_url"])
    return NotifySlack(
        token_a=found["a"],
        token_b=found["b"],
        token_c=found["c"],
        mode="hook",
        include_image=False,
        include_footer=False,
        **common,
    )


def _pushover(config, key, common):
    from apprise.plugins.pushover import NotifyPushover

    return NotifyPushover(user_key=config["user_key"], token=config["api_token"], **common)


def _webhook(config, key, common):
    from apprise.plugins.custom_json import NotifyJSON

    parts = urlsplit(config["url"])
    headers = {}
    if config.get("auth_token"):
        headers["Authorization"] = f"Bearer {config['auth_token']}"
    if key:
        headers["X-MediKeep-Delivery"] = key
    return NotifyJSON(
        **_server(config["url"]),
        fullpath=parts.path or "/",
        params=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        method=config["method"],
        **common,
    )


def _ntfy(config, key, common):
    from apprise.plugins.ntfy import NotifyNtfy

    token = config.get("auth_token")
    return NotifyNtfy(
        **_server(config["server_url"]),
        targets=[config["topic"]],
        mode="private",
        auth="token" if token else "basic",
        token=token,
        priority=str(config["priority"]) if config.get("priority") else None,
        include_image=False,
        **common,
    )


def _gotify(config, key, common):
    from apprise.plugins.gotify import NotifyGotify

    path = urlsplit(config["server_url"]).path.rstrip("/") + "/"
    sender = NotifyGotify(
        **_server(config["server_url"]),
        token=config["app_token"],
        fullpath=path,
        **common,
    )
    sender.priority = config["priority"]  # Apprise would round 0–10 to its five levels
    return sender


_BUILDERS = {
    ChannelType.EMAIL: _email,
    ChannelType.TELEGRAM: _telegram,
    ChannelType.DISCORD: _discord,
    ChannelType.SLACK: _slack,
    ChannelType.WEBHOOK: _webhook,
    ChannelType.PUSHOVER: _pushover,
    ChannelType.NTFY: _ntfy,
    ChannelType.GOTIFY: _gotify,
}
