"""End to end in a real headless browser: Debian's chromium drives the running app.

Starts ``streamlit run reports/app.py`` on 127.0.0.1 and a free port over the demo warehouse, opens
the portfolio and the account detail of a known account, checks what a person sees, and saves
screenshots to ``test-artifacts/``. Needs ``/usr/bin/chromium`` (``scripts/install_chromium.sh``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_app_support import REPO_ROOT, TELEMETRY_OFF, demo_warehouse, query

from reports import components as ui

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
]


def _ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    script = REPO_ROOT / "scripts" / "install_chromium.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not CHROMIUM.exists():
        pytest.skip(f"chromium is not installed and could not be installed: {result.stderr.strip()[-300:]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    _ensure_chromium()
    warehouse = demo_warehouse()
    port = _free_port()
    env = {**os.environ, **TELEMETRY_OFF, "ACCOUNT_HEALTH_WAREHOUSE": str(warehouse)}
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "streamlit.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "reports/app.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start; see {ARTIFACTS / 'streamlit.log'}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 2600})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def _wait_until_rendered(page) -> None:
    """Streamlit paints a skeleton first; wait until the script finished running."""
    page.wait_for_selector("[data-testid='stApp']", timeout=30_000)
    page.wait_for_function(
        "() => !document.querySelector(\"[data-testid='stStatusWidget']\")",
        timeout=30_000,
    )
    page.wait_for_timeout(800)  # let vega draw its canvases


def test_portfolio_renders_in_chromium(app_url, page):
    accounts = query("select count(*) as n, sum(arr) as arr from marts.dim_accounts").iloc[0]
    page.goto(app_url)
    page.get_by_text("At-risk ARR by renewal window and segment").wait_for(timeout=30_000)
    page.locator("[data-testid='stMetricLabel']", has_text="At-risk ARR").wait_for(timeout=30_000)
    page.locator("[data-testid='stVegaLiteChart']").nth(3).wait_for(timeout=30_000)
    _wait_until_rendered(page)
    page.screenshot(path=str(ARTIFACTS / "portfolio.png"), full_page=True)
    metric_values = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    assert ui.number(accounts["n"]) in metric_values
    assert ui.money(accounts["arr"]) in metric_values
    assert page.locator("[data-testid='stVegaLiteChart']").count() == 4
    assert page.locator("[data-testid='stException']").count() == 0


def test_account_detail_of_a_known_account_renders_in_chromium(app_url, page):
    account_id = query("select account_id from marts.mart_cs_priority_queue order by priority_rank limit 1")[
        "account_id"
    ].iloc[0]
    row = query("select * from marts.dim_accounts where account_id = ?", [account_id]).iloc[0]
    page.goto(f"{app_url}/account_detail?account_id={account_id}")
    heading = f"{row['account_name']}  ·  {account_id}"
    page.get_by_role("heading", name=row["account_name"]).first.wait_for(timeout=30_000)
    page.locator("[data-testid='stMetricLabel']", has_text="Active users (7 d)").wait_for(timeout=30_000)
    page.locator("[data-testid='stVegaLiteChart']").nth(3).wait_for(timeout=30_000)
    _wait_until_rendered(page)
    page.screenshot(path=str(ARTIFACTS / "account_detail.png"), full_page=True)
    assert account_id in page.locator("h2").first.inner_text()
    assert row["account_name"] in page.locator("h2").first.inner_text(), heading
    metrics = dict(
        zip(
            page.locator("[data-testid='stMetricLabel']").all_inner_texts(),
            page.locator("[data-testid='stMetricValue']").all_inner_texts(),
            strict=True,
        )
    )
    assert metrics["Health score"] == ui.number(row["health_score"])
    assert metrics["ARR"] == ui.money(row["arr"])
    assert metrics["Quadrant"] == row["quadrant"]
    assert page.locator("[data-testid='stVegaLiteChart']").count() >= 4
    # Key features used: the section and its table (fct_account_feature_usage) are on the page.
    assert page.get_by_role("heading", name="Key features used").count() == 1
    features = query(
        "select count(*) as n from marts.fct_account_feature_usage where account_id = ?", [account_id]
    )["n"].iloc[0]
    assert features > 0
    assert page.get_by_text("Each key feature over the 30 days up to").count() == 1
    # A deep link runs through the app's navigation (not a bare page script): its sections show.
    navigation = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "Portfolio" in navigation and "Data health" in navigation
    assert page.locator("[data-testid='stException']").count() == 0


def test_product_shows_renewed_vs_churned_in_chromium(app_url, page):
    page.goto(f"{app_url}/product")
    page.get_by_role("heading", name="Adoption before renewal: renewed vs churned").wait_for(timeout=30_000)
    page.locator("[data-testid='stVegaLiteChart']").nth(2).wait_for(timeout=30_000)
    _wait_until_rendered(page)
    page.screenshot(path=str(ARTIFACTS / "product.png"), full_page=True)
    assert page.get_by_text("in the 90 days before the renewal date").count() == 1
    assert page.locator("[data-testid='stVegaLiteChart']").count() == 3
    assert page.locator("[data-testid='stException']").count() == 0


def test_priority_queue_renders_in_chromium(app_url, page):
    page.goto(f"{app_url}/priority_queue")
    page.get_by_text("Download CSV").wait_for(timeout=30_000)
    _wait_until_rendered(page)
    page.screenshot(path=str(ARTIFACTS / "priority_queue.png"), full_page=True)
    assert page.locator("[data-testid='stDataFrame']").count() == 1


def test_model_accuracy_shows_dates_not_epoch_milliseconds_in_chromium(app_url, page):
    """Issue 19 item 6: the backtest's scoring dates read as dates (the chart's axis and the table),
    nowhere as epoch milliseconds; the churn model's calibration section is on the page."""
    import re

    page.goto(f"{app_url}/model_accuracy")
    page.get_by_role("heading", name="Churn probability: predicted against observed").wait_for(timeout=30_000)
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=30_000)
    _wait_until_rendered(page)
    page.screenshot(path=str(ARTIFACTS / "model_accuracy.png"), full_page=True)
    text = page.locator("[data-testid='stMain']").inner_text()
    assert not re.search(r"\b1[5-9]\d{11}\b", text), "an epoch-millisecond timestamp is on the page"
    # the chart is drawn with a temporal x axis in the browser: vega's axis labels are dates
    labels = page.evaluate(
        """() => Array.from(document.querySelectorAll("[data-testid='stVegaLiteChart'] svg text, "
        + "[data-testid='stVegaLiteChart'] [role='graphics-document']"))
            .map(node => node.textContent || node.getAttribute('aria-label') || '')"""
    )
    assert not any(re.search(r"\b1[5-9]\d{11}\b", label) for label in labels), labels


def test_quadrant_review_charts_distribution_and_churn_in_chromium(app_url, page):
    churn = query("select count(*) as n from marts.mart_quadrant_churn_quarterly")["n"].iloc[0]
    page.goto(f"{app_url}/quadrant_review")
    page.get_by_role("heading", name="Churn rate by quadrant per quarter").wait_for(timeout=30_000)
    charts = 1 + (1 if churn else 0)
    page.locator("[data-testid='stVegaLiteChart']").nth(charts - 1).wait_for(timeout=30_000)
    _wait_until_rendered(page)
    page.screenshot(path=str(ARTIFACTS / "quadrant_review.png"), full_page=True)
    assert page.get_by_role("heading", name="Embedded but deteriorating").count() == 1
    assert page.get_by_role("heading", name="Quadrant distribution by month").count() == 1
    assert page.locator("[data-testid='stVegaLiteChart']").count() == charts
    # vega drew the charts (a canvas or svg inside each), not an empty frame
    for index in range(charts):
        chart = page.locator("[data-testid='stVegaLiteChart']").nth(index)
        assert chart.locator("canvas, svg").count() > 0
    assert page.locator("[data-testid='stException']").count() == 0
