"""Every key of the table and the bucket, spelled once (both processes import these).

Table (one table, ``pk``/``sk``): a project's work lives in its own partition
(``PROJECT#<id>``) so that one query reads or purges all of it; the user's items in
``USER#<id>``; the Terraform semaphore in one partition so that one consistent query
reads all of it. Bucket: one prefix per kind of object, then the project id, so that a
project's objects can be listed and purged by prefix.
"""

from __future__ import annotations

import re

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# --------------------------------------------------------------------------- table

# users, emails, the users' counter
USER_SK = "USER"
EMAIL_SK = "EMAIL"
USERS_COUNTER_PK = "LIMIT#users"
USERS_COUNTER_SK = "LIMIT"
# a project's lookup item (owner by project id)
PROJECT_SK = "PROJECT"
# refresh tokens and their families
REFRESH_SK = "REFRESH"
FAMILY_SK = "FAMILY"
# runners' heartbeats, health probe
RUNNERS_PK = "RUNNERS"
HEALTH_PK = HEALTH_SK = "HEALTH"
# rate-limit and login windows
RATE_SK = "RATE"

# sort-key prefixes inside a project's partition
JOB_PREFIX = "JOB#"
UPLOAD_PREFIX = "UPLOAD#"
BUNDLE_PREFIX = "BUNDLE#"  # generated template bundles
TF_BUNDLE_PREFIX = "TFBUNDLE#"  # uploaded Terraform bundles
DEPLOY_PREFIX = "DEPLOY#"
STACK_PREFIX = "STACK#"
RELEASE_PREFIX = "RELEASE#"  # shipped releases (image tag, source upload, status)
PROJECT_PREFIX = "PROJECT#"  # a user's projects (sk), a project's partition (pk)

# the Terraform semaphore (runner.semaphore): slots and waiters
SEMAPHORE_PK = "SEMAPHORE#terraform"
SLOT_PREFIX = "SLOT#"
WAIT_PREFIX = "WAIT#"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def email_pk(email: str) -> str:
    return f"EMAIL#{email}"


def project_pk(project_id: str) -> str:
    """A project's partition: its lookup item, jobs, uploads, bundles, deployments, stacks."""
    return f"{PROJECT_PREFIX}{project_id}"


def project_sk(project_id: str) -> str:
    """A project under its owner (``USER#<owner>``)."""
    return f"{PROJECT_PREFIX}{project_id}"


def refresh_pk(token_hash: str) -> str:
    return f"REFRESH#{token_hash}"


def family_pk(family_id: str) -> str:
    return f"FAMILY#{family_id}"


def runner_sk(runner_id: str) -> str:
    return f"RUNNER#{runner_id}"


def rate_pk(user_id: str, bucket: str, window_start: int) -> str:
    return f"RATE#{user_id}#{bucket}#{window_start}"


def login_email_pk(email: str) -> str:
    return f"LOGIN#email#{email}"


def login_ip_pk(ip_group: str) -> str:
    return f"LOGIN#ip#{ip_group}"


def signup_ip_pk(ip_group: str) -> str:
    return f"SIGNUP#ip#{ip_group}"


def window_sk(window_start: int) -> str:
    return f"WINDOW#{window_start}"


def job_sk(job_id: str) -> str:
    return f"{JOB_PREFIX}{job_id}"


def upload_sk(upload_id: str) -> str:
    return f"{UPLOAD_PREFIX}{upload_id}"


def bundle_sk(bundle_id: str) -> str:
    return f"{BUNDLE_PREFIX}{bundle_id}"


def tf_bundle_sk(bundle_id: str) -> str:
    return f"{TF_BUNDLE_PREFIX}{bundle_id}"


def deploy_sk(deployment_id: str) -> str:
    return f"{DEPLOY_PREFIX}{deployment_id}"


def release_sk(release_id: str) -> str:
    """A release under its project; ids sort by time (``<epoch ms>-<random>``)."""
    return f"{RELEASE_PREFIX}{release_id}"


def stack_sk(stack: str) -> str:
    return f"{STACK_PREFIX}{stack}"


def slot_sk(slot: int) -> str:
    return f"{SLOT_PREFIX}{slot}"


def wait_sk(job_id: str) -> str:
    return f"{WAIT_PREFIX}{job_id}"


# --------------------------------------------------------------------------- bucket


def upload_key(project_id: str, upload_id: str, fmt: str) -> str:
    return f"uploads/{project_id}/{upload_id}.{fmt}"


def uploads_prefix(project_id: str) -> str:
    return f"uploads/{project_id}/"


def report_key(project_id: str, job_id: str) -> str:
    return f"reports/{project_id}/{job_id}.json"


def bundle_files_prefix(project_id: str, bundle_id: str) -> str:
    """Where a bundle's files live, one object each (generated and uploaded bundles alike)."""
    return f"bundles/{project_id}/{bundle_id}/"


def bundle_zip_key(project_id: str, bundle_id: str) -> str:
    return f"bundles/{project_id}/{bundle_id}.zip"


def bundle_document_key(project_id: str, bundle_id: str) -> str:
    return f"bundles/{project_id}/{bundle_id}.json"


def state_key(project_id: str, stack: str) -> str:
    """The S3 key of a stack's Terraform state (one key per stack, ``use_lockfile``)."""
    for name, value in (("project_id", project_id), ("stack", stack)):
        if not _ID.match(value):
            raise ValueError(f"{name}: {value!r} is not a valid id")
    return f"tfstate/{project_id}/{stack}.tfstate"


def plans_prefix(project_id: str, stack: str) -> str:
    return f"plans/{project_id}/{stack}/"


def plan_key(project_id: str, stack: str, job_id: str) -> str:
    """Where a plan job keeps its saved plan until approval (it holds secrets: SSE, short-lived)."""
    return f"{plans_prefix(project_id, stack)}{job_id}.tfplan"


def job_logs_prefix(project_id: str, job_id: str) -> str:
    return f"logs/{project_id}/{job_id}/"


def attempt_logs_prefix(project_id: str, job_id: str, attempt: int) -> str:
    return f"{job_logs_prefix(project_id, job_id)}attempt-{attempt}/"


def log_part_key(project_id: str, job_id: str, attempt: int, part: int) -> str:
    return f"{attempt_logs_prefix(project_id, job_id, attempt)}part-{part:04d}.log"
