"""The dashboard in headless Chromium against the local stack (emulator, `chalice local`, runner).

One whole session at the default rate limits: sign up and create a project with the keyboard
only, rename (a refusal shown in words), reload (the session survives through the refresh
token), upload a fixture app as a folder (packed in the page), profile with evidence and
masked secrets, the cost chart (per resource on hover and on keyboard focus), options
(target, instance size, domain) and a bundle generated again, its file tree and zip, then an
uploaded `terraform_data` bundle: the deploy role's trust policy copied, planned (the plan in
words), approved, its log followed to `applied` with a secret masked, phases and timings, the
app URL, destroyed, and log out. Along the way: every control is named, Tab reaches every
control of the project screen with a visible focus ring, rendered text meets 4.5:1 contrast,
a 375 px window scrolls no sideways, and no request leaves the loopback interface.
The second session (the page on its own origin, as CloudFront serves it) deploys a GENERATED
bundle: a stateless app, the lambda target, planned by the runner with the real AWS provider
against the emulator (many resources: the plan in words, a long log, the outputs), applied
and destroyed.
Debian's Chromium is driven by Playwright with `executable_path` (never a downloaded
browser). Screenshots of each screen go to `AUTOSTACK_ARTIFACTS` (default: pytest's tmp
dir); `AUTOSTACK_UPDATE_SCREENSHOTS=1` also refreshes the ones in docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from devtools.local_stack import ROOT, LocalStack
from tests.support.emulator import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
PASSWORD = "a long passphrase for the browser"
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
FAKE_KEY = "AKIAZ7Q3XB4R6TYUPLMN"  # a made-up access key id: the profile must mask it
README_SHOTS = {"projects", "profile", "targets", "bundle", "planned", "applied", "project-narrow"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
MIRROR = Path("/opt/tf-plugins")
TERRAFORM_S = 900_000  # a real plan or apply with the AWS provider on a busy 2-core host

TERRAFORM = """
variable "role_arn" {
  type = string
}

resource "terraform_data" "app" {
  input = "app for ${var.role_arn}"
}

resource "terraform_data" "cache" {
  input = "cache with a leaked key AKIAZ7Q3XB4R6TYUPLMN"
}

output "app_url" {
  value = "https://example.test/${terraform_data.app.id}"
}
"""


def write_stateless_app(root: Path) -> Path:
    """A Flask app with no database: lambda fits, and its bundle is the smallest to apply."""
    app = root / "hello"
    app.mkdir(parents=True)
    (app / "app.py").write_text(
        "import os\n\nfrom flask import Flask\n\napp = Flask(__name__)\n\n\n"
        '@app.get("/")\ndef index():\n    return "hello"\n\n\n'
        'if __name__ == "__main__":\n'
        '    app.run(port=int(os.environ.get("PORT", "8000")))\n'
    )
    (app / "requirements.txt").write_text("flask==3.0.3\n")
    return app


def write_fixture_app(root: Path) -> Path:
    """A small Flask app, with what the packer must leave out beside it."""
    app = root / "shop"
    files = {
        "app.py": (
            "import os\n\nfrom flask import Flask\n\napp = Flask(__name__)\n\n\n"
            '@app.get("/health")\ndef health():\n    return {"ok": True}\n\n\n'
            'if __name__ == "__main__":\n'
            '    app.run(port=int(os.environ.get("PORT", "8000")))\n'
        ),
        "requirements.txt": "flask==3.0.3\ngunicorn==22.0.0\n",
        "settings.py": f'AWS_KEY = "{FAKE_KEY}"\nDATABASE_URL = os.environ["DATABASE_URL"]\n',
        ".gitignore": "*.log\nlocal/\n",
        "debug.log": "ignored by .gitignore\n",
        "local/notes.txt": "ignored folder\n",
        "node_modules/left-pad/index.js": "module.exports = 1\n",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".venv/pyvenv.cfg": "home = /usr/bin\n",
        ".venv/lib/site.py": "x = 1\n",
    }
    for name, text in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(text)
    return app


@pytest.fixture(scope="module")
def page_origin_port() -> int:
    """The port of the dashboard served apart from the API, as CloudFront serves it."""
    return free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, page_origin_port: int) -> Iterator[LocalStack]:
    assert MIRROR.is_dir(), f"the hashicorp/aws provider mirror {MIRROR} is needed"
    tmp = tmp_path_factory.mktemp("dashboard-stack")
    env = {  # the default rate limits: a dashboard session must fit in them
        "AUTOSTACK_CORS_ORIGIN": f"http://127.0.0.1:{page_origin_port}",
        "AUTOSTACK_SCRYPT_N": "4096",
        "AUTOSTACK_RUNNER_DB": str(tmp / "runner.db"),
        "AUTOSTACK_RUNNER_WORK_DIR": str(tmp / "work"),
        "AUTOSTACK_RUNNER_WAIT_S": "1",
        "AUTOSTACK_LONG_POLL_S": "2",  # long polls read every 2 s, not 0.5: less CPU
        "AUTOSTACK_RUNNER_HEARTBEAT_S": "0.5",
        "AUTOSTACK_TF_PLUGIN_DIR": str(MIRROR),
    }
    local = LocalStack(emulator_port=free_port(), api_port=free_port(), extra_env=env, quiet=True)
    local.start()
    yield local
    local.stop()


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[Any]:
    assert CHROMIUM.exists(), (
        "chromium is missing: install Debian's `chromium` (system-packages.txt)"
    )
    index = ROOT / "dashboard" / "dist" / "index.html"
    assert index.is_file(), "the dashboard is not built: run `make dashboard`"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1200, "height": 900},
        )
        context.set_default_timeout(30_000)
        yield context
        context.close()


class Shots:
    def __init__(self, page: Any, folder: Path):
        self.page, self.folder = page, folder
        folder.mkdir(parents=True, exist_ok=True)
        self.update = os.environ.get("AUTOSTACK_UPDATE_SCREENSHOTS") == "1"

    def take(self, name: str, selector: str | None = None, full_page: bool = True) -> None:
        path = self.folder / f"{name}.png"
        if selector:
            self.page.locator(selector).screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=full_page)
        if self.update and name in README_SHOTS:
            shutil.copy(path, ROOT / "docs" / "screenshots" / path.name)


# Rendered text against the background it sits on (the first opaque one up the tree):
# WCAG AA, 4.5:1, or 3:1 for large text. Returns the failures.
LOW_CONTRAST_JS = """() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lin = (c) => (c /= 255, c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const lum = ([r, g, b]) => [r, g, b].map(lin)
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || !box.width || !box.height || el.closest('[hidden]')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || el.disabled) continue;
    const a = lum(rgb(style.color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const what = `${el.tagName} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < need) bad.push(`${what} ${ratio.toFixed(2)}`);
  }
  return bad;
}"""

# What has the keyboard focus, in words, and whether a focus ring shows.
FOCUSED_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const name = el.id || el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40);
  const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  return { tag: el.tagName, name, ring };
}"""


def tab_walk(page: Any, limit: int = 120) -> list[dict[str, Any]]:
    """Press Tab from the top of the page until the focus comes round again."""
    # Start before the first element: a focus point at the top, out of the tab order.
    page.evaluate(
        """() => { const start = document.createElement('span'); start.id = 'walk-start';
                   start.tabIndex = -1; document.body.prepend(start); start.focus(); }"""
    )
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_JS)
        if focused is None or (seen and focused == seen[0]):
            break  # past the last control: the focus left the page
        seen.append(focused)
    page.evaluate("document.getElementById('walk-start').remove()")
    return seen


def sideways(page: Any) -> list[str]:
    """What sticks out past the right edge of the window (nothing, when none scrolls)."""
    return list(
        page.evaluate(
            """() => document.documentElement.scrollWidth <= innerWidth + 1 ? [] :
                 [...document.querySelectorAll('body *')]
                   .filter((el) => el.getBoundingClientRect().right > innerWidth + 1)
                   .map((el) => `${el.tagName}#${el.id}.${el.className} ` +
                                `${Math.round(el.getBoundingClientRect().right)}px`)"""
        )
    )


def test_whole_session_in_the_browser(
    stack: LocalStack, browser_context: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    page = browser_context.new_page()
    api = urlparse(stack.api_url)
    requests_seen: list[str] = []
    answers: list[tuple[int, str, str]] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    page.on("response", lambda r: answers.append((r.status, r.request.method, r.url)))
    default_left: list[int] = []  # X-RateLimit-Remaining of the default bucket (50 a window)
    page.on(
        "response",
        lambda r: (
            default_left.append(int(r.headers["x-ratelimit-remaining"]))
            if r.headers.get("x-ratelimit-limit") == "50"
            else None
        ),
    )
    shots = Shots(page, Path(os.environ.get("AUTOSTACK_ARTIFACTS", tmp_path / "screens")))
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.api_url)

    # Sign up with the keyboard only: the heading has the focus, Tab goes to the fields.
    page.goto(stack.api_url + "/#/signup")
    page.get_by_role("heading", name="Create your account").wait_for()
    page.keyboard.press("Tab")
    page.keyboard.type(f"web{time.monotonic_ns()}@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    shots.take("signup")
    page.keyboard.press("Enter")  # submits the form: sign up, then log in
    page.get_by_role("heading", name="Projects").wait_for()
    # The access token lives in memory; only the refresh token is kept, for this tab.
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("Object.keys(sessionStorage)") == ["autostack.refresh"]

    # Create a project with the keyboard too.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "new-project"
    page.keyboard.type("shop")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="shop").wait_for()

    # Rename: a name the API refuses is shown in words, then a good one clears it.
    page.get_by_label("New name for shop").fill("x" * 64 + "!")  # the page caps at 64
    assert page.get_by_label("New name for shop").input_value() == "x" * 64
    page.get_by_label("New name for shop").fill("bad name with / slash")
    page.get_by_role("button", name="Rename").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "name" in alert.inner_text() and "letter" in alert.inner_text()
    page.get_by_label("New name for shop").fill("shop-web")
    page.get_by_role("button", name="Rename").click()
    page.get_by_role("link", name="shop-web").wait_for()
    assert page.locator("p.error").inner_text() == ""  # the old refusal is gone
    shots.take("projects")

    # A reload keeps the session (the refresh token), and the page works at 375 px.
    page.reload()
    page.get_by_role("link", name="shop-web").wait_for()
    page.set_viewport_size({"width": 375, "height": 800})
    assert sideways(page) == []
    shots.take("projects-narrow")
    page.set_viewport_size({"width": 1200, "height": 900})

    # Upload the app as a folder: packed in the page, straight to the presigned POST.
    page.get_by_role("link", name="shop-web").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="shop-web").wait_for()
    page.locator("#app-dir").set_input_files(str(write_fixture_app(tmp_path / "src")))
    state = page.locator("#analysis-state")
    state.filter(has_text="Analysis succeeded").wait_for(timeout=90_000)
    assert page.locator("#pack-note").inner_text().startswith("4 files packed")
    assert page.locator("#pack-note").inner_text().endswith("6 left out")
    assert page.locator("#upload-progress").get_attribute("value") == "100"
    assert page.locator("#analysis-progress").get_attribute("value") == "100"
    profile = page.locator("#profile")
    profile.wait_for()
    text = profile.inner_text()
    assert "flask" in text and "app.py:" in text, text  # the finding and its evidence
    secrets = page.locator("#secrets").inner_text()
    assert "aws_access_key_id" in secrets and "settings.py:1" in secrets
    assert FAKE_KEY not in page.content()  # masked, never shown
    shots.take("profile", "#profile")

    # Targets: a bar per target with list and after-free-tier prices, the recommended one
    # with its reasons, per resource on hover.
    recommended = page.locator("#cost-chart .bar-row.recommended")
    recommended.wait_for()
    assert page.locator("#reasons li").count() >= 1
    label = recommended.get_attribute("aria-label")
    assert "a month" in label and "after the free tier" in label and "(recommended)" in label
    fitting = page.locator("#cost-chart .bar-row .bar.list")
    assert fitting.count() >= 2 and page.locator("#cost-chart .bar.free").count() >= 2
    assert "does not fit" in page.locator("#cost-chart").inner_text()  # static, with why
    recommended.hover()
    tip = page.locator("#cost-tip")
    tip.wait_for()
    tip_text = tip.inner_text()
    assert "per resource" in tip_text and "list" in tip_text and "free tier" in tip_text
    assert tip.locator("tr").count() >= 3  # a header and a row per resource
    shots.take("targets", "#targets")

    # Options: a refused domain in words, then ec2 on a t3.small with a domain.
    page.get_by_label("Target", exact=True).select_option("ec2")
    page.get_by_label("Instance size").select_option("t3.small")
    page.get_by_label("Database size").select_option("db.t4g.small")
    page.get_by_label("Domain (optional)").fill("not a domain!")
    page.get_by_role("button", name="Generate again").click()
    refused = page.locator("#targets p.error")
    refused.filter(has_text="domain").wait_for()
    page.get_by_label("Domain (optional)").fill("shop.example.com")
    page.get_by_role("button", name="Generate again").click()
    page.get_by_role("heading", name="Bundle for ec2", exact=True).wait_for()

    # The bundle: a file tree with highlighted contents, and the whole of it as a zip.
    page.locator("#bundle button.file", has_text="variables.tf").first.click()
    assert page.locator("#file-view .tok-keyword").count() > 0
    assert page.locator("#file-view .tok-string").count() > 0
    assert page.locator("#bundle button.file[aria-current]").inner_text() == "variables.tf"
    shots.take("bundle", "#bundle")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as zip").click()
    assert download.value.suggested_filename.endswith(".zip")
    saved = tmp_path / "bundle.zip"
    download.value.save_as(str(saved))
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        everything = "\n".join(archive.read(n).decode() for n in names)
    assert "infra/ec2.tf" in names and "infra/variables.tf" in names, names
    assert "t3.small" in everything and "shop.example.com" in everything

    # Your own Terraform, uploaded as a zip (the app went as a folder), then plan ->
    # approve -> applied.
    tf_zip = tmp_path / "terraform.zip"
    with zipfile.ZipFile(tf_zip, "w") as archive:
        archive.writestr("main.tf", TERRAFORM)
    page.locator("#tf-zip").set_input_files(str(tf_zip))
    page.locator("#tf-state").filter(has_text="ready").wait_for()
    assert page.locator("#tf-state").inner_text().startswith("terraform.zip (")
    page.get_by_text("The deploy role to create in your account").click()
    trust = page.locator("#trust-policy")
    trust.filter(has_text="sts:ExternalId").wait_for()
    page.get_by_role("button", name="Copy trust policy").click()
    page.get_by_role("button", name="Copied").wait_for()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied == json.loads(trust.inner_text())
    assert copied["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"]
    page.get_by_label("Deploy role ARN").fill(ROLE_ARN)
    page.get_by_role("button", name="Plan").click()
    status = page.locator("#deploy-status")
    page.locator("#deploy-status[data-status=planned]").wait_for(timeout=90_000)
    plan = page.locator("#plan")
    assert page.locator("#plan-sentence").inner_text() == "This plan adds 2 resources."
    adds = plan.get_by_role("region", name="2 to add")
    assert adds.locator("li").count() == 2
    assert adds.locator(".symbol").first.inner_text() == "+"
    assert 'terraform_data "app" will be created' in adds.inner_text()
    log = page.locator("#deploy-log")
    assert "Plan: 2 to add" in log.inner_text()
    phases = page.locator("#phases li")
    # Timed by the page when it saw the plan run; a plan that ended before the page
    # looked has no span to show.
    assert re.fullmatch(r"plan: done( \(\d+ s\))?", phases.nth(0).inner_text())
    assert phases.nth(1).inner_text() == "approval: waiting for you"
    assert phases.nth(2).inner_text() == "apply: not started"
    shots.take("planned", "#deploy")
    page.locator("#approve").click()
    page.locator("#deploy-status[data-status=applied]").wait_for(timeout=90_000)
    outputs = page.locator("#outputs")
    assert outputs.get_by_role("link").get_attribute("href").startswith("https://example.test/")
    log_text = log.inner_text()
    assert "Apply complete! Resources: 2 added" in log_text
    assert FAKE_KEY not in log_text and "****" in log_text  # masked in the live log
    assert re.fullmatch(r"approval: done \(\d+ s\)", phases.nth(1).inner_text())
    assert re.fullmatch(r"apply: done \(\d+ s\)", phases.nth(2).inner_text())
    assert re.fullmatch(r"From plan request to done: \d+ s", page.locator("#timings").inner_text())
    shots.take("applied", "#deploy")

    # Every control of the project screen is reachable with Tab, with a focus ring; the
    # cost table shows on keyboard focus as on hover.
    walk = tab_walk(page)
    names = [f["name"] for f in walk]
    for wanted in (
        "Skip to content",
        "Log out",
        "app-zip",
        "app-dir",
        "opt-target",
        "opt-domain",
        "Generate again",
        "variables.tf",
        "Download as zip",
        "Copied",  # the copy button, after its use
        "trust-policy",
        "role-arn",
        "destroy",
        "deploy-log",
    ):
        assert wanted in names, f"Tab never reaches {wanted}: {names}"
    assert [f for f in walk if not f["ring"]] == []
    assert any(n.startswith("lambda:") for n in names)  # the chart's bars
    page.locator("#cost-chart .bar-row.recommended").focus()
    assert page.locator("#cost-tip").is_visible()
    page.locator("#role-arn").focus()
    assert page.evaluate(LOW_CONTRAST_JS) == []

    # The project screen in a narrow window.
    page.set_viewport_size({"width": 375, "height": 800})
    assert sideways(page) == []
    page.locator("#targets").evaluate("el => el.scrollIntoView()")
    shots.take("project-narrow", full_page=False)  # what a phone shows of the chart
    page.set_viewport_size({"width": 1200, "height": 900})

    # The project cannot go while its stack holds infrastructure: the refusal in words.
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("heading", name="Projects").wait_for()
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Really delete shop-web?").click()
    refusal = page.get_by_role("alert").filter(has_text="destroy it first")
    refusal.wait_for()
    assert "applied infrastructure" in refusal.inner_text()

    # Back to the project: its deployments are listed, and one opens where it was left.
    page.get_by_role("link", name="shop-web").click()
    history = page.locator("#history li")
    history.filter(has_text="deploy, applied").wait_for()
    assert history.count() == 1
    history.get_by_role("button").click()
    page.locator("#history-view #deploy-status[data-status=applied]").wait_for()
    assert outputs.get_by_role("link").get_attribute("href").startswith("https://example.test/")

    # Destroy: a destroy plan with the deletions called out, approved, followed to applied.
    page.locator("#destroy").click()
    page.get_by_role("heading", name="Destroy").wait_for()
    page.locator("#deploy-status[data-status=planned]").wait_for(timeout=90_000)
    assert page.locator("#plan-sentence").inner_text() == "This plan deletes 2 resources."
    deletes = page.locator("#plan").get_by_role("region", name="2 to delete")
    assert deletes.locator("h5").inner_text().startswith("⚠")
    assert deletes.locator(".symbol").first.inner_text() == "-"
    page.locator("#approve").click()
    page.locator("#deploy-status[data-status=applied]").wait_for(timeout=90_000)
    assert "Resources: 0 added, 0 changed, 2 destroyed." in log.inner_text()
    shots.take("destroyed", "#history-view")
    assert status.get_attribute("data-status") == "applied"

    # Every control has a name a screen reader can read.
    unnamed = page.evaluate(
        """[...document.querySelectorAll('input, select, button')].filter(el => {
             const id = el.id && document.querySelector(`label[for="${el.id}"]`);
             return !id && !el.getAttribute('aria-label') && !el.textContent.trim();
           }).map(el => el.outerHTML)"""
    )
    assert unnamed == []
    assert re.fullmatch(
        r"\d+ of 50 requests left in this window", page.locator("#status").inner_text()
    )

    # With nothing left running, the project can go.
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Really delete shop-web?").click()
    page.get_by_text("No projects yet.").wait_for()

    # Log out: back at the login screen, the refresh token gone from the tab.
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    page.reload()
    page.get_by_role("heading", name="Log in").wait_for()
    assert page.evaluate(LOW_CONTRAST_JS) == []
    shots.take("login")

    # Nothing fetched from anywhere but loopback; the default limits held.
    foreign = [u for u in requests_seen if urlparse(u).scheme in ("http", "https", "ws", "wss")]
    foreign = [u for u in foreign if urlparse(u).hostname not in LOOPBACK]
    assert foreign == []
    assert [a for a in answers if a[0] == 429] == []
    api_calls = [
        a for a in answers if urlparse(a[2]).netloc == api.netloc and "/assets/" not in a[2]
    ]
    # The default bucket kept headroom (a fixed 15-minute window may turn during the run:
    # the lowest remaining count seen is the most used in one window).
    assert default_left and min(default_left) >= 5, default_left
    print(
        f"browser session: {len(api_calls)} API calls, at most {50 - min(default_left)} "
        "in one window of the default bucket, "
        f"{time.monotonic() - started:.1f} s"
    )


def _seed_live_release(stack: LocalStack, project_id: str) -> None:
    """A stack ``web`` with a live release and an earlier one, as the runner leaves them (the
    page's panels over them; this stack's runner has no release executor)."""
    import boto3

    from chalicelib.store.codec import to_item

    assert stack.resources is not None
    ddb = boto3.client(
        "dynamodb", endpoint_url=stack.emulator_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    now = time.time()
    base = {"pk": f"PROJECT#{project_id}", "project_id": project_id, "created_at_epoch": now}
    release = {**base, "stack": "web", "bundle_id": "b1", "source_upload_id": "up1",
               "created_by": "web@example.com", "app": "web"}  # fmt: skip
    for item in (
        {**release, "sk": "RELEASE#r0", "release_id": "r0", "status": "superseded",
         "image_tag": "src-0000aaaa", "created_at_epoch": now - 60},
        {**release, "sk": "RELEASE#r1", "release_id": "r1", "status": "live",
         "image_tag": "src-1111bbbb", "url": "http://127.0.0.1:9/"},
        {**base, "sk": "JOB#wplan", "job_id": "wplan", "kind": "plan", "status": "planned",
         "phase": "planned", "payload": {}},
        {**base, "sk": "JOB#wapply", "job_id": "wapply", "kind": "apply", "status": "succeeded",
         "phase": "live", "payload": {}},
        {**base, "sk": "DEPLOY#wd1", "deployment_id": "wd1", "stack": "web", "action": "deploy",
         "bundle_id": "b1", "bundle_source": "generated", "role_arn": ROLE_ARN,
         "region": "us-east-1", "plan_job_id": "wplan", "apply_job_id": "wapply",
         "created_at": "2026-12-07T00:00:00Z"},
        {"pk": f"PROJECT#{project_id}", "sk": "STACK#web", "stack": "web",
         "current_deployment_id": "wd1", "project_id": project_id},
    ):  # fmt: skip
        ddb.put_item(TableName=stack.resources.table, Item=to_item(item))


def test_releases_and_config_panels(stack: LocalStack, browser_context: Any) -> None:
    """Releases (tag, time, status, Rollback) and the config panel (a value, a write-only
    secret, a removal) on a project with a live release; the config goes to SSM."""
    secret = "sk_live_browser_0123456789"
    page = browser_context.new_page()
    page.goto(stack.api_url + "/#/signup")
    page.get_by_label("Email").fill(f"panels{time.monotonic_ns()}@example.com")
    page.get_by_label("Password (12 characters or more)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Projects").wait_for()
    page.get_by_label("New project name").fill("panels")
    page.get_by_role("button", name="Create project").click()
    link = page.get_by_role("link", name="panels")
    link.wait_for()
    project_id = link.get_attribute("href").rsplit("/", 1)[-1]

    # Nothing live yet: the config panel says why in words.
    link.click()
    page.locator("#config-empty").filter(has_text="no live deployment").wait_for()
    # The two panels load apart: wait for the releases panel's own answer (reading it at once
    # found it still empty on a loaded host).
    page.locator("#releases").filter(has_text="No releases yet").wait_for()
    assert "No releases yet" in page.locator("#releases").inner_text()

    _seed_live_release(stack, project_id)
    page.reload()
    releases = page.locator("#releases li")
    releases.filter(has_text="src-1111bbbb: live").wait_for()
    assert releases.count() == 2
    assert re.search(r"src-0000aaaa: superseded, \d{4}-\d\d-\d\d \d\d:\d\d by web@",
                     releases.nth(1).inner_text())  # fmt: skip
    assert releases.nth(0).get_by_role("button").count() == 0  # the live one stays
    config = page.locator("#config")
    config.filter(has_text="/autostack/").wait_for()
    assert f"/autostack/{project_id}/web" in config.inner_text()

    # A value, batched (no restart), then a secret with a restart.
    page.get_by_label("Restart the app now").uncheck()
    page.get_by_label("Name", exact=True).fill("lower")
    page.get_by_label("Value", exact=True).fill("x")
    page.get_by_role("button", name="Set").click()
    page.locator("#config-panel p.error").filter(has_text="upper case").wait_for()
    page.get_by_label("Name", exact=True).fill("LOG_LEVEL")
    page.get_by_label("Value", exact=True).fill("debug")
    page.get_by_role("button", name="Set").click()
    page.locator("#config-note").filter(has_text="takes effect at the next release").wait_for()
    page.locator("#config tr[data-name=LOG_LEVEL]").filter(has_text="debug").wait_for()
    page.get_by_label("Restart the app now").check()
    page.get_by_label("Secret (write-only)").check()
    assert page.get_by_label("Value", exact=True).get_attribute("type") == "password"
    page.get_by_label("Name", exact=True).fill("API_KEY")
    page.get_by_label("Value", exact=True).fill(secret)
    page.get_by_role("button", name="Set").click()
    page.locator("#config-note").filter(has_text="restarting the app").wait_for()
    row = page.locator("#config tr[data-name=API_KEY]")
    row.wait_for()
    assert row.get_attribute("data-kind") == "secret" and "write-only" in row.inner_text()
    assert secret not in page.content()

    # Remove the value; roll back to the earlier release.
    page.get_by_label("Remove LOG_LEVEL").click()
    page.locator("#config-note").filter(has_text="Removed LOG_LEVEL").wait_for()
    page.locator("#config tr[data-name=LOG_LEVEL]").wait_for(state="detached")
    assert page.locator("#config tr[data-name=API_KEY]").count() == 1
    page.get_by_role("button", name="Roll back to src-0000aaaa (r0)").click()
    page.locator("#releases-note").filter(has_text="Rolling back to src-0000aaaa").wait_for()
    assert page.evaluate(LOW_CONTRAST_JS) == []
    page.set_viewport_size({"width": 375, "height": 800})
    assert sideways(page) == []


class PublishedFiles(BaseHTTPRequestHandler):
    """The files scripts/publish_dashboard.py would upload, with its types and cache headers."""

    files: dict[str, Any] = {}

    def do_GET(self) -> None:  # http.server's name for the GET handler
        item = self.files.get(urlparse(self.path).path)
        if item is None:
            self.send_error(403)  # what S3 behind CloudFront answers for a missing key
            return
        self.send_response(200)
        self.send_header("Content-Type", item.content_type)
        self.send_header("Cache-Control", item.cache_control)
        self.send_header("Content-Length", str(len(item.body)))
        self.end_headers()
        self.wfile.write(item.body)

    def log_message(self, *args: Any) -> None:
        pass


def test_dashboard_on_its_own_origin_deploys_a_generated_bundle(
    stack: LocalStack, browser_context: Any, page_origin_port: int, tmp_path: Path
) -> None:
    """The AWS shape: the page from one origin (the published files, config.json naming the
    API), the API on another with CORS (AUTOSTACK_CORS_ORIGIN). Then, on the API's origin, a
    generated lambda bundle planned, applied and destroyed (the plan in words, the log, the
    outputs of a real bundle)."""
    started = time.monotonic()
    from scripts.publish_dashboard import collect

    files = {f"/{item.key}": item for item in collect(ROOT / "dashboard" / "dist", stack.api_url)}
    files["/"] = files["/index.html"]
    handler = type("Handler", (PublishedFiles,), {"files": files})
    server = ThreadingHTTPServer(("127.0.0.1", page_origin_port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{page_origin_port}"
    email = f"cors{time.monotonic_ns()}@example.com"
    try:
        page = browser_context.new_page()
        api_hosts: set[str] = set()
        page.on(
            "request",
            lambda r: api_hosts.add(urlparse(r.url).netloc) if "/auth/" in r.url else None,
        )
        page.goto(origin + "/#/signup")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password (12 characters or more)").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        page.get_by_role("heading", name="Projects").wait_for()
        assert api_hosts == {urlparse(stack.api_url).netloc}  # the API's origin, not the page's
        page.get_by_label("New project name").fill("cors-check")
        page.get_by_role("button", name="Create project").click()
        page.get_by_role("link", name="cors-check").wait_for()
        # The rate-limit headers are exposed to the page across origins.
        page.locator("#status").filter(has_text="requests left in this window").wait_for()
        page.reload()  # the refresh token, posted across origins
        page.get_by_role("link", name="cors-check").wait_for()
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("heading", name="Log in").wait_for()
    finally:
        server.shutdown()
        server.server_close()

    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status))

    # The generated bundle, from the page on the API's origin (where `make run` serves
    # it): upload, analyze, lambda, plan, approve, applied, destroy.
    page.goto(stack.api_url + "/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Projects").wait_for()
    page.get_by_role("link", name="cors-check").click()
    page.get_by_role("heading", name="cors-check").wait_for()
    page.locator("#app-dir").set_input_files(str(write_stateless_app(tmp_path)))
    page.locator("#analysis-state").filter(has_text="Analysis succeeded").wait_for(timeout=90_000)
    page.locator("#bundle").wait_for()
    if not page.get_by_role("heading", name="Bundle for lambda", exact=True).is_visible():
        page.get_by_label("Target", exact=True).select_option("lambda")
        page.get_by_role("button", name="Generate again").click()
    page.get_by_role("heading", name="Bundle for lambda", exact=True).wait_for()
    page.get_by_role("heading", name="Deploy generated bundle for lambda").wait_for()
    page.get_by_label("Deploy role ARN").fill(ROLE_ARN)
    page.get_by_role("button", name="Plan").click()
    page.locator("#deploy-status[data-status=planned]").wait_for(timeout=TERRAFORM_S)
    sentence = page.locator("#plan-sentence").inner_text()
    counted = re.fullmatch(r"This plan adds (\d+) resources\.", sentence)
    assert counted, sentence
    adding = int(counted.group(1))
    assert adding >= 8, sentence  # roles, log groups, function, API, stage, route, ...
    adds = page.locator("#plan").get_by_role("region", name=f"{adding} to add")
    assert adds.locator("li").count() == adding
    assert 'aws_lambda_function "app" will be created' in adds.inner_text()
    assert f"Plan: {adding} to add" in page.locator("#deploy-log").inner_text()
    shots = Shots(page, Path(os.environ.get("AUTOSTACK_ARTIFACTS", tmp_path / "screens")))
    shots.take("generated-planned", "#deploy")
    page.locator("#approve").click()
    page.locator("#deploy-status[data-status=applied]").wait_for(timeout=TERRAFORM_S)
    outputs = page.locator("#outputs")
    app_url = outputs.get_by_role("link").first.get_attribute("href")
    assert app_url.startswith("https://"), app_url  # the API Gateway's URL
    assert "app_url" in outputs.inner_text()
    assert '"' not in outputs.inner_text()  # strings as they are, not JSON-quoted
    log = page.locator("#deploy-log")
    assert f"Apply complete! Resources: {adding} added" in log.inner_text()
    # The long log scrolls inside its box; the page keeps its width.
    assert log.evaluate("el => el.scrollHeight > el.clientHeight")
    assert sideways(page) == []
    shots.take("generated-applied", "#deploy")
    page.locator("#destroy").click()
    page.get_by_role("heading", name="Destroy").wait_for()
    page.locator("#deploy-status[data-status=planned]").wait_for(timeout=TERRAFORM_S)
    assert page.locator("#plan-sentence").inner_text() == (f"This plan deletes {adding} resources.")
    page.locator("#approve").click()
    page.locator("#deploy-status[data-status=applied]").wait_for(timeout=TERRAFORM_S)
    assert f"{adding} destroyed." in page.locator("#deploy-log").inner_text()
    assert [a for a in answers if a == 429] == []

    page.get_by_role("button", name="Log out").click()
    print(f"generated bundle in the browser: {time.monotonic() - started:.1f} s")
