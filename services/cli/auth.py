"""Credentials on the command line: the token `crm` sends, the dev secret
`crm up` signs with, and `crm dev token` to mint more.

`crm` sends the token in $CRM_TOKEN, else the one in the file $CRM_TOKEN_FILE
names, else ~/.config/crm/token if there is one. Locally, `crm up` keeps an
HS256 dev secret under VAR_DIR/auth (made on first start, reused after),
runs the services in dev mode against it and prints an admin token.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from crm_common.auth.roles import ADMIN, ROLES
from crm_common.auth.tokens import (
    AuthConfigError,
    dev_secret_from_settings,
    mint_token,
    new_dev_secret,
)
from crm_common.config import SuiteSettings

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

TOKEN_ENV = "CRM_TOKEN"
TOKEN_FILE_ENV = "CRM_TOKEN_FILE"
DEFAULT_TOKEN_FILE = Path("~/.config/crm/token")
DEV_SECRET_FILE = Path("auth") / "dev-secret"
DEFAULT_TTL = "8h"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def caller_token(env: Mapping[str, str] = os.environ) -> str:
    """The token `crm` calls with; "" when none is configured."""
    if env.get(TOKEN_ENV):
        return env[TOKEN_ENV].strip()
    path = Path(env[TOKEN_FILE_ENV]) if env.get(TOKEN_FILE_ENV) else None
    path = path or DEFAULT_TOKEN_FILE.expanduser()
    try:
        return path.read_text().strip()
    except OSError:
        return ""


# ----------------------------------------------------------------- crm up


def dev_auth_environment(var_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """What `crm up` adds to the services' environment so tokens can be checked.

    Real keys, if configured, are left alone; otherwise dev mode with the dev
    secret from the environment or VAR_DIR/auth/dev-secret (made if missing).
    """
    if env.get("CRM_AUTH_PUBLIC_KEY_FILE") or env.get("CRM_AUTH_JWKS_FILE"):
        return {}
    added = {"CRM_AUTH_DEV_MODE": "true"}
    if not (env.get("CRM_AUTH_DEV_SECRET") or env.get("CRM_AUTH_DEV_SECRET_FILE")):
        added["CRM_AUTH_DEV_SECRET_FILE"] = str(dev_secret_file(var_dir))
    return added


def dev_secret_file(var_dir: Path) -> Path:
    """VAR_DIR/auth/dev-secret, made (readable by its owner only) if missing."""
    path = var_dir / DEV_SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(new_dev_secret() + "\n")
    return path


def dev_credentials(env: Mapping[str, str]) -> str:
    """The start-up banner's credentials: an admin token and how to mint others."""
    settings = SuiteSettings(**_settings_overrides(env))
    secret = dev_secret_from_settings(settings)
    if not secret:
        return "Tokens: the services check tokens against the configured keys (no dev secret).\n"
    token = mint_token(
        secret,
        "dev-admin",
        [ADMIN],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl_seconds=_seconds(DEFAULT_TTL),
    )
    return (
        f"Dev credentials (local only; expire in {DEFAULT_TTL}):\n"
        f"  export {TOKEN_ENV}={token}\n"
        "  crm dev token --role sales --sub alice    # a token for another role\n"
        f"  roles: {', '.join(ROLES)}\n"
    )


def _settings_overrides(env: Mapping[str, str]) -> dict[str, str]:
    """SuiteSettings fields from `env` (the children's environment, not ours)."""
    fields = SuiteSettings.model_fields
    return {
        key.removeprefix("CRM_").lower(): value
        for key, value in env.items()
        if key.startswith("CRM_") and key.removeprefix("CRM_").lower() in fields
    }


# ----------------------------------------------------------------- crm dev token


def add_token_command(commands: Subparsers) -> None:
    token = commands.add_parser(
        "token",
        help="mint a token against the local dev secret",
        description=(
            "Prints a token signed with the dev secret (CRM_AUTH_DEV_SECRET[_FILE], else "
            "VAR_DIR/auth/dev-secret as `crm up` keeps it). Use: export CRM_TOKEN=$(crm dev token)."
        ),
    )
    token.add_argument(
        "--role",
        action="append",
        choices=[*ROLES, "agent", "supervisor"],
        help="a role of the token (repeatable; default admin). "
        "agent and supervisor stand for support_agent and support_supervisor",
    )
    token.add_argument("--sub", default="dev-user", help="the subject (default dev-user)")
    token.add_argument("--ttl", default=DEFAULT_TTL, help="lifetime, e.g. 30m, 8h, 2d")
    token.add_argument("--var-dir", default="var", metavar="DIR", help="as for `crm up`")
    token.set_defaults(func=mint)


_ROLE_ALIASES = {"agent": "support_agent", "supervisor": "support_supervisor"}


def mint(args: argparse.Namespace) -> int:
    try:
        ttl = _seconds(args.ttl)
    except ValueError as error:
        print(f"crm dev token: {error}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.update(dev_auth_environment(Path(args.var_dir), env))
    try:
        settings = SuiteSettings(**_settings_overrides(env))
        secret = dev_secret_from_settings(settings)
    except AuthConfigError as error:
        print(f"crm dev token: {error}", file=sys.stderr)
        return 1
    if not secret:
        print(
            "crm dev token: real keys are configured; no dev secret to sign with", file=sys.stderr
        )
        return 1
    roles = [_ROLE_ALIASES.get(role, role) for role in args.role or [ADMIN]]
    print(
        mint_token(
            secret,
            args.sub,
            roles,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            ttl_seconds=ttl,
        )
    )
    return 0


def _seconds(ttl: str) -> float:
    text = ttl.strip().lower()
    unit = _UNITS.get(text[-1:]) if text else None
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise ValueError(f"--ttl {ttl!r}: use a number with s, m, h or d, e.g. 8h") from None
    if seconds <= 0:
        raise ValueError(f"--ttl {ttl!r} must be positive")
    return seconds
