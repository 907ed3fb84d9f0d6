"""A real headless browser for the web page's tests: Debian's chromium, driven by Selenium.

Selenium is told where the browser and its driver are, so that Selenium
Manager never tries to download one. Where either is missing the tests skip.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing() -> str | None:
    """Why no browser can be driven here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: ./setup.sh --dev"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(os.path.basename(path))):
            return f"{path} not found: apt-get install chromium chromium-driver (./setup.sh --dev)"
    return None


def chromium(width: int = 1280, height: int = 800):
    """A headless chromium window of ``width`` x ``height`` CSS pixels."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--force-device-scale-factor=1"):
        options.add_argument(argument)
    # The live page's stream never ends loading: wait for the document only.
    options.page_load_strategy = "eager"
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    if width < 500:  # below the smallest window chromium makes: a phone's screen
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    return driver


def start_greeter(folder, images, source, port: int, *options: str, out=None,
                  password: str | None = None):
    """``python facenet.py --web 127.0.0.1:port`` on ``source`` with its own data and
    visitors folders under ``folder``, headless and silent, the page's ``password``
    (default: none) in its environment; returns the Popen. Its stdout and stderr go
    to the file ``out`` (default: ``folder/out.txt``)."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "FACENET_DATA_DIR": str(Path(folder) / "data"),
                   "FACENET_VISITORS_DIR": str(Path(folder) / "visitors")}
    environment.pop("FACENET_WEB_PASSWORD", None)
    if password:
        environment["FACENET_WEB_PASSWORD"] = password
    with open(out or Path(folder) / "out.txt", "w") as sink:
        return subprocess.Popen(
            [sys.executable, str(repo / "facenet.py"), "--images", str(images), "--source",
             str(source), "--headless", "--no-speech", "--web", f"127.0.0.1:{port}",
             *options], stdout=sink, stderr=subprocess.STDOUT, env=environment, cwd=folder)
