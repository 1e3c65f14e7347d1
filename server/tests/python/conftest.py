"""A `mortar serve` for the whole session, on a free port and a fresh data
dir, driven through Kestra's published Python clients."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

# The admin made with `mortar users add` before the server starts; Kestra's
# clients send these as basic auth.
USER = "admin"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def mortar_url():
    binary = os.environ["MORTAR_BIN"]
    data = tempfile.mkdtemp(prefix="mortar-kestrapy-")
    subprocess.run(
        [binary, "users", "add", USER, "--role", "admin", "--password-stdin", "--data-dir", data],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    # An API token too: the `kestra` package's Flow reads KESTRA_API_TOKEN
    # (for basic auth it reads KESTRA_USER; the password is set on the Flow).
    token = subprocess.run(
        [binary, "users", "token", USER, "--name", "pytest", "--data-dir", data], text=True, check=True, capture_output=True
    ).stdout.strip()
    os.environ["MORTAR_TEST_TOKEN"] = token
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--emulator-time-scale", "0.001"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    url = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("listening on "):
            url = line.split()[-1].strip()
            break
        if not line and process.poll() is not None:
            break
    if url is None:
        process.kill()
        shutil.rmtree(data, ignore_errors=True)
        pytest.fail("mortar serve did not print its address")
    yield url
    process.terminate()
    process.wait(timeout=30)
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture()
def kestra(mortar_url):
    from kestrapy import KestraClient

    return KestraClient(host=mortar_url, username=USER, password=PASSWORD)
