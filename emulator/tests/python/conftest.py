"""Fixtures: the emulator started by scripts/test-emulator-python.sh.

The script exports EMULATOR_URL, EMULATOR_TOKEN and the OAuth client it
registered; every test talks to that one emulator through the official SDK.
"""

import os

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config

WAREHOUSE_ID = "a1b2c3d4e5f60718"


@pytest.fixture(scope="session")
def url() -> str:
    return os.environ["EMULATOR_URL"]


@pytest.fixture(scope="session")
def token() -> str:
    return os.environ["EMULATOR_TOKEN"]


@pytest.fixture(scope="session")
def w(url: str, token: str) -> WorkspaceClient:
    # Short budgets: a broken emulator fails fast instead of retrying 300 s.
    cfg = Config(host=url, token=token, auth_type="pat", retry_timeout_seconds=5, http_timeout_seconds=10)
    return WorkspaceClient(config=cfg)


@pytest.fixture(scope="session")
def warehouse_id() -> str:
    return WAREHOUSE_ID
