"""One `danlu ui` process and one headless Chromium for the whole browser session.

The page runs as the real command (`danlu ui --port 0 --no-browser`) with its own
DANLU_HOME, and pulls from a stand-in of the Hugging Face Hub on loopback (`hub`, one
repo holding a tiny GGUF: nothing is downloaded); Selenium drives Debian's chromium
through Debian's chromedriver (`make test` installs both). Screenshots go to the
artifacts folder (DANLU_UI_ARTIFACTS, or artifacts/ under pytest's base temp folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the ui extra is not installed")
webdriver = pytest.importorskip("selenium.webdriver")

from tests.train.conftest import base_cache  # noqa: E402, F401 -- the dequantized base
from tests.ui.page import Page  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
START_SECONDS = 120
HUB_REPO = "org/tiny"  # the stand-in hub's one repo: `danlu pull org/tiny:F16` pulls tiny.f16
# a public-looking name Chromium maps to 127.0.0.1: the page under it has an origin that is
# not loopback, as it has on another machine (test_page_sites.py)
PAGE_NAME = "page.example"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1100",
    f"--host-resolver-rules=MAP {PAGE_NAME} 127.0.0.1",
)


@pytest.fixture(scope="session")
def ui_home(tmp_path_factory: pytest.TempPathFactory, base_cache: Path) -> Path:  # noqa: F811
    """The page's DANLU_HOME; its cache/ is the session's, which holds the dequantized
    SmolLM2 (tests/train/conftest.py), so the page's training runs do not convert it again."""
    home = tmp_path_factory.mktemp("ui-home")
    (home / "cache").symlink_to(base_cache, target_is_directory=True)
    return home


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("DANLU_UI_ARTIFACTS") or tmp_path_factory.getbasetemp())
    folder = folder / "artifacts" if "DANLU_UI_ARTIFACTS" not in os.environ else folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ui_env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DANLU_HOME": str(home), "DANLU_THREADS": "2", "NO_COLOR": "1"}
    return {**env, **extra}


@contextlib.contextmanager
def danlu_process(args: list[str], home: Path, banner: str, **env: str) -> Iterator[str]:
    """`danlu ARGS` started with `home` as DANLU_HOME (and `env` set); the URL from its
    first line, which matches `banner` (a regex with the URL as its group); stopped on exit."""
    danlu = Path(sys.executable).with_name("danlu")
    process = subprocess.Popen(
        [str(danlu), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ui_env(home, **env),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(banner, line)
    if match is None:
        process.kill()
        pytest.fail(f"danlu {args[0]} did not start: {line}{process.stdout.read()}")
    try:
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The hub stand-in's URL: HUB_REPO holds Tiny.F16.gguf (a ~300-byte GGUF)."""
    from tests.store.hub_standin import hub_standin
    from tests.store.store_helpers import write_tiny_gguf

    tiny = write_tiny_gguf(tmp_path_factory.mktemp("hub") / "Tiny.F16.gguf")
    with hub_standin({HUB_REPO: {tiny.name: tiny}}) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def ui_url(ui_home: Path, hub: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`danlu ui` on an ephemeral loopback port, pulling from `hub`; the URL it printed."""
    args = ["ui", "--port", "0", "--no-browser"]
    cache = str(tmp_path_factory.mktemp("hf-cache"))
    hub_env = {"HF_ENDPOINT": hub, "HF_HUB_CACHE": cache, "HF_HUB_OFFLINE": "0"}
    with danlu_process(args, ui_home, r"danlu ui on (http://\S+)", **hub_env) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("chromium and chromium-driver are missing: `make test` installs them")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(START_SECONDS)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def page(browser, ui_url: str, artifacts: Path) -> Page:
    """The page, loaded once; tests switch tabs on it."""
    page = Page(browser, ui_url, artifacts)
    page.open()
    return page


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "data"
