"""The gateway's one HTTP/WebSocket application on its event loop (FastAPI served by uvicorn):
sessions, accounts, CSRF, the audit log and security headers, which features (the REST API
in gateway.api, the agent desktop, the supervisor's board) plug their routers into.

Kept import-light: gateway.crm.models imports gateway.web.models.
"""
