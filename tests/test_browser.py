"""What a person sees in a browser: the API's Swagger UI and the load tests' Locust web UI.

Debian's Chromium and chromedriver drive them through Selenium (no browser download);
each test leaves a screenshot in /tmp to look at when it fails.
"""
import os
import subprocess
import sys

import pytest

from .helpers import PROJECT_DIR, free_port, manage, wait_for
from .test_capacity import answers

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# How long a page may take to show an element: the machine is shared and slow at times.
WAIT = 30

webdriver = pytest.importorskip("selenium.webdriver", reason="Selenium is not installed: pip install -r requirements-dev.txt")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason=f"{CHROMIUM} and {CHROMEDRIVER} are needed: apt-get install chromium chromium-driver",
)


@pytest.fixture(scope="session", autouse=True)
def collected_static():
    """Swagger UI's scripts in STATIC_ROOT, as `make serve` puts them, before any server starts.

    whitenoise serves them in production mode and reads STATIC_ROOT once, when a worker
    starts: a fresh clone has none until `manage.py collectstatic` has run.
    """
    manage(os.environ, "collectstatic", "--noinput", "-v0")


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,2000"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def visible(browser, css, within=None):
    """The element `css` finds (inside `within`), once it is visible; fails after WAIT seconds."""
    return WebDriverWait(within or browser, WAIT).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    )


def operation(browser, operation_id):
    """Swagger UI's block for `operation_id`, opened (its tag is the path's first part)."""
    block = visible(browser, f"[id$='-{operation_id}']")
    if "is-open" not in block.get_attribute("class"):
        block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    visible(browser, ".opblock-body", within=block)
    return block


def test_swagger_ui_prefills_a_readable_login_shows_reads_without_a_padlock_and_how_to_type_a_token(server_url, browser):
    browser.get(f"{server_url}/api/docs/")
    login = operation(browser, "login_create")

    visible(browser, ".try-out__btn", within=login).click()
    body = visible(browser, "textarea.body-param__text", within=login).get_attribute("value")
    browser.save_screenshot("/tmp/test_browser_swagger_login.png")

    assert '"username": "seed_user_1"' in body
    assert all(character.isprintable() or character == "\n" for character in body), repr(body)
    blocks = {block.get_attribute("id"): block for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")}
    reads = [name for name in blocks if "-blog_" in name and name.endswith(("_list", "_retrieve"))]
    writes = [name for name in blocks if name.endswith("_create") and "-blog_" in name]
    assert (len(reads), len(writes)) == (5, 2), sorted(blocks)
    padlocked = {name for name, block in blocks.items() if block.find_elements(By.CSS_SELECTOR, ".authorization__btn")}
    assert padlocked == set(writes)

    browser.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
    dialog = visible(browser, ".modal-ux")
    browser.save_screenshot("/tmp/test_browser_swagger_authorize.png")
    assert "Type Token <key> (the word Token, a space, then the key), where <key> is the token" in dialog.text


@pytest.fixture
def locust_web_ui(server_url, tmp_path):
    """The URL of Locust's web UI, run on the locustfile against `server_url`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))}
    with open(tmp_path / "locust.log", "w") as log:
        locust = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--web-host", "127.0.0.1",
             "--web-port", str(port), "--host", server_url],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: locust.poll() is not None or answers(url), "Locust's web UI")
        assert locust.poll() is None, (tmp_path / "locust.log").read_text()
        yield url
    finally:
        locust.terminate()
        locust.wait(timeout=60)


def test_locust_web_ui_shows_the_custom_parameters_defaults_not_argparse_placeholders(locust_web_ui, browser):
    browser.get(locust_web_ui)
    try:
        toggle = WebDriverWait(browser, WAIT).until(
            expected_conditions.element_to_be_clickable((By.XPATH, "//*[text()='Custom parameters']"))
        )
        toggle.click()
        WebDriverWait(browser, WAIT).until(
            expected_conditions.visibility_of_element_located((By.XPATH, "//label[starts-with(., 'Blog Accounts')]"))
        )
    finally:
        browser.save_screenshot("/tmp/test_browser_locust.png")
    text = browser.find_element(By.TAG_NAME, "body").text

    assert "How many accounts the simulated users are spread over. Default: 10" in text
    assert "%(default)s" not in text and "%(default)s" not in browser.page_source
