"""OAuth: the authorization flow, token sessions and connection management."""

from atom_hubspot.oauth.connections import ConnectionInfo, ConnectionManager
from atom_hubspot.oauth.flow import (
    AuthorizeStart,
    OAuthCodeRejected,
    OAuthDenied,
    OAuthFlow,
    OAuthStateForeign,
    OAuthStateInvalid,
)
from atom_hubspot.oauth.session import TokenSession, TokenStore

__all__ = [
    "AuthorizeStart",
    "ConnectionInfo",
    "ConnectionManager",
    "OAuthCodeRejected",
    "OAuthDenied",
    "OAuthFlow",
    "OAuthStateForeign",
    "OAuthStateInvalid",
    "TokenSession",
    "TokenStore",
]
