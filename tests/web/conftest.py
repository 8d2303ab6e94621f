"""Web tests: see tests/web_fixtures.py for the application they run against."""
from web_fixtures import acd, key_prefix, start, web  # noqa: F401
from desk_web_fixtures import desk_web  # noqa: F401,E402
