"""The dashboard in headless Chromium against the local stack (emulator, `chalice local`, runner).

One whole session at the default rate limits: sign up, create and rename a project, upload a
fixture app as a folder (packed in the page), profile with evidence and masked secrets, the
cost chart, the generated bundle, then an uploaded `terraform_data` bundle planned, approved,
followed to `applied`, destroyed, and log out. Debian's Chromium is driven by Playwright with
`executable_path` (never a downloaded browser). Screenshots of each screen go to
`AUTOSTACK_ARTIFACTS` (default: pytest's tmp dir); `AUTOSTACK_UPDATE_SCREENSHOTS=1` also
refreshes the ones in docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
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
README_SHOTS = {"projects", "profile", "targets", "bundle", "planned", "applied"}

TERRAFORM = """
variable "role_arn" {
  type = string
}

resource "terraform_data" "app" {
  input = "app for ${var.role_arn}"
}

resource "terraform_data" "cache" {
  input = "cache"
}

output "app_url" {
  value = "https://example.test/${terraform_data.app.id}"
}
"""


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
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    tmp = tmp_path_factory.mktemp("dashboard-stack")
    env = {  # the default rate limits: a dashboard session must fit in them
        "AUTOSTACK_SCRYPT_N": "4096",
        "AUTOSTACK_RUNNER_DB": str(tmp / "runner.db"),
        "AUTOSTACK_RUNNER_WORK_DIR": str(tmp / "work"),
        "AUTOSTACK_RUNNER_WAIT_S": "1",
        "AUTOSTACK_RUNNER_HEARTBEAT_S": "0.5",
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

    def take(self, name: str, selector: str | None = None) -> None:
        path = self.folder / f"{name}.png"
        if selector:
            self.page.locator(selector).screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=True)
        if self.update and name in README_SHOTS:
            shutil.copy(path, ROOT / "docs" / "screenshots" / path.name)


def test_whole_session_in_the_browser(
    stack: LocalStack, browser_context: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    page = browser_context.new_page()
    api = urlparse(stack.api_url)
    allowed_hosts = {api.netloc, urlparse(stack.emulator_url).netloc}
    requests_seen: list[str] = []
    answers: list[tuple[int, str, str]] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    page.on("response", lambda r: answers.append((r.status, r.request.method, r.url)))
    shots = Shots(page, Path(os.environ.get("AUTOSTACK_ARTIFACTS", tmp_path / "screens")))

    # Sign up (the page logs in after) and land on the projects.
    page.goto(stack.api_url + "/#/signup")
    page.get_by_label("Email").fill(f"web{time.monotonic_ns()}@example.com")
    page.get_by_label("Password (12 characters or more)").fill(PASSWORD)
    shots.take("signup")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Projects").wait_for()

    # Create, refuse a bad name in words, rename.
    page.get_by_label("New project name").fill("shop")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("link", name="shop").wait_for()
    page.get_by_label("New name for shop").fill("x" * 64 + "!")  # the page caps at 64
    assert page.get_by_label("New name for shop").input_value() == "x" * 64
    page.get_by_label("New name for shop").fill("bad name with / slash")
    page.get_by_role("button", name="Rename").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "name" in alert.inner_text()
    page.get_by_label("New name for shop").fill("shop-web")
    page.get_by_role("button", name="Rename").click()
    page.get_by_role("link", name="shop-web").wait_for()
    shots.take("projects")

    # Narrow window: nothing wider than the screen.
    page.set_viewport_size({"width": 380, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shots.take("projects-narrow")
    page.set_viewport_size({"width": 1200, "height": 900})

    # Upload the app as a folder: packed in the page, straight to the presigned POST.
    page.get_by_role("link", name="shop-web").click()
    page.get_by_role("heading", name="shop-web").wait_for()
    page.locator("#app-dir").set_input_files(str(write_fixture_app(tmp_path / "src")))
    state = page.locator("#analysis-state")
    state.filter(has_text="Analysis succeeded").wait_for(timeout=90_000)
    assert page.locator("#pack-note").inner_text().startswith("4 files packed")
    assert page.locator("#pack-note").inner_text().endswith("6 left out")
    assert page.locator("#upload-progress").get_attribute("value") == "100"
    profile = page.locator("#profile")
    profile.wait_for()
    text = profile.inner_text()
    assert "flask" in text and "app.py:" in text, text  # the finding and its evidence
    secrets = page.locator("#secrets").inner_text()
    assert "aws_access_key_id" in secrets and "settings.py:1" in secrets
    assert FAKE_KEY not in page.content()  # masked, never shown
    shots.take("profile", "#profile")

    # Targets: a bar per target, the recommended one with its reasons, per resource on hover.
    page.locator("#cost-chart .bar-row.recommended").wait_for()
    assert page.locator("#reasons li").count() >= 1
    page.locator("#cost-chart .bar-row.recommended").hover()
    tip = page.locator("#cost-tip")
    tip.wait_for()
    assert "per resource" in tip.inner_text() and "$" in tip.inner_text()
    shots.take("targets", "#targets")

    # The bundle: a file tree with highlighted contents.
    page.locator("#bundle button.file", has_text="variables.tf").first.click()
    assert page.locator("#file-view .tok-keyword").count() > 0
    shots.take("bundle", "#bundle")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as zip").click()
    assert download.value.suggested_filename.endswith(".zip")

    # Your own Terraform, uploaded as a folder, then plan -> approve -> applied.
    tf = tmp_path / "tf"
    tf.mkdir()
    (tf / "main.tf").write_text(TERRAFORM)
    page.locator("#tf-dir").set_input_files(str(tf))
    page.locator("#tf-state").filter(has_text="ready").wait_for()
    page.get_by_text("The deploy role to create in your account").click()
    page.locator("#trust-policy").filter(has_text="sts:ExternalId").wait_for()
    page.get_by_label("Deploy role ARN").fill(ROLE_ARN)
    page.get_by_role("button", name="Plan").click()
    status = page.locator("#deploy-status")
    page.locator("#deploy-status[data-status=planned]").wait_for(timeout=90_000)
    assert "2 to add, 0 to change, 0 to replace, 0 to delete." in page.locator("#plan").inner_text()
    assert "Plan: 2 to add" in page.locator("#deploy-log").inner_text()
    shots.take("planned", "#deploy")
    page.locator("#approve").click()
    page.locator("#deploy-status[data-status=applied]").wait_for(timeout=90_000)
    outputs = page.locator("#outputs")
    assert outputs.get_by_role("link").get_attribute("href").startswith("https://example.test/")
    assert "Apply complete! Resources: 2 added" in page.locator("#deploy-log").inner_text()
    assert "apply:" in page.locator("#timings").inner_text()
    shots.take("applied", "#deploy")

    # Destroy: a destroy plan, approved, followed to applied.
    page.locator("#destroy").click()
    page.get_by_role("heading", name="Destroy").wait_for()
    page.locator("#deploy-status[data-status=planned]").wait_for(timeout=90_000)
    assert "2 to delete" in page.locator("#plan").inner_text()
    page.locator("#approve").click()
    page.locator("#deploy-status[data-status=applied]").wait_for(timeout=90_000)
    assert "Resources: 0 added, 0 changed, 2 destroyed." in page.locator("#deploy-log").inner_text()
    shots.take("destroyed", "#deploy")
    assert status.get_attribute("data-status") == "applied"

    # Every control has a name a screen reader can read.
    unnamed = page.evaluate(
        """[...document.querySelectorAll('input, select, button')].filter(el => {
             const id = el.id && document.querySelector(`label[for="${el.id}"]`);
             return !id && !el.getAttribute('aria-label') && !el.textContent.trim();
           }).map(el => el.outerHTML)"""
    )
    assert unnamed == []

    # Log out: back at the login screen, the refresh token gone from the tab.
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for()
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    page.reload()
    page.get_by_role("heading", name="Log in").wait_for()
    shots.take("login")

    # Nothing fetched from anywhere but AutoStack and its bucket; the default limits held.
    foreign = [u for u in requests_seen if urlparse(u).scheme in ("http", "https")]
    foreign = [u for u in foreign if urlparse(u).netloc not in allowed_hosts]
    assert foreign == []
    assert [a for a in answers if a[0] == 429] == []
    api_calls = [
        a for a in answers if urlparse(a[2]).netloc == api.netloc and "/assets/" not in a[2]
    ]
    assert len(api_calls) < 60, api_calls  # 50 + status reads, see the report below
    print(f"browser session: {len(api_calls)} API calls, {time.monotonic() - started:.1f} s")
