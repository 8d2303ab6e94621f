"""The HTTP API for agent controls (twisted.web on the gateway's one loop).

    from gateway.api import ApiServer
    api = ApiServer(acd, settings.http.token_secret)
    api.listen(settings.http.port, settings.http.bind)
    ...
    await api.stop()
"""
from gateway.api.auth import Principal, TokenError, TokenSecretError, issue_token, verify_token
from gateway.api.server import ApiServer

__all__ = ["ApiServer", "Principal", "TokenError", "TokenSecretError", "issue_token", "verify_token"]
