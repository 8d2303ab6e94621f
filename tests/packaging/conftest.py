def pytest_configure(config):
    config.addinivalue_line(
        "markers", "packaging: builds the wheel and installs it from PyPI into a fresh virtualenv (network, ~1 min)")
