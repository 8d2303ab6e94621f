"""The REST API for agent controls: a FastAPI router (resources.py) that gateway.web serves.

    from gateway.api import issue_token
    token = issue_token(settings.http.token_secret, "agent", "1001", ttl=8 * 3600)
"""
from gateway.api.auth import Principal, TokenError, TokenSecretError, issue_token, verify_token

__all__ = ["Principal", "TokenError", "TokenSecretError", "issue_token", "verify_token"]
