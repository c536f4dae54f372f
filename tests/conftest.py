"""Test configuration: every API test runs on both backends (see tests/fixtures/backends.py)."""

pytest_plugins = [
    "tests.fixtures.seaweed",
    "tests.fixtures.backends",
    "tests.fixtures.api",
]
