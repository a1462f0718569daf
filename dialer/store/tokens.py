"""Bearer tokens of the HTTP API: made once and shown once (`dialer token create`), kept only
as a digest. A token reads `dlr_<id>.<secret>`: the id finds its row, and the secret's SHA-256
digest is compared with the one kept, in constant time. A secret of 256 random bits needs no
slow hash: nothing but the token itself gives its digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dialer.store.availability import rides_out_outages
from dialer.store.base import StoreBase
from dialer.store.schema import api_tokens

TOKEN_PREFIX = "dlr_"  # noqa: S105 (the public prefix of every token, no secret)


class TokenExistsError(Exception):
    """A token of that name exists already (revoke it first, or choose another name)."""


@dataclass(frozen=True)
class ApiToken:
    """A token as the store keeps it: never its secret."""

    name: str
    read_only: bool
    created_at: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parts(token: str) -> tuple[str, str] | None:
    """(id, secret) of a token as `dlr_<id>.<secret>` is written; None for anything else."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    token_id, dot, secret = token[len(TOKEN_PREFIX) :].partition(".")
    if not dot or not token_id or not secret or len(token_id) > 16:
        return None
    return token_id, secret


class TokenQueries(StoreBase):
    @rides_out_outages
    async def create_token(self, name: str, *, read_only: bool) -> str:
        """A new token named `name`: returned once (only its digest is kept)."""
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        try:
            async with self.transaction() as conn:
                await conn.execute(
                    api_tokens.insert().values(
                        id=token_id,
                        name=name,
                        secret_sha256=_digest(secret),
                        read_only=read_only,
                        created_at=await self.now(conn),
                    )
                )
        except IntegrityError:
            raise TokenExistsError(name) from None
        return f"{TOKEN_PREFIX}{token_id}.{secret}"

    @rides_out_outages
    async def tokens(self) -> list[ApiToken]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(api_tokens.c.name, api_tokens.c.read_only, api_tokens.c.created_at).order_by(
                    api_tokens.c.name
                )
            )
            return [ApiToken(r.name, bool(r.read_only), r.created_at) for r in rows]

    @rides_out_outages
    async def revoke_token(self, name: str) -> bool:
        """The token named `name` is refused from now on; False when there is none."""
        async with self.transaction() as conn:
            gone = await conn.execute(api_tokens.delete().where(api_tokens.c.name == name))
            return bool(gone.rowcount)

    @rides_out_outages
    async def token_holder(self, token: str) -> ApiToken | None:
        """Who holds `token`, or None when it is no token of this store (or was revoked)."""
        parts = _parts(token)
        if parts is None:
            return None
        token_id, secret = parts
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        api_tokens.c.name,
                        api_tokens.c.secret_sha256,
                        api_tokens.c.read_only,
                        api_tokens.c.created_at,
                    ).where(api_tokens.c.id == token_id)
                )
            ).one_or_none()
        if row is None or not hmac.compare_digest(row.secret_sha256, _digest(secret)):
            return None
        return ApiToken(row.name, bool(row.read_only), row.created_at)
