"""What the browser tests share: a headless Chromium driven by Selenium, and `make lab` running
on a free port (as a new user starts it: an empty HOME, none of lib.env's variables)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hang import HANG_S

from lib.paths import ROOT


@contextmanager
def headless_chromium(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A Selenium-driven headless Chromium; without one the test fails saying what to install."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: .venv/bin/pip install -r requirements/dev.txt",
                    pytrace=False)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.fail("headless Chromium not found: apt-get install -y chromium chromium-driver",
                    pytrace=False)
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium never downloads a browser or driver
    # its profile, cache and crash reports (XDG_CONFIG_HOME/chromium) in a folder of its own,
    # not under HOME/.config
    profile = Path(tempfile.mkdtemp(prefix="chromium-"))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(profile / name.lower()))
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--window-size=1200,900",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(HANG_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def fresh_environment(home: Path) -> dict[str, str]:
    """This environment under an empty HOME, without any variable lib.env would set."""
    from lib import env

    environ = {k: v for k, v in os.environ.items() if k not in env.locations()}
    environ["HOME"] = str(home)
    return environ


@dataclass
class Lab:
    """A running `make lab`: where it listens, its token and what it printed."""

    port: int
    token: str | None
    log: list[str]

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}" + (f"{sep}token={self.token}"
                                                        if self.token else "")

    def printed_url(self) -> str:
        """The address the Lab prints for its user to open (127.0.0.1 for localhost)."""
        found = re.search(rf"http://(?:localhost|127\.0\.0\.1):{self.port}/\S+", "".join(self.log))
        assert found, "".join(self.log)[-3000:]
        return found.group(0).replace("localhost", "127.0.0.1", 1)

    def get(self, path: str) -> dict:
        """A JSON answer of the server's REST API."""
        headers = {"Authorization": f"token {self.token}"} if self.token else {}
        request = urllib.request.Request(f"http://localhost:{self.port}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.loads(r.read())


def repository_copy(folder: Path) -> Path:
    """This working tree (tracked and untracked files, not the ignored ones) copied to `folder`
    and committed there, with `.venv` and `.cache` linked: a checkout a test may edit."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    for linked in (".venv", ".cache"):
        (folder / linked).symlink_to(ROOT / linked)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run(git + command, cwd=folder, check=True, capture_output=True)
    return folder


@contextmanager
def running_lab(home: Path, root: Path = ROOT) -> Iterator[Lab]:
    """`make lab` in the checkout `root` under the empty HOME `home` once it answers (waiting for
    that event, however long a busy machine takes, or for the Lab to exit); stopped (with its
    kernels) afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = fresh_environment(home) | {"JUPYTER_PORT": str(port), "BROWSER": "true"}
    # a fresh user: no workspace (open tabs) or settings left by an earlier Lab in .cache/
    for key in ("JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_SETTINGS_DIR"):
        environ[key] = str(home.parent / f"lab-{key.lower()}")
    lab = subprocess.Popen(["make", "-o", "setup", "lab"], cwd=root, env=environ,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    log: list[str] = []  # all it prints, read as it comes (a full pipe would stall the Lab)
    started = threading.Event()  # it printed its URL, or its output ended (it exited)

    def read() -> None:
        for line in lab.stdout:
            log.append(line)
            if f":{port}/lab" in line:
                started.set()
        started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        started.wait()
        answer = None
        while answer is None and lab.poll() is None:  # it prints before it listens
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/api", timeout=10) as r:
                    answer = json.loads(r.read())
            except OSError:
                time.sleep(0.5)
        assert lab.poll() is None, "".join(log)[-3000:]
        assert answer and "version" in answer, "".join(log)[-3000:]
        token = re.search(r"token=([0-9a-f]+)", "".join(log))
        yield Lab(port, token.group(1) if token else None, log)
    finally:
        os.killpg(lab.pid, signal.SIGTERM)  # the process group started above: make and jupyter
        try:
            lab.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a kernel still shutting down
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=30)
        reader.join(timeout=10)
