"""The ``autostack`` command: from a folder to a live URL.

Exit codes: 0 ok, 1 failed, 2 usage, 3 refused (a limit, a conflict, too big, a declined
prompt, not available on this server), 4 not found or not signed in, 130 Ctrl-C while
following (the deployment goes on; ``autostack logs -f`` resumes).
"""

from __future__ import annotations

import functools
import os
import sys
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from autostack import __version__, flows, formatting
from autostack.config import ProfileStore, config_dir, resolve_api
from autostack.errors import (
    EXIT_OK,
    CliError,
    NotFoundError,
    RefusedError,
    UsageError,
)
from autostack.output import Output
from autostack.session import Session

EXIT_INTERRUPTED = 130
DEFAULT_REGION = "us-east-1"


@dataclass
class Run:
    """What one command works with: where it writes, its session, what it collected."""

    out: Output
    api_option: str | None
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    result: dict[str, Any] = field(default_factory=dict)
    http: Any = None  # an httpx.Client (tests: ``main(obj={"http": ...})``); None: a new one
    _session: Session | None = None

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty() and not self.out.json_mode

    def store(self) -> ProfileStore:
        return ProfileStore(config_dir(self.environ))

    def session(self) -> Session:
        if self._session is None and self.http is not None:
            store = self.store()
            api = resolve_api(self.api_option, self.environ, store.load()) or ""
            self._session = Session(store, api, http=self.http)
        if self._session is None:
            store = self.store()
            api = resolve_api(self.api_option, self.environ, store.load())
            if not api:
                raise UsageError(
                    "no API URL",
                    hint="pass --api URL or set AUTOSTACK_API (`make run` prints the local one)",
                )
            self._session = Session(store, api)
        return self._session


def command(fn: Callable[..., dict[str, Any] | None]) -> Callable[..., None]:
    """Common options (--json, --api) and one way out: the JSON document or the error line."""

    @click.option("--json", "json_mode", is_flag=True, help="One JSON document on stdout.")
    @click.option("--api", "api_option", metavar="URL", help="The API (else $AUTOSTACK_API).")
    @functools.wraps(fn)
    def wrapper(json_mode: bool, api_option: str | None, **kwargs: Any) -> None:
        given = click.get_current_context().find_root().obj
        http = given.get("http") if isinstance(given, dict) else None
        run = Run(out=Output(json_mode), api_option=api_option, http=http)
        code = EXIT_OK
        try:
            result = fn(run, **kwargs) or {}
            if json_mode:
                run.out.document(result)
        except flows.FollowInterruptedError as stopped:
            code = EXIT_INTERRUPTED
            message = "stopped following; the deployment keeps running on the server"
            hint = "resume with `autostack logs -f`"
            if json_mode:
                run.out.document(
                    {**run.result, "interrupted": True, "deployment_id": stopped.deployment_id}
                )
            else:
                run.out.err.print(f"\n{message} ({hint})", markup=False)
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
            run.out.err.print("\ninterrupted; what was started on the server goes on", markup=False)
        except click.exceptions.Abort:
            code = RefusedError("cancelled at the prompt").exit_code
            run.out.error(RefusedError("cancelled at the prompt"))
        except CliError as error:
            code = error.exit_code
            run.out.error(error)
        sys.exit(code)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autostack")
def main() -> None:
    """AutoStack from the command line: `autostack signup`, then `autostack launch ./myapp`.

    Exit codes: 0 ok, 1 failed, 2 usage, 3 refused, 4 not found or not signed in,
    130 interrupted while following (the deployment goes on).
    """


# -- identity --------------------------------------------------------------------------------


def _password(run: Run, confirm: bool) -> str:
    from_env = run.environ.get("AUTOSTACK_PASSWORD")
    if from_env:
        return from_env
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm, err=True))
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        raise UsageError("no password", hint="set AUTOSTACK_PASSWORD or pipe it on stdin")
    return line


def _email(run: Run, email: str | None) -> str:
    if email:
        return email
    if run.interactive:
        return str(click.prompt("Email", err=True))
    raise UsageError("no email", hint="pass --email")


def _login(run: Run, email: str, password: str) -> dict[str, Any]:
    session = run.session()
    answer = session.call("POST", "/auth/login", {"email": email, "password": password}, auth=False)
    profile = session.sign_in(email, answer)
    run.out.say(f"signed in as {email} at {session.api_url}")
    return {"email": email, "api": profile.api, "signed_in": True}


@main.command()
@click.option("--email", help="Your email address.")
@command
def signup(run: Run, email: str | None) -> dict[str, Any]:
    """Create an account and sign in (password: $AUTOSTACK_PASSWORD or stdin)."""
    email = _email(run, email)
    password = _password(run, confirm=True)
    user = run.session().call(
        "POST", "/auth/signup", {"email": email, "password": password}, auth=False
    )
    run.out.say(f"account created for {user['email']}")
    return {"user": user, **_login(run, user["email"], password)}


@main.command()
@click.option("--email", help="Your email address.")
@command
def login(run: Run, email: str | None) -> dict[str, Any]:
    """Sign in (password: $AUTOSTACK_PASSWORD or stdin); the tokens are saved (mode 0600)."""
    return _login(run, _email(run, email), _password(run, confirm=False))


@main.command()
@command
def logout(run: Run) -> dict[str, Any]:
    """Sign out: the login's tokens are revoked on the server and forgotten here."""
    session = run.session()
    token = session.sign_out()
    if token:
        session.call("POST", "/auth/logout", {"refresh_token": token}, auth=False)
    run.out.say("signed out" if token else "not signed in")
    return {"signed_in": False}


@main.command()
@command
def whoami(run: Run) -> dict[str, Any]:
    """Who is signed in, where."""
    session = run.session()
    me = session.call("GET", "/me")
    run.out.say(f"{me['email']} at {session.api_url} ({me['project_count']} projects)")
    return {"user": me, "api": session.api_url}


# -- launch and deploy ---------------------------------------------------------------------

_dir_argument = click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)


def _choose_target(run: Run, bundle: dict[str, Any], target: str | None) -> str:
    rows = formatting.target_rows(bundle)
    run.result["targets"] = rows
    run.out.heading("\nTargets (monthly, list price / after the free tier; * recommended):")
    run.out.targets(rows)
    recommended = str(bundle["recommendation"]["target"])
    if target:
        return target
    if run.interactive:
        names = [row["target"] for row in rows]
        return str(click.prompt("Target", type=click.Choice(names), default=recommended, err=True))
    return recommended


def _role_arn(run: Run, settings: flows.ProjectFile, role_arn: str | None, role: dict) -> str:
    run.out.heading("\nDeploy role (in your AWS account):")
    run.out.pairs(
        [
            ("trusts", str(role.get("runner_role_arn"))),
            ("ExternalId", str(role.get("external_id"))),
        ]
    )
    chosen = role_arn or settings.get("role_arn")
    if not chosen and run.interactive:
        for line in role.get("instructions") or []:
            run.out.say(f"  - {line}")
        chosen = click.prompt("Role ARN", err=True)
    if not chosen:
        raise UsageError(
            "no deploy role", hint="pass --role-arn arn:aws:iam::<account>:role/<name>"
        )
    return str(chosen)


def _can_confirm(run: Run, yes: bool) -> None:
    """Before anything is created: a run that will need a confirmation must be able to ask."""
    if not yes and not run.interactive:
        raise UsageError("confirmation needed", hint="pass --yes to go ahead without a prompt")


def _confirm(run: Run, question: str, yes: bool) -> None:
    _can_confirm(run, yes)
    if yes:
        return
    if not click.confirm(question, default=True, err=True):
        raise RefusedError("not confirmed: nothing was changed")


def _plan_then_apply(
    run: Run,
    session: Session,
    project_id: str,
    deployment: dict[str, Any],
    yes: bool,
    question: str,
) -> dict[str, Any]:
    """Follow to the plan, show it in words, confirm, approve, follow to the end."""
    settings_id = deployment["id"]
    run.result["deployment_id"] = settings_id
    deployment, read = flows.follow(
        session, run.out, project_id, settings_id, stop_when_planned=True
    )
    if deployment["status"] == "planned":
        run.out.heading("\nThe plan:")
        for line in formatting.plan_lines(deployment.get("plan")):
            run.out.say(f"  {line}")
        cost = deployment.get("cost") or {}
        if cost.get("monthly_usd") is not None:
            run.out.say(f"  estimated cost: {formatting.money(cost['monthly_usd'])} a month")
        try:
            _confirm(run, question, yes)
        except (RefusedError, click.exceptions.Abort):
            session.call("POST", f"/projects/{project_id}/deployments/{settings_id}/cancel")
            raise
        session.call("POST", f"/projects/{project_id}/deployments/{settings_id}/approve")
        deployment, _ = flows.follow(
            session, run.out, project_id, settings_id, stop_when_planned=False, after=read
        )
    run.result["deployment"] = deployment
    if deployment["status"] in ("failed", "cancelled"):
        error = deployment.get("error") or {}
        raise CliError(
            f"the deployment {deployment['status']}: {error.get('message', 'see the log')}",
            hint="`autostack logs` shows the whole log",
            details={"deployment": deployment},
        )
    return deployment


def _ship(
    run: Run,
    directory: Path,
    *,
    target: str | None,
    region: str | None,
    role_arn: str | None,
    bundle_dir: Path | None,
    yes: bool,
    stack: str,
    new_project: bool,
    infra: bool = True,
) -> dict[str, Any]:
    started = time.monotonic()
    _can_confirm(run, yes)
    settings = flows.ProjectFile.load(directory)
    if not new_project:
        settings.require_project()
    packed = flows.pack_folder(run.out, directory)  # refused before anything is sent
    session = run.session()
    session.access_token()  # signed in? (say so before creating anything)
    project = flows.ensure_project(session, run.out, settings)
    project_id = project["id"]
    run.result["project"] = project
    uploaded = flows.upload(session, project_id, packed)
    run.result["upload_id"] = uploaded["id"]
    job = flows.analyze(session, run.out, project_id, uploaded["id"])
    run.result["analysis"] = {k: job.get(k) for k in ("id", "status", "summary")}
    lines = formatting.stack_lines(job)
    run.result["stack"] = dict(lines)
    run.out.heading("\nYour stack:")
    run.out.pairs(lines)

    region = region or settings.get("region") or DEFAULT_REGION
    wanted = target or (None if new_project else settings.get("target"))
    bundle = flows.generate(session, project_id, job["id"], wanted, region)
    chosen = _choose_target(run, bundle, wanted)
    if chosen != bundle["target"]:
        bundle = flows.generate(session, project_id, job["id"], chosen, region)
    run.out.say(f"\ngenerated the {bundle['target']} bundle ({len(bundle['files'])} files)")
    run.result["bundle_id"] = bundle["id"]
    run.result["target"] = bundle["target"]
    if not infra and bundle_dir is None:
        released = _release_if_unchanged(run, session, project_id, bundle, stack, started)
        if released is not None:
            return released
    deploy_bundle = bundle["id"]
    if bundle_dir is not None:
        deploy_bundle = flows.upload_bundle(session, run.out, project_id, bundle_dir)
        run.result["uploaded_bundle_id"] = deploy_bundle

    role = session.call(
        "GET", f"/projects/{project_id}/deploy-role", params={"bundle_id": bundle["id"]}
    )
    arn = _role_arn(run, settings, role_arn, role)
    settings.data.update(
        {"target": bundle["target"], "region": region, "role_arn": arn, "stack": stack}
    )
    settings.save()
    created = session.call(
        "POST",
        f"/projects/{project_id}/deployments",
        {"bundle_id": deploy_bundle, "role_arn": arn, "region": region, "stack": stack},
    )
    settings.data["deployment_id"] = created["id"]
    settings.save()
    run.out.heading(f"\nDeploying ({created['id']}):")
    deployment = _plan_then_apply(run, session, project_id, created, yes, "Apply this plan?")
    url = formatting.app_url(deployment)
    run.result.update(
        {
            "url": url,
            "status": deployment["status"],
            "elapsed_s": round(time.monotonic() - started, 1),
            "requests": dict(session.sent),
        }
    )
    run.out.say("")
    run.out.say(f"{deployment['status']}: {url or '(no app_url output)'}", style="bold green")
    return run.result


def _release_if_unchanged(
    run: Run,
    session: Session,
    project_id: str,
    bundle: dict[str, Any],
    stack: str,
    started: float,
) -> dict[str, Any] | None:
    """A live stack whose infrastructure, build and plans the new bundle leaves as they are
    gets a release of the new source (``POST .../releases``: build, release, roll out,
    verify), like ``fly deploy``; None: plan and apply as a first deploy does."""
    live = flows.live_release(session, project_id, stack)
    if live is None:
        run.out.say(f"nothing is live on stack {stack}: planning the infrastructure")
        return None
    changes = flows.infrastructure_changes(session, project_id, bundle["id"], live["bundle_id"])
    if changes:
        run.out.say(f"the infrastructure changed ({', '.join(changes[:8])}): planning it")
        run.result["infrastructure_changes"] = changes
        return None
    run.out.say(f"stack {stack} is live and its infrastructure is unchanged: releasing the new"
                " source (build, release, roll out, verify; --infra plans it instead)")  # fmt: skip
    queued = session.call(
        "POST",
        f"/projects/{project_id}/releases",
        {"upload_id": run.result["upload_id"], "stack": stack},
    )
    run.result.update({"path": "release", "job_id": queued["job_id"]})
    run.out.heading(f"\nReleasing (job {queued['job_id']}):")
    release = flows.follow_release(session, run.out, project_id, str(queued["job_id"]))
    run.result["release"] = release
    if release["status"] != "live":
        raise CliError(
            f"the release {release['status']}"
            + (f" in {release['failed_phase']}" if release.get("failed_phase") else "")
            + f": {release.get('error') or 'see the log'}",
            hint=f"stack {stack} still serves release {live['id']}",
            details={"release": release},
        )
    url = release.get("url")
    run.result.update(
        {
            "url": url,
            "status": "live",
            "elapsed_s": round(time.monotonic() - started, 1),
            "requests": dict(session.sent),
        }
    )
    run.out.say("")
    run.out.say(f"live: {url or '(no URL)'}", style="bold green")
    return run.result


_deploy_options = [
    click.option("--target", type=click.Choice(["static", "lambda", "ec2", "ecs-fargate"])),
    click.option("--region", help=f"AWS region (default {DEFAULT_REGION})."),
    click.option("--role-arn", help="The role AutoStack deploys with in your account."),
    click.option(
        "--bundle",
        "bundle_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Deploy your own Terraform from this folder instead of the generated bundle.",
    ),
    click.option("--stack", default="main", show_default=True, help="The Terraform state."),
    click.option("--yes", "-y", is_flag=True, help="Apply without asking (for scripts)."),
]


def _with(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    def apply(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


@main.command()
@_dir_argument
@_with(_deploy_options)
@command
def launch(run: Run, directory: Path, **options: Any) -> dict[str, Any]:
    """Pack DIRECTORY, analyze it, pick a target, generate, plan, confirm, apply: the URL."""
    return _ship(run, directory, new_project=True, **options)


@main.command()
@_dir_argument
@_with(_deploy_options)
@click.option(
    "--infra",
    is_flag=True,
    help="Plan and apply the infrastructure even when it is unchanged (else a live stack"
    " with the same infrastructure only gets a release of the new source).",
)
@command
def deploy(run: Run, directory: Path, infra: bool, **options: Any) -> dict[str, Any]:
    """Deploy new source from DIRECTORY to its existing project and stack.

    A live stack whose infrastructure the new source leaves as it is gets a release
    (build, release, roll out, verify); otherwise, or with --infra, plan and apply."""
    return _ship(run, directory, new_project=False, infra=infra, **options)


# -- looking at things ------------------------------------------------------------------------

_dir_option = click.option(
    "--dir",
    "directory",
    default=".",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The app's folder (where .autostack.json is).",
)


def _latest(run: Run, project_id: str, action: str | None = None) -> dict[str, Any]:
    listed = run.session().call("GET", f"/projects/{project_id}/deployments")["deployments"]
    for deployment in listed:
        if action is None or deployment["action"] == action:
            return dict(deployment)
    raise NotFoundError("no deployment yet", hint="run `autostack launch`")


@main.command()
@_dir_option
@command
def status(run: Run, directory: Path) -> dict[str, Any]:
    """The project's newest deployment: its state and URL."""
    settings = flows.ProjectFile.load(directory)
    project_id = settings.require_project()
    project = run.session().call("GET", f"/projects/{project_id}")
    deployment = _latest(run, project_id)
    url = formatting.app_url(deployment)
    run.out.pairs(
        [
            ("project", f"{project['name']} ({project_id})"),
            ("deployment", formatting.deployment_line(deployment)),
            ("url", url or "-"),
        ]
    )
    return {"project": project, "deployment": deployment, "url": url}


@main.command()
@_dir_option
@click.option("--follow", "-f", is_flag=True, help="Keep following until it settles.")
@click.option("--deployment", "deployment_id", help="A deployment id (default: the newest).")
@command
def logs(run: Run, directory: Path, follow: bool, deployment_id: str | None) -> dict[str, Any]:
    """The newest deployment's Terraform log (-f: follow it live)."""
    project_id = flows.ProjectFile.load(directory).require_project()
    session = run.session()
    deployment_id = deployment_id or _latest(run, project_id)["id"]
    run.result["deployment_id"] = deployment_id
    if follow:
        final, _ = flows.follow(session, run.out, project_id, deployment_id, stop_when_planned=True)
        return {"deployment": final}
    answer = session.call(
        "GET", f"/projects/{project_id}/deployments/{deployment_id}/logs", params={"after": 0}
    )
    run.out.log_text(answer["text"])
    return {"deployment_id": deployment_id, **answer}


@main.command()
@_dir_option
@click.option("--yes", "-y", is_flag=True, help="Destroy without asking (for scripts).")
@command
def destroy(run: Run, directory: Path, yes: bool) -> dict[str, Any]:
    """Plan the destruction of the stack, confirm, apply it."""
    _can_confirm(run, yes)
    settings = flows.ProjectFile.load(directory)
    project_id = settings.require_project()
    session = run.session()
    newest = _latest(run, project_id)
    created = session.call("POST", f"/projects/{project_id}/deployments/{newest['id']}/destroy", {})
    run.out.heading(f"Destroying ({created['id']}):")
    final = _plan_then_apply(run, session, project_id, created, yes, "Destroy all of this?")
    run.out.say(f"destroyed: {final['status']}")
    settings.data["deployment_id"] = final["id"]
    settings.save()
    return {"deployment": final, "status": final["status"]}


@main.command()
@_dir_option
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Write here."
)
@command
def templates(run: Run, directory: Path, out_dir: Path | None) -> dict[str, Any]:
    """The generated bundle's files (--out DIR writes them to disk)."""
    settings = flows.ProjectFile.load(directory)
    project_id = settings.require_project()
    session = run.session()
    listed = session.call("GET", f"/projects/{project_id}/templates")["bundles"]
    if not listed:
        raise NotFoundError("no generated bundle yet", hint="run `autostack launch`")
    bundle = listed[0]
    if out_dir is None:
        full = session.call("GET", f"/projects/{project_id}/templates/{bundle['id']}")
        for name in full["files"]:
            run.out.say(name)
        return {"bundle": {k: full[k] for k in ("id", "target", "region", "files")}}
    link = session.call("GET", f"/projects/{project_id}/templates/{bundle['id']}/download")
    written = flows.safe_extract(session.get_bytes(link["url"]), out_dir)
    run.out.say(f"wrote {len(written)} files to {out_dir}")
    return {"bundle_id": bundle["id"], "out": str(out_dir), "files": written}


@main.command()
@command
def projects(run: Run) -> dict[str, Any]:
    """Your projects."""
    listed = run.session().call("GET", "/projects")
    run.out.rows(
        ["id", "name", "created"],
        [[p["id"], p["name"], p["created_at"]] for p in listed["projects"]],
    )
    return dict(listed)


@main.command(name="open")
@_dir_option
@click.option("--no-browser", is_flag=True, help="Only print the URL.")
@command
def open_url(run: Run, directory: Path, no_browser: bool) -> dict[str, Any]:
    """Print the app's URL (and open it in a browser on a terminal)."""
    project_id = flows.ProjectFile.load(directory).require_project()
    deployment = _latest(run, project_id, action="deploy")
    url = formatting.app_url(deployment)
    if not url:
        raise NotFoundError("no URL yet", hint="the newest deployment has no app_url output")
    if run.out.json_mode:
        return {"url": url}
    click.echo(url)
    if run.out.tty and not no_browser:
        webbrowser.open(url)
    return {"url": url}


# -- releases, rollback, config ------------------------------------------------------------


def _project(directory: Path) -> str:
    return flows.ProjectFile.load(directory).require_project()


def _releases(run: Run, project_id: str) -> list[dict[str, Any]]:
    return list(run.session().call("GET", f"/projects/{project_id}/releases")["releases"])


@main.command()
@_dir_option
@command
def releases(run: Run, directory: Path) -> dict[str, Any]:
    """The app's releases, newest first: status, image tag, when, who, URL."""
    project_id = _project(directory)
    listed = _releases(run, project_id)
    if not listed:
        run.out.say("no release yet (a generated bundle is released after its apply)")
    run.out.rows(
        ["id", "status", "image", "created", "by", "url"],
        [
            [
                r["id"],
                r["status"] + (f" ({r['failed_phase']})" if r.get("failed_phase") else ""),
                r["image_tag"],
                formatting.epoch_time(r["created_at_epoch"]),
                r["created_by"],
                r.get("url") or "-",
            ]
            for r in listed
        ],
    )
    return {"project_id": project_id, "releases": listed}


def previous_release(listed: list[dict[str, Any]]) -> dict[str, Any]:
    """The release that went live before the live one (``listed`` newest first)."""
    went_live = [r for r in listed if r.get("status") in ("live", "superseded", "rolled_back")]
    live = next((i for i, r in enumerate(went_live) if r.get("status") == "live"), None)
    if live is None:
        raise NotFoundError("no live release", hint="`autostack releases` lists them")
    if live + 1 >= len(went_live):
        raise RefusedError(
            "the live release is the first one: there is nothing to roll back to",
            hint="`autostack releases` lists them",
        )
    return went_live[live + 1]


@main.command()
@click.argument("release_id", required=False)
@click.option("--previous", is_flag=True, help="The release that was live before this one.")
@_dir_option
@command
def rollback(run: Run, release_id: str | None, previous: bool, directory: Path) -> dict[str, Any]:
    """Put an earlier release back (RELEASE_ID, or --previous): queued as a new release."""
    if bool(release_id) == previous:
        raise UsageError("which release?", hint="pass a RELEASE_ID or --previous (not both)")
    project_id = _project(directory)
    if previous:
        release_id = str(previous_release(_releases(run, project_id))["id"])
    answer = run.session().call("POST", f"/projects/{project_id}/releases/{release_id}/rollback")
    run.out.say(
        f"rolling back to {release_id} on stack {answer['stack']} (job {answer['job_id']});"
        " `autostack releases` shows it go live"
    )
    return {"project_id": project_id, **answer}


def _config_list(run: Run, directory: Path) -> dict[str, Any]:
    project_id = _project(directory)
    answer = run.session().call("GET", f"/projects/{project_id}/config")
    entries = answer["entries"]
    if not entries:
        run.out.say(f"no config on stack {answer['stack']} (`autostack config set NAME=value`)")
    run.out.rows(
        ["name", "kind", "value", "updated"],
        [
            [
                e["name"],
                e["kind"],
                formatting.config_value(e),
                formatting.epoch_time(e["updated_at_epoch"]) if e.get("updated_at_epoch") else "-",
            ]
            for e in entries
        ],
    )
    return {"project_id": project_id, **answer}


def _secret_value(run: Run, name: str) -> str:
    if sys.stdin.isatty():
        return str(click.prompt(f"Value of {name}", hide_input=True, err=True))
    value = sys.stdin.read()
    value = value[:-1] if value.endswith("\n") else value
    if not value:
        raise UsageError(f"no value for {name}", hint="pipe the value on stdin")
    return value


def _changed(run: Run, answer: dict[str, Any], what: str) -> None:
    names = ", ".join(answer["changed"])
    if answer["restarting"] and answer.get("status") == "already_queued":
        run.out.say(
            f"{what} {names} on stack {answer['stack']}; the restart already queued (job"
            f" {answer['job_id']}) takes it too: `autostack releases` shows it go live"
        )
    elif answer["restarting"]:
        run.out.say(
            f"{what} {names} on stack {answer['stack']}; restarting the app (job"
            f" {answer['job_id']}): `autostack releases` shows it go live"
        )
    else:
        run.out.say(f"{what} {names} on stack {answer['stack']} (takes effect at the next release)")


_restart_option = click.option(
    "--no-restart", is_flag=True, help="Do not restart the app now (batch several changes)."
)


@main.group(invoke_without_command=True)
@click.option("--json", "json_mode", is_flag=True, help="One JSON document on stdout.")
@click.option("--api", "api_option", metavar="URL", help="The API (else $AUTOSTACK_API).")
@_dir_option
@click.pass_context
def config(ctx: click.Context, json_mode: bool, api_option: str | None, directory: Path) -> None:
    """The app's config and secrets (in your AWS account's SSM): list, set, unset."""
    if ctx.invoked_subcommand is None:  # `autostack config` lists
        ctx.invoke(config_list, json_mode=json_mode, api_option=api_option, directory=directory)


@config.command(name="list")
@_dir_option
@command
def config_list(run: Run, directory: Path) -> dict[str, Any]:
    """List the config: values, secrets and generated secrets (never a secret's value)."""
    return _config_list(run, directory)


@config.command(name="set")
@click.argument("pairs", nargs=-1)
@click.option(
    "--secret",
    "secret_name",
    metavar="NAME",
    help="Set a secret: the value is read from stdin, or a prompt that does not echo.",
)
@_restart_option
@_dir_option
@command
def config_set(
    run: Run, pairs: tuple[str, ...], secret_name: str | None, no_restart: bool, directory: Path
) -> dict[str, Any]:
    """Set NAME=value pairs (and/or --secret NAME); the app restarts unless --no-restart."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"{pair!r} is not NAME=value", hint="e.g. LOG_LEVEL=info")
        values[name] = value
    secrets: dict[str, str] = {}
    if secret_name:
        secrets[secret_name] = _secret_value(run, secret_name)
    if not values and not secrets:
        raise UsageError("nothing to set", hint="pass NAME=value or --secret NAME")
    project_id = _project(directory)
    answer = run.session().call(
        "PUT",
        f"/projects/{project_id}/config",
        {"values": values, "secrets": secrets},
        params={"restart": "false" if no_restart else "true"},
    )
    _changed(run, answer, "set")
    return {"project_id": project_id, **answer}


@config.command(name="unset")
@click.argument("name")
@_restart_option
@_dir_option
@command
def config_unset(run: Run, name: str, no_restart: bool, directory: Path) -> dict[str, Any]:
    """Remove NAME (a value or a secret); the app restarts unless --no-restart."""
    project_id = _project(directory)
    answer = run.session().call(
        "DELETE",
        f"/projects/{project_id}/config/{name}",
        params={"restart": "false" if no_restart else "true"},
    )
    _changed(run, answer, "unset")
    return {"project_id": project_id, **answer}


if __name__ == "__main__":
    main()
