"""Named operators (DESIGN section 10): who they are, their passwords, API tokens and sessions.

Credentials, and why each is stored as it is:
- Passwords are people's choices, or are typed by people: argon2id (argon2-cffi, with OWASP's
  parameters: 19 MiB, 2 passes, 1 lane, about 50 ms here), salted, its parameters in the encoded
  hash so they can be raised later (`needs_rehash`). Checking one runs in a thread, off the event
  loop.
- API tokens and console session ids are 32 random bytes made here: 256 bits cannot be guessed
  or brute-forced, so a slow, salted hash adds nothing but cost on every request, and a salt would
  stop finding the row by its hash. They are kept as SHA-256 (a unique key: one index lookup);
  a stolen table does not give working tokens.

Every change an owner makes (operator added, token issued or revoked, password reset) writes an
audit entry (retailer NULL) in the same transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.phone import InvalidPhone, looks_like_phone, normalize_phone
from bot.roles import Caller, Role, operator_caller
from bot.text import is_digits
from db.audit import insert_audit
from db.errors import Conflict, NotFound, Unprocessable
from db.pool import Conn

MAX_NAME = 64
MAX_LABEL = 100
MIN_PASSWORD = 12
MAX_PASSWORD = 200
TOKEN_PREFIX = "kco_"  # noqa: S105 - a marker that says what the secret is, not one
# last_used_at is written at most this often per token (a write on every request would be a
# write per API call).
LAST_USED_EVERY = timedelta(minutes=1)

_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


# --- names, phones, secrets ------------------------------------------------------------------


def name_key(name: str) -> str:
    """The form names are compared in (unique in the table): NFKC, casefolded."""
    return unicodedata.normalize("NFKC", name).casefold()


def clean_name(raw: str) -> str:
    """An operator's name as stored; Unprocessable when it cannot be one.

    A name has a letter in it (so it never reads as a phone number or an id at sign-in), no
    control characters, and at most 64 characters.
    """
    name = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not name:
        raise Unprocessable("INVALID_FIELD", "name is required")
    if len(name) > MAX_NAME:
        raise Unprocessable("INVALID_FIELD", f"name is longer than {MAX_NAME} characters")
    if not any(ch.isalpha() for ch in name):
        raise Unprocessable("INVALID_FIELD", "name must contain a letter")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise Unprocessable("INVALID_FIELD", "name must not contain control characters")
    return name


def clean_role(raw: object) -> Role:
    try:
        return Role(str(raw).strip().lower())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise Unprocessable("INVALID_FIELD", f"role must be one of {roles}") from None


def clean_phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise Unprocessable("INVALID_FIELD", "phone is not a valid phone number") from None


def phone_or_none(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except InvalidPhone:
        return None


def new_password() -> str:
    """A generated password: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Unprocessable(
            "INVALID_FIELD", f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    """argon2id check (about 50 ms of CPU); never raises for a wrong or malformed hash."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(12))


async def check_password(stored_hash: str | None, password: str) -> bool:
    """`password_matches` in a thread. With no hash (no such operator) a dummy hash is checked
    anyway, so an unknown name takes as long to refuse as a wrong password."""
    if len(password) > MAX_PASSWORD:
        return False
    return await asyncio.to_thread(password_matches, stored_hash or _dummy_hash(), password)


def secret_hash(secret: str) -> bytes:
    """SHA-256 of a generated token or session id (see the module docstring for why not argon2)."""
    return hashlib.sha256(secret.encode()).digest()


# --- operators --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    id: int
    name: str
    role: Role
    phone: str | None
    active: bool
    created_at: datetime

    @property
    def caller(self) -> Caller:
        return operator_caller(self.id, self.name, self.role)


@dataclass(frozen=True)
class OperatorSummary:
    operator: Operator
    active_tokens: int
    last_token_use: datetime | None


_COLUMNS = "o.id, o.name, o.role, o.phone, o.active, o.created_at"


def _operator(r: asyncpg.Record) -> Operator:
    return Operator(
        id=r["id"],
        name=r["name"],
        role=Role(r["role"]),
        phone=r["phone"],
        active=r["active"],
        created_at=r["created_at"],
    )


async def create_operator(
    conn: Conn,
    *,
    name: str,
    role: Role,
    phone: str | None,
    password: str,
    performed_by: str,
    now: datetime,
) -> Operator:
    """Add an operator (name and phone already cleaned). Conflict when the name (in any case)
    or the phone belongs to another operator, or the phone to a retailer."""
    password_hash = await asyncio.to_thread(hash_password, password)
    async with conn.transaction():
        if phone is not None and await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM retailers WHERE phone = $1)", phone
        ):
            # A retailer's messages are the retailer's (the webhook looks for an operator only
            # when the number is not a retailer's), so this number could never send commands.
            raise Conflict("PHONE_IS_A_RETAILERS", "this phone number belongs to a retailer")
        try:
            row = await conn.fetchrow(
                f"""INSERT INTO operators AS o (name, name_key, role, phone, password_hash,
                        created_at, updated_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {_COLUMNS}""",
                name,
                name_key(name),
                role.value,
                phone,
                password_hash,
                now,
            )
        except asyncpg.UniqueViolationError as exc:
            what = "phone" if "phone" in (exc.constraint_name or "") else "name"
            raise Conflict(
                "OPERATOR_EXISTS", f"an operator with this {what} already exists"
            ) from None
        assert row is not None
        operator = _operator(row)
        await insert_audit(
            conn,
            retailer_id=None,
            action="OPERATOR_CREATED",
            reference=f"operator:{operator.id}",
            new_value={"name": name, "role": role.value, "phone": phone},
            performed_by=performed_by,
            at=now,
        )
    return operator


async def get_operator(conn: Conn, operator_id: int) -> Operator | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM operators o WHERE o.id = $1", operator_id)
    return _operator(row) if row else None


async def find_operator(conn: Conn, ref: str) -> Operator | None:
    """An operator by name (any case), id or phone number (a name always has a letter)."""
    text = ref.strip()
    if any(ch.isalpha() for ch in text):
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM operators o WHERE o.name_key = $1", name_key(text)
        )
    elif is_digits(text) and not looks_like_phone(text) and len(text) <= 18:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM operators o WHERE o.id = $1", int(text))
    else:
        phone = phone_or_none(text)
        row = None
        if phone is not None:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM operators o WHERE o.phone = $1", phone
            )
    return _operator(row) if row else None


async def get_active_operator_by_phone(conn: Conn, phone: str) -> Operator | None:
    """The active operator whose WhatsApp number this is (admin commands), or None."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM operators o WHERE o.phone = $1 AND o.active", phone
    )
    return _operator(row) if row else None


async def get_login(conn: Conn, login: str) -> tuple[Operator, str] | None:
    """An active operator and their password hash, by name (any case) or phone; for sign-in."""
    phone = phone_or_none(login) if any(ch.isdigit() for ch in login) else None
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS}, o.password_hash FROM operators o
            WHERE o.active AND (o.name_key = $1 OR ($2::text IS NOT NULL AND o.phone = $2))
            ORDER BY o.name_key = $1 DESC LIMIT 1""",
        name_key(login.strip()),
        phone,
    )
    return (_operator(row), row["password_hash"]) if row else None


async def list_operators(conn: Conn) -> list[OperatorSummary]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS},
                   count(t.id) FILTER (WHERE t.revoked_at IS NULL) AS active_tokens,
                   max(t.last_used_at) AS last_token_use
            FROM operators o LEFT JOIN operator_tokens t ON t.operator_id = o.id
            GROUP BY o.id ORDER BY o.name_key"""
    )
    return [OperatorSummary(_operator(r), r["active_tokens"], r["last_token_use"]) for r in rows]


async def set_password(
    conn: Conn, operator_id: int, password: str, *, performed_by: str, now: datetime
) -> None:
    """A new password; every console session of the operator ends."""
    check_password_rules(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with conn.transaction():
        done = await conn.fetchval(
            """UPDATE operators SET password_hash = $2, updated_at = $3 WHERE id = $1
               RETURNING id""",
            operator_id,
            password_hash,
            now,
        )
        if done is None:
            raise NotFound("OPERATOR_NOT_FOUND", f"no operator {operator_id}")
        await conn.execute("DELETE FROM operator_sessions WHERE operator_id = $1", operator_id)
        await insert_audit(
            conn,
            retailer_id=None,
            action="OPERATOR_PASSWORD_SET",
            reference=f"operator:{operator_id}",
            performed_by=performed_by,
            at=now,
        )


async def rehash_password(conn: Conn, operator_id: int, password: str) -> None:
    """Store the password again with today's parameters (after a successful sign-in)."""
    password_hash = await asyncio.to_thread(hash_password, password)
    await conn.execute(
        "UPDATE operators SET password_hash = $2 WHERE id = $1", operator_id, password_hash
    )


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


# --- API tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    id: int
    operator_id: int
    token: str  # shown once, never stored


@dataclass(frozen=True)
class TokenView:
    id: int
    operator_id: int
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def issue_token(
    conn: Conn, operator_id: int, *, label: str, performed_by: str, now: datetime
) -> IssuedToken:
    """A new API token for an operator; the token itself is returned once."""
    label = label.strip()
    if len(label) > MAX_LABEL:
        raise Unprocessable("INVALID_FIELD", f"label is longer than {MAX_LABEL} characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with conn.transaction():
        active = await conn.fetchval("SELECT active FROM operators WHERE id = $1", operator_id)
        if active is None:
            raise NotFound("OPERATOR_NOT_FOUND", f"no operator {operator_id}")
        if not active:
            raise Conflict("OPERATOR_INACTIVE", f"operator {operator_id} is not active")
        token_id: int = await conn.fetchval(
            """INSERT INTO operator_tokens (operator_id, token_hash, label, created_at)
               VALUES ($1, $2, $3, $4) RETURNING id""",
            operator_id,
            secret_hash(token),
            label,
            now,
        )
        await insert_audit(
            conn,
            retailer_id=None,
            action="OPERATOR_TOKEN_ISSUED",
            reference=f"operator:{operator_id}",
            new_value={"tokenId": token_id, "label": label},
            performed_by=performed_by,
            at=now,
        )
    return IssuedToken(id=token_id, operator_id=operator_id, token=token)


async def revoke_token(
    conn: Conn,
    token_id: int,
    *,
    performed_by: str,
    now: datetime,
    operator_id: int | None = None,
) -> TokenView:
    """Revoke a token (of `operator_id` when given); NotFound when there is no such token.
    Revoking a revoked token changes nothing and answers it as it is."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """WITH before AS (
                   SELECT id, revoked_at FROM operator_tokens
                   WHERE id = $1 AND ($3::bigint IS NULL OR operator_id = $3) FOR UPDATE
               )
               UPDATE operator_tokens t SET revoked_at = coalesce(t.revoked_at, $2)
               FROM before b WHERE t.id = b.id
               RETURNING t.id, t.operator_id, t.label, t.created_at, t.last_used_at,
                         t.revoked_at, b.revoked_at IS NULL AS now_revoked""",
            token_id,
            now,
            operator_id,
        )
        if row is None:
            raise NotFound("TOKEN_NOT_FOUND", f"no token {token_id}")
        if row["now_revoked"]:
            await insert_audit(
                conn,
                retailer_id=None,
                action="OPERATOR_TOKEN_REVOKED",
                reference=f"operator:{row['operator_id']}",
                new_value={"tokenId": token_id},
                performed_by=performed_by,
                at=now,
            )
    return TokenView(
        id=row["id"],
        operator_id=row["operator_id"],
        label=row["label"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


async def list_tokens(conn: Conn, operator_id: int) -> list[TokenView]:
    rows = await conn.fetch(
        """SELECT id, operator_id, label, created_at, last_used_at, revoked_at
           FROM operator_tokens WHERE operator_id = $1 ORDER BY id""",
        operator_id,
    )
    return [TokenView(**dict(r)) for r in rows]


async def authenticate_token(conn: Conn, token: str, now: datetime) -> Operator | None:
    """The active operator a bearer token belongs to (not revoked), or None; notes its use."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS}, t.id AS token_id, t.last_used_at
            FROM operator_tokens t JOIN operators o ON o.id = t.operator_id
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND o.active""",
        secret_hash(token),
    )
    if row is None:
        return None
    last = row["last_used_at"]
    if last is None or now - last >= LAST_USED_EVERY:
        await conn.execute(
            "UPDATE operator_tokens SET last_used_at = $2 WHERE id = $1", row["token_id"], now
        )
    return _operator(row)


# --- console sessions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    id: int
    operator: Operator
    csrf_token: str
    flash: str | None
    expires_at: datetime


async def start_session(
    conn: Conn, operator_id: int, *, now: datetime, lifetime: timedelta
) -> tuple[str, Session]:
    """A new session (a new random id every sign-in: a session id known before signing in is
    never the one after). Returns the raw id for the cookie and the session. Expired sessions
    are swept here, so the table does not grow."""
    raw = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    async with conn.transaction():
        await conn.execute("DELETE FROM operator_sessions WHERE expires_at < $1", now)
        row = await conn.fetchrow(
            """INSERT INTO operator_sessions (operator_id, session_hash, csrf_token, created_at,
                   expires_at)
               VALUES ($1, $2, $3, $4, $5) RETURNING id, expires_at""",
            operator_id,
            secret_hash(raw),
            csrf,
            now,
            now + lifetime,
        )
        operator = await get_operator(conn, operator_id)
    assert row is not None and operator is not None
    return raw, Session(row["id"], operator, csrf, None, row["expires_at"])


async def get_session(conn: Conn, raw: str, now: datetime) -> Session | None:
    """The live session with this id, of an active operator; None otherwise."""
    row = await conn.fetchrow(
        f"""SELECT s.id AS session_id, s.csrf_token, s.flash, s.expires_at, {_COLUMNS}
            FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
            WHERE s.session_hash = $1 AND s.expires_at > $2 AND o.active""",
        secret_hash(raw),
        now,
    )
    if row is None:
        return None
    return Session(
        row["session_id"], _operator(row), row["csrf_token"], row["flash"], row["expires_at"]
    )


async def end_session(conn: Conn, raw: str) -> None:
    await conn.execute("DELETE FROM operator_sessions WHERE session_hash = $1", secret_hash(raw))


async def set_flash(conn: Conn, session_id: int, message: str) -> None:
    await conn.execute(
        "UPDATE operator_sessions SET flash = $2 WHERE id = $1", session_id, message[:500]
    )


async def clear_flash(conn: Conn, session_id: int) -> None:
    await conn.execute(
        "UPDATE operator_sessions SET flash = NULL WHERE id = $1 AND flash IS NOT NULL", session_id
    )
