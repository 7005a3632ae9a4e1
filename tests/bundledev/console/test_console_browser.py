"""The web console in a real browser (Debian's headless Chromium) against a ``make run``-style core.

One core runs the whole bundle for the module exactly as ``make run`` does (``localcore run
--view bundle --deployment deployments/local.yaml``, the console on); the browser opens the URL
the core printed and each test looks at one page. Screenshots of every page are written under the
test's temporary folder. Skipped, with the reason, where no ``chromium`` is installed (``make
test`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bundledev.console.browser import Browser, find_chromium

REPO = Path(__file__).resolve().parents[3]
URL = re.compile(r"(http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]+)")
CHROMIUM = find_chromium()

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium installed (apt-get install chromium; make test does)"
    ),
    pytest.mark.timeout(240),
]


class RunningCore:
    """``localcore run`` of the whole bundle as its own process, with the console's URL."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "BUNDLE_CONSOLE": "on", "COLUMNS": "200"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcore", "run", "--recipes", "recipes", "--root", str(root),
             "--thing-name", "dev-1", "--deployment", "deployments/local.yaml", "--view", "bundle",
             "--duration", "600"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.output: list[str] = []
        self._found = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self._found.wait(120):
            self.stop()
            raise AssertionError("the core printed no console URL:\n" + "".join(self.output[-40:]))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            match = URL.search(line)
            if match and not self.url:
                self.url = match.group(1)
                self._found.set()

    @property
    def base(self) -> str:
        return self.url.split("/?token=")[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path_factory.mktemp("console-core"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture(scope="module")
def browser(core: RunningCore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert CHROMIUM is not None
    opened = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    try:
        opened.navigate(core.url)
        opened.wait_for("document.body && document.body.dataset.updates > 0")
        yield opened
    finally:
        opened.close()


def show(browser: Browser, page: str) -> None:
    browser.evaluate(f"location.hash = '#{page}'")
    browser.wait_for(f"document.getElementById('page-{page}').classList.contains('shown')")


def test_a_request_without_the_token_is_refused(core: RunningCore) -> None:
    for path in ("/", "/api/snapshot", "/api/events", "/static/console.js", "/api/snapshot?token=wrong"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(core.base + path, timeout=10)
        assert refused.value.code == 401, path
        assert b"component" not in refused.value.read()


def test_the_components_page_lists_every_component_running(browser: Browser, shots: Path) -> None:
    show(browser, "components")
    names = browser.wait_for(
        "[...document.querySelectorAll('#components-table tbody tr')]"
        ".filter(r => r.cells[2].textContent === 'RUNNING').map(r => r.dataset.component)"
        ".filter(n => n.startsWith('com.edgebundle')).length >= 4 && "
        "[...document.querySelectorAll('#components-table tbody tr')].map(r => r.dataset.component)"
    )
    assert {"com.edgebundle.Sensing", "com.edgebundle.Sync", "com.edgebundle.Inference"} <= set(names)
    memory = browser.wait_for(
        "Number(document.querySelector('[data-component=\"com.edgebundle.Sensing\"]').cells[5].textContent)"
    )
    assert memory > 1  # MiB resident: the component's own process was found and measured
    browser.screenshot(shots / "components.png")


def test_sensor_charts_receive_live_points_with_thresholds(browser: Browser, shots: Path) -> None:
    show(browser, "sensors")
    key = "sensor|line1-env|temperature"
    first = int(browser.wait_for(f"document.querySelector('[data-key=\"{key}\"]')?.dataset.points"))
    later = browser.wait_for(
        f"Number(document.querySelector('[data-key=\"{key}\"]').dataset.points) > {first} && "
        f"Number(document.querySelector('[data-key=\"{key}\"]').dataset.points)"
    )
    assert later > first
    assert browser.evaluate("thresholds.some(r => r.id === 'line1-temp-high' && r.above === 35)")
    browser.screenshot(shots / "sensors.png")


def test_the_inference_page_charts_anomaly_scores(browser: Browser, shots: Path) -> None:
    show(browser, "inference")
    points = browser.wait_for(
        "Number(document.querySelector('[data-key^=\"anomaly|line1-env\"]')?.dataset.points || 0)", timeout=90
    )
    assert points >= 1
    browser.screenshot(shots / "inference.png")


def test_an_inspected_part_appears_as_an_image(browser: Browser, shots: Path) -> None:
    show(browser, "inspection")
    width = browser.wait_for(
        "[...document.querySelectorAll('#parts img')].map(i => i.complete ? i.naturalWidth : 0)"
        ".find(w => w > 0)",
        timeout=90,
    )
    assert width > 0
    decisions = browser.evaluate(
        "[...document.querySelectorAll('#parts .part')].map(p => p.dataset.decision)"
    )
    assert set(decisions) <= {"accept", "reject", "review"}
    browser.screenshot(shots / "inspection.png")


def test_the_offline_switch_takes_the_link_down_and_the_sync_panel_shows_it(
    browser: Browser, shots: Path
) -> None:
    show(browser, "sync")
    browser.wait_for("document.getElementById('link-state').dataset.connected === 'true'")
    browser.evaluate("document.getElementById('link-offline').click()")
    browser.wait_for("document.getElementById('link-state').dataset.connected === 'false'")
    assert "offline" in browser.evaluate("document.getElementById('link-state').textContent")
    browser.screenshot(shots / "sync-offline.png")
    browser.evaluate("document.getElementById('link-online').click()")
    browser.wait_for("document.getElementById('link-state').dataset.connected === 'true'")
    assert browser.evaluate("document.querySelectorAll('#backlog-table tbody tr').length") >= 1


def test_a_configuration_change_in_the_form_reaches_the_component(
    browser: Browser, core: RunningCore, shots: Path
) -> None:
    show(browser, "shadows")
    browser.wait_for("document.getElementById('config-component').options.length >= 4")
    browser.evaluate(
        "(() => { const f = document.getElementById('config-form');"
        " document.getElementById('config-component').value = 'com.edgebundle.Sync';"
        " document.getElementById('config-key').value = 'statusIntervalSeconds';"
        " document.getElementById('config-value').value = '3';"
        " f.requestSubmit(); })()"
    )
    browser.wait_for("document.getElementById('config-result').textContent.startsWith('applied')")
    token = core.url.split("token=")[1]

    def reported_interval() -> object:
        with urllib.request.urlopen(f"{core.base}/api/shadows?token={token}", timeout=10) as answer:
            shadows = json.load(answer)
        sync = next((s for s in shadows if s["name"] == "sync"), None)
        return ((sync or {}).get("reported") or {}).get("config", {}).get("statusIntervalSeconds")

    deadline = time.monotonic() + 60
    while reported_interval() != 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert reported_interval() == 3, "the sync component did not report the new interval"
    browser.evaluate("loadShadows()")
    browser.wait_for("!!document.querySelector('[data-shadow=\"sync\"]')")
    browser.screenshot(shots / "shadows.png")


def test_a_value_the_component_refuses_is_shown_as_its_refusal(browser: Browser) -> None:
    """The form's change is a configuration-only local deployment (localcore config set): the
    component validates it (SubscribeToValidateConfigurationUpdates) and its REJECTED message comes
    back to the page, with nothing stored."""
    show(browser, "shadows")
    browser.wait_for("document.getElementById('config-component').options.length >= 4")
    browser.evaluate(
        "(() => { const f = document.getElementById('config-form');"
        " document.getElementById('config-result').textContent = '';"
        " document.getElementById('config-component').value = 'com.edgebundle.Sync';"
        " document.getElementById('config-key').value = 'statusIntervalSeconds';"
        " document.getElementById('config-value').value = '-5';"
        " f.requestSubmit(); })()"
    )
    text = browser.wait_for(
        "(t => t.startsWith('refused') && t)(document.getElementById('config-result').textContent)",
        timeout=90,
    )
    assert "statusIntervalSeconds" in str(text), text


def test_the_cloud_page_lists_objects_with_download_links(
    browser: Browser, core: RunningCore, shots: Path
) -> None:
    show(browser, "cloud")
    href = browser.wait_for("(loadCloud(), document.querySelector('#objects-table a')?.href)", timeout=90)
    with urllib.request.urlopen(href, timeout=10) as answer:
        assert answer.status == 200
        assert answer.read()
    browser.screenshot(shots / "cloud.png")
