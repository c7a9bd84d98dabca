"""OAuth: the authorization flow, token sessions and connection management."""

from atom_hubspot.oauth.connections import ConnectionInfo, ConnectionManager
from atom_hubspot.oauth.flow import (
    AuthorizeStart,
    CompletedConnection,
    OAuthCodeRejected,
    OAuthDenied,
    OAuthFlow,
    OAuthSignInRequired,
    OAuthStateForeign,
    OAuthStateInvalid,
)
from atom_hubspot.oauth.session import TokenSession, TokenStore

__all__ = [
    "AuthorizeStart",
    "CompletedConnection",
    "ConnectionInfo",
    "ConnectionManager",
    "OAuthCodeRejected",
    "OAuthDenied",
    "OAuthFlow",
    "OAuthSignInRequired",
    "OAuthStateForeign",
    "OAuthStateInvalid",
    "TokenSession",
    "TokenStore",
]
