"""Token verification, the permission tables' coverage, row-level rules and the
command line's credentials, without starting a service."""

import base64
import hashlib
import hmac
import importlib
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from crm_cli.auth import caller_token, dev_auth_environment
from crm_cli.main import build_parser
from crm_common.auth.interceptor import bearer_token
from crm_common.auth.principal import Principal, acting_as, current_principal
from crm_common.auth.roles import (
    ADMIN,
    READ_ONLY,
    ROLE_PERMISSIONS,
    SALES,
    SALES_MANAGER,
    SUPPORT_AGENT,
    Permission,
    by_method_path,
)
from crm_common.auth.tokens import (
    LEEWAY_SECONDS,
    AuthConfigError,
    AuthenticationError,
    TokenVerifier,
    VerificationKey,
    mint_token,
    new_dev_secret,
    verifier_from_settings,
)
from crm_common.config import SuiteSettings
from crm_common.errors import PermissionDenied
from crm_common.filtering import And, Comparison, Op, Or
from crm_sales.domain.opportunities import OpportunityDetails, OpportunityDraft
from crm_sales.handlers.ownership import check_owner_change, owned_draft
from crm_support.domain.access import EVERY_TICKET, TicketAccess

SERVICES = ("contacts", "sales", "projects", "support")
ISSUER, AUDIENCE = "https://id.example", "crm"


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "ada",
        "roles": [SALES],
        "exp": now + 60,
        "jti": "t1",
        **overrides,
    }


# --- the permission tables ---------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_rpc_of_every_service_has_exactly_one_permission_entry(service: str) -> None:
    spec = importlib.import_module(f"crm_{service}.main").SPEC
    served = {
        f"/{grpc_service.descriptor.full_name}/{method.name}"
        for grpc_service in spec.services
        for method in grpc_service.descriptor.methods
    }
    table = by_method_path(spec.permissions)
    assert sorted(served - set(table)) == [], "RPCs nobody may call: add them to the table"
    assert sorted(set(table) - served) == [], "entries for RPCs that do not exist"


def test_admin_holds_every_permission_and_read_only_no_write() -> None:
    assert ROLE_PERMISSIONS[ADMIN] == frozenset(Permission)
    assert all(p.endswith((".read", ".all_tickets")) for p in ROLE_PERMISSIONS[READ_ONLY])


# --- tokens --------------------------------------------------------------------------


def hs256_verifier(secret: str) -> TokenVerifier:
    return TokenVerifier([VerificationKey(secret.encode(), "HS256")], ISSUER, AUDIENCE)


def test_a_valid_token_gives_its_principal() -> None:
    secret = new_dev_secret()
    principal = hs256_verifier(secret).verify(
        mint_token(
            secret, "ada", [SALES, "service"], issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60
        )
    )
    assert (principal.subject, principal.roles, principal.kind) == (
        "ada",
        frozenset({SALES, "service"}),
        "service",
    )
    assert principal.token_id


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
        ({"aud": "other"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": None}, "'exp'"),
        ({"sub": None}, "'sub'"),
        ({"roles": "admin"}, "roles"),
    ],
)
def test_a_token_failing_a_claim_check_is_refused(overrides: dict, reason: str) -> None:
    secret = new_dev_secret()
    body = {k: v for k, v in claims(**overrides).items() if v is not None}
    with pytest.raises(AuthenticationError, match=reason):
        hs256_verifier(secret).verify(jwt.encode(body, secret, algorithm="HS256"))


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    secret = new_dev_secret()
    verifier = hs256_verifier(secret)
    # Valid, the leeway included, for one to two more seconds (whole-second claims).
    issued = time.time() - LEEWAY_SECONDS - 60 + 2
    token = mint_token(
        secret, "ada", [SALES], issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60, now=issued
    )
    assert verifier.verify(token).subject == "ada"
    assert verifier.verify(token).subject == "ada"  # remembered
    time.sleep(2.1)
    with pytest.raises(AuthenticationError, match="expired"):
        verifier.verify(token)


def test_a_token_signed_otherwise_or_not_at_all_is_refused() -> None:
    secret = new_dev_secret()
    verifier = hs256_verifier(secret)
    with pytest.raises(AuthenticationError, match="signature"):
        verifier.verify(jwt.encode(claims(), new_dev_secret(), algorithm="HS256"))
    with pytest.raises(AuthenticationError, match="algorithm"):
        verifier.verify(jwt.encode(claims(), None, algorithm="none"))
    with pytest.raises(AuthenticationError, match="well-formed"):
        verifier.verify("abc")


def write_public_key(path: Path, private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
    path.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def test_rs256_public_key_file_verifies_and_refuses_an_hs256_token_signed_with_it(
    tmp_path: Path,
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "public.pem"
    write_public_key(key_file, private)
    settings = SuiteSettings(
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
        auth_public_key_file=str(key_file),
        auth_dev_secret="",  # the tests' environment has one
    )
    verifier = verifier_from_settings(settings)
    assert verifier.verify(jwt.encode(claims(), private, algorithm="RS256")).subject == "ada"
    # The classic confusion: the public key used as an HS256 secret.
    with pytest.raises(AuthenticationError, match="algorithm"):
        verifier.verify(hs256_by_hand(claims(), key_file.read_bytes()))


def hs256_by_hand(body: dict[str, object], secret: bytes) -> str:
    """What PyJWT itself refuses to sign: HS256 with a PEM key as the secret."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{part(json.dumps(body).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def test_a_jwks_file_verifies_es256_tokens_by_key_id(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}))
    settings = SuiteSettings(auth_issuer=ISSUER, auth_audience=AUDIENCE, auth_jwks_file=str(jwks))
    verifier = verifier_from_settings(settings)
    signed = jwt.encode(claims(), private, algorithm="ES256", headers={"kid": "k1"})
    assert verifier.verify(signed).roles == frozenset({SALES})
    unknown = jwt.encode(claims(), private, algorithm="ES256", headers={"kid": "k2"})
    with pytest.raises(AuthenticationError, match="key"):
        verifier.verify(unknown)


def test_settings_that_cannot_work_stop_the_service() -> None:
    with pytest.raises(AuthConfigError, match="no key"):
        verifier_from_settings(SuiteSettings(auth_dev_mode=False, auth_dev_secret=""))
    with pytest.raises(AuthConfigError, match="DEV_MODE"):
        verifier_from_settings(SuiteSettings(auth_dev_mode=False, auth_dev_secret="x" * 40))
    with pytest.raises(AuthConfigError, match="at least"):
        verifier_from_settings(SuiteSettings(auth_dev_mode=True, auth_dev_secret="short"))


def test_the_bearer_token_comes_from_one_authorization_entry() -> None:
    assert bearer_token([("authorization", "Bearer abc.def.ghi")]) == "abc.def.ghi"
    assert bearer_token([("authorization", "bearer  abc ")]) == "abc"
    for metadata in (
        [],
        [("authorization", "Basic abc")],
        [("authorization", "Bearer ")],
        [("authorization", "Bearer a"), ("authorization", "Bearer b")],
    ):
        with pytest.raises(AuthenticationError) as refused:
            bearer_token(metadata)
        assert "abc" not in str(refused.value)


def test_the_current_principal_is_set_only_inside_the_call() -> None:
    ada = Principal("ada", frozenset({SALES}), "user")
    assert current_principal() is None
    with acting_as(ada):
        assert current_principal() == ada
    assert current_principal() is None


# --- row-level rules ----------------------------------------------------------------


def test_an_agents_ticket_access_narrows_any_filter_to_their_groups() -> None:
    access = TicketAccess(agent="agents/ada", groups=frozenset({"groups/b", "groups/a"}))
    mine = Or(
        (
            Comparison("group", Op.EQ, "groups/a"),
            Comparison("group", Op.EQ, "groups/b"),
            Comparison("assignee", Op.EQ, "agents/ada"),
        )
    )
    asked = Comparison("status", Op.EQ, "OPEN")
    assert access.restrict(None) == mine
    assert access.restrict(asked) == And((asked, mine))
    assert EVERY_TICKET.restrict(asked) is asked
    assert access.allows_group("groups/a") and not access.allows_group("groups/c")


def test_a_salesperson_creates_and_changes_only_their_own_deals() -> None:
    ada = Principal("ada", frozenset({SALES}))
    boss = Principal("max", frozenset({SALES_MANAGER}))
    draft = OpportunityDraft(OpportunityDetails(display_name="Engine"), "pipelines/p")
    assert owned_draft(ada, draft).details.owner == "ada"
    theirs = OpportunityDraft(OpportunityDetails(owner="bob"), "pipelines/p")
    with pytest.raises(PermissionDenied):
        owned_draft(ada, theirs)
    assert owned_draft(boss, theirs).details.owner == "bob"
    with pytest.raises(PermissionDenied):
        check_owner_change(ada, {"owner": "bob"})
    check_owner_change(boss, {"owner": "bob"})
    assert not Principal("x", frozenset({SUPPORT_AGENT})).may(Permission.SALES_READ)


# --- the command line ---------------------------------------------------------------


def test_crm_takes_its_token_from_the_env_then_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert caller_token({"CRM_TOKEN": "from-env", "CRM_TOKEN_FILE": str(token_file)}) == "from-env"
    assert caller_token({"CRM_TOKEN_FILE": str(token_file)}) == "from-file"
    assert caller_token({"CRM_TOKEN_FILE": str(tmp_path / "missing")}) == ""


def test_crm_up_keeps_one_dev_secret_and_leaves_real_keys_alone(tmp_path: Path) -> None:
    first = dev_auth_environment(tmp_path, {})
    secret_file = Path(first["CRM_AUTH_DEV_SECRET_FILE"])
    secret = secret_file.read_text()
    assert first["CRM_AUTH_DEV_MODE"] == "true" and len(secret.strip()) >= 32
    assert secret_file.stat().st_mode & 0o077 == 0
    assert dev_auth_environment(tmp_path, {}) == first
    assert secret_file.read_text() == secret
    assert dev_auth_environment(tmp_path, {"CRM_AUTH_JWKS_FILE": "/keys/jwks.json"}) == {}


def test_crm_dev_token_mints_a_token_the_services_accept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CRM_AUTH_DEV_SECRET", "CRM_AUTH_DEV_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    command = ["dev", "token", "--role", "agent", "--sub", "alice", "--ttl", "30m"]
    args = build_parser().parse_args([*command, "--var-dir", str(tmp_path)])
    assert args.func(args) == 0
    minted = capsys.readouterr().out.strip()
    env = dev_auth_environment(tmp_path, {})
    settings = SuiteSettings(
        auth_dev_mode=True, auth_dev_secret_file=env["CRM_AUTH_DEV_SECRET_FILE"]
    )
    principal = verifier_from_settings(settings).verify(minted)
    assert (principal.subject, principal.roles) == ("alice", frozenset({SUPPORT_AGENT}))
