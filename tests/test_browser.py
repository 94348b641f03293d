"""What a person sees in a browser: the API's Swagger UI and the load tests' Locust web UI.

Debian's Chromium and chromedriver drive them through Selenium (no browser download);
each test leaves a screenshot in reports/screenshots/ to look at when it fails.
"""
import json
import os
import re
import urllib.request

import pytest

from blog.models import Post

from .helpers import BOUND, PROJECT_DIR, manage, wait_for
from .test_loadtests import PASSWORD, seed

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# How long a page may take to show an element: the machine is shared and slow at times.
WAIT = 30
SCREENSHOTS = PROJECT_DIR / "reports" / "screenshots"

webdriver = pytest.importorskip("selenium.webdriver", reason="Selenium is not installed: pip install -r requirements-dev.txt")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
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


def screenshot(browser, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


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
    screenshot(browser, "swagger_login")

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
    screenshot(browser, "swagger_authorize")
    assert "Type Token <key> (the word Token, a space, then the key), where <key> is the token" in dialog.text


def try_it_out(browser, block):
    visible(browser, ".try-out__btn", within=block).click()


def execute(browser, block):
    """Press Execute in an operation's block (after "Try it out"); the answer's status code and
    body, once Swagger UI shows them."""
    visible(browser, ".execute", within=block).click()
    status = visible(browser, ".live-responses-table tbody .response-col_status", within=block).text
    # Present with the status; its text is read whole, scrolled into view or not.
    body = block.find_element(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_description pre")
    return int(status), body.get_attribute("textContent")


def type_into(element, text):
    element.send_keys(Keys.CONTROL, "a")  # what Swagger UI prefilled, replaced as a person would
    element.send_keys(text)


def test_swagger_ui_lists_posts_logs_in_and_creates_a_post_with_the_token(server_url, browser):
    seed()
    browser.get(f"{server_url}/api/docs/")

    posts = operation(browser, "blog_posts_list")
    try_it_out(browser, posts)
    status, body = execute(browser, posts)
    assert status == 200 and json.loads(body)["count"] == Post.objects.count(), body

    login = operation(browser, "login_create")
    try_it_out(browser, login)
    type_into(visible(browser, "textarea.body-param__text", within=login),
              json.dumps({"username": "seed_user_1", "password": PASSWORD}))
    status, body = execute(browser, login)
    assert status == 200, body
    token = json.loads(body)["token"]

    browser.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
    dialog = visible(browser, ".modal-ux")
    token_form = next(form for form in dialog.find_elements(By.CSS_SELECTOR, ".auth-container")
                      if form.find_element(By.CSS_SELECTOR, "h4 code").text == "tokenAuth")
    type_into(token_form.find_element(By.CSS_SELECTOR, "input"), f"Token {token}")
    token_form.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .authorize").click()
    dialog.find_element(By.CSS_SELECTOR, ".btn-done").click()

    create = operation(browser, "blog_create_create")
    try_it_out(browser, create)
    type_into(visible(browser, "textarea.body-param__text", within=create),
              json.dumps({"title": "From Swagger UI", "body": "Written in the browser."}))
    status, body = execute(browser, create)
    screenshot(browser, "swagger_create")
    assert status == 201, body
    assert Post.objects.get(pk=json.loads(body)["id"]).user.username == "seed_user_1"


@pytest.fixture
def locust_web_ui(start_locust_web_ui):
    """The URL of Locust's web UI, run on the locustfile against `server_url`."""
    return start_locust_web_ui().url


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
        screenshot(browser, "locust_custom_parameters")
    text = browser.find_element(By.TAG_NAME, "body").text

    assert "How many accounts the simulated users are spread over. Default: 10" in text
    assert "%(default)s" not in text and "%(default)s" not in browser.page_source


def open_custom_parameters(browser):
    """Open the form's "Custom parameters" section; their labels, once it has opened all the way."""
    WebDriverWait(browser, WAIT).until(
        expected_conditions.element_to_be_clickable((By.XPATH, "//*[text()='Custom parameters']"))
    ).click()
    WebDriverWait(browser, WAIT).until(expected_conditions.visibility_of_element_located((By.NAME, "blogAccounts")))
    labels = browser.find_elements(By.XPATH, "//label[starts-with(normalize-space(), 'Blog ')]")
    # Until the section has opened all the way, the fields below are hidden.
    WebDriverWait(browser, WAIT).until(lambda browser: all(label.is_displayed() for label in labels))
    return labels


def fill(browser, fields):
    """Type each value over what the form's field `name` holds (React sees keystrokes, not .clear())."""
    for name, value in fields.items():
        field = browser.find_element(By.NAME, name)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value)


def button(browser, text):
    return WebDriverWait(browser, WAIT).until(
        expected_conditions.element_to_be_clickable((By.XPATH, f"//button[normalize-space()='{text}']"))
    )


def requests_besides_logins(web_ui):
    with urllib.request.urlopen(f"{web_ui}stats/requests", timeout=BOUND) as response:
        rows = json.load(response)["stats"]
    return sum(row["num_requests"] for row in rows if row["name"] not in ("/login/", "Aggregated"))


def verdict_shown(browser):
    """The Verdict tab's text once it holds a verdict and the page says the run has stopped, else False."""
    text = " ".join(table.text for table in browser.find_elements(By.TAG_NAME, "table"))
    stopped = "STOPPED" in browser.find_element(By.TAG_NAME, "header").text
    return stopped and "Verdict: " in text and text


def test_locust_web_ui_names_each_custom_parameter_in_words_and_shows_all_of_its_help(locust_web_ui, browser):
    browser.get(locust_web_ui)
    try:
        labels = open_custom_parameters(browser)
        texts = [label.text for label in labels]
        cut = [label.text for label in labels
               if browser.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", label)]
    finally:
        screenshot(browser, "locust_custom_parameter_labels")

    names = [text.split(" (", 1)[0] for text in texts]
    assert "Blog Accounts" in names and "Blog Capacity Min Gain" in names, texts
    assert [name for name in names if not re.fullmatch(r"Blog( [A-Z][a-z]+)+", name)] == []
    assert ("Blog Max Response Time (Exit code 1 when the p95 response time in ms, logins left out, is above this; "
            "the capacity search's SLO. Default: 500)") in texts
    assert cut == []


def test_a_run_started_from_the_form_shows_its_verdict_in_the_verdict_tab_once_stopped(locust_web_ui, browser):
    seed()
    browser.get(locust_web_ui)
    open_custom_parameters(browser)
    fill(browser, {"userCount": "2", "spawnRate": "2", "blogMinWait": "0", "blogMaxWait": "0.1",
                   "blogMinRequests": "1", "blogMaxResponseTime": "60000"})
    button(browser, "Start").click()
    wait_for(lambda: requests_besides_logins(locust_web_ui) >= 5, "the run's first requests")
    button(browser, "Stop").click()
    WebDriverWait(browser, WAIT).until(
        expected_conditions.element_to_be_clickable((By.XPATH, "//*[@role='tab'][normalize-space()='Verdict']"))
    ).click()
    try:
        # No reload: the page shows the verdict on its own once the run is judged.
        text = WebDriverWait(browser, BOUND).until(verdict_shown)
    finally:
        screenshot(browser, "locust_verdict_tab")

    assert "Verdict: PASSED (exit code 0)" in text, text
    assert re.search(r"Summary: \d+ requests, 0 failed", text), text
    assert re.search(r"Integrity: acknowledged \d+, stored \d+ .*: no writes lost", text), text
    # What the form said reached the run: the field's name survives the form's round trip.
    assert "p95 after the warm-up, logins left out, <= 60000 ms (--blog-max-p95-ms)" in text, text
    assert "Load test failed" not in text


def test_a_run_the_start_up_check_refuses_keeps_the_form_open_and_says_why(locust_web_ui, browser):
    browser.get(locust_web_ui)  # nothing seeded: the API has no posts for readers to read
    open_custom_parameters(browser)
    fill(browser, {"userCount": "1", "spawnRate": "1"})
    button(browser, "Start").click()
    try:
        alert = WebDriverWait(browser, BOUND).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "[role='alert']"))
        )
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", alert)
        text = alert.text
    finally:
        screenshot(browser, "locust_refused_run")

    assert text.startswith("The run did not start: The API at http://127.0.0.1:"), text
    assert "has no posts for readers to read: load the demo data with `python manage.py seed_blog`" in text
    assert button(browser, "Start").is_displayed()
