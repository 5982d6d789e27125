"""The ``chromium`` session fixture: a real headless Chromium, driven by Selenium, for portal tests.

Uses Debian's ``chromium`` and ``chromium-driver`` packages, which are built together so the driver always
matches the browser. When they are missing and the tests run as root (developer machines and CI here),
they are installed with apt-get; otherwise the fixture fails with the command to run. Selenium Manager is
never allowed to download a browser or driver: the driver path is given explicitly (which makes Selenium
skip the manager) and ``SE_OFFLINE=true`` is set while the driver starts, should anything still call it.

Registered through ``pytest_plugins`` in ``tests/conftest.py``; the browser only starts when a test asks
for ``chromium``, and one browser serves the whole session (starting one costs a second or two).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
#: the browser, its driver, and a CJK font so screenshots show the Chinese text
PACKAGES: tuple[str, ...] = ("chromium", "chromium-driver", "fonts-wqy-zenhei")
ARGUMENTS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",  # root in a container: the setuid sandbox is unavailable
    "--disable-dev-shm-usage",  # small /dev/shm in containers makes tabs crash
    "--window-size=1280,1600",
    "--lang=zh-CN",
    "--disable-background-networking",  # no update checks or other traffic while testing
)
APT_TIMEOUT = 900  # seconds; a cold apt-get install of Chromium downloads about 100 MB


class BrowserUnavailable(RuntimeError):
    """Chromium or its driver is missing and cannot be installed here."""


def _installed() -> bool:
    return all(os.access(p, os.X_OK) for p in (CHROMIUM, CHROMEDRIVER)) and CJK_FONT.exists()


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=APT_TIMEOUT,
                          check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BrowserUnavailable(f"`apt-get {' '.join(args)}` failed (exit {done.returncode}):\n{tail}")


def ensure_chromium() -> None:
    """Make /usr/bin/chromium and /usr/bin/chromedriver available, installing the Debian packages as root."""
    if _installed():
        return
    hint = f"install them with: apt-get update && apt-get install -y {' '.join(PACKAGES)}"
    if shutil.which("apt-get") is None:
        raise BrowserUnavailable(f"{CHROMIUM} / {CHROMEDRIVER} missing and apt-get is not available; {hint}")
    if os.geteuid() != 0:
        raise BrowserUnavailable(f"{CHROMIUM} / {CHROMEDRIVER} missing and the tests do not run as root; {hint}")
    _apt("update")
    _apt("install", "-y", *PACKAGES)
    if not _installed():
        raise BrowserUnavailable(f"{' '.join(PACKAGES)} installed but {CHROMIUM} / {CHROMEDRIVER} still missing")


def start_chromium() -> WebDriver:
    """A headless Chromium session (the caller quits it); browser console messages are kept for `get_log`."""
    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ARGUMENTS:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER))
    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"
    try:
        return webdriver.Chrome(options=options, service=service)
    finally:
        if previous is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = previous


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    """One headless Chromium for the session; fails (not skips) when the browser cannot be had."""
    try:
        driver = start_chromium()
    except BrowserUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield driver
    finally:
        driver.quit()
