"""The AWS-call scanner the policy tests rely on (tests/unit/infra/aws_calls.py), on
small synthetic apps; and the runner's instance policy checked with it."""

from __future__ import annotations

import ast
import re
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from tests.unit.infra.aws_calls import (
    AmbiguousCallError,
    all_aws_calls,
    iam_actions,
    loaded_files,
    reachable_aws_calls,
)
from tests.unit.infra.infra_support import REPO_ROOT, documented_s3_prefixes, load_hcl


def _write(root: Path, files: dict[str, str]) -> list[Path]:
    paths = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        paths.append(path)
    return paths


def _actions(calls: list[Any]) -> set[str]:
    return {action for call in calls for action in call.actions}


def test_reachability_follows_routes_imports_and_callbacks(tmp_path: Path) -> None:
    paths = _write(
        tmp_path,
        {
            "app.py": """
                from chalice import Chalice
                from lib import routes
                app = Chalice(app_name="x")
                app.register_blueprint(routes.bp)

                @app.schedule("rate(1 day)")
                def nightly(event):
                    from lib.backup import export
                    export()
            """,
            "lib/__init__.py": "",
            "lib/routes.py": """
                from lib.endpoint import endpoint
                from lib.store import Store
                bp = object()

                @endpoint(bp, "/things")
                def things(req):
                    return req.ctx.store.list_things()
            """,
            "lib/endpoint.py": """
                def endpoint(bp, path):
                    return lambda f: f
            """,
            "lib/store.py": """
                class Store:
                    def __init__(self, client):
                        self.client = client

                    def list_things(self):
                        pages = self.client.get_paginator("query").paginate(TableName="t")
                        entries = [{"Put": {}}, {"Update": {}}]
                        self.client.transact_write_items(TransactItems=entries)
                        return _retry(lambda: self.client.get_item(TableName="t", Key={}))

                def _retry(fn):
                    return fn()

                def never_called(ddb):
                    ddb.batch_write_item(RequestItems={})
            """,
            "lib/backup.py": """
                def export(aws):
                    aws.s3.generate_presigned_url("get_object", Params={})
                    aws.s3.head_object(Bucket="b", Key="k")
                    aws.sqs.send_message(QueueUrl="q", MessageBody="{}")

                def restore(aws):
                    aws.dynamodb.batch_write_item(RequestItems={})
            """,
            "lib/unused.py": """
                def make(ssm):
                    ssm.put_parameter(Name="p", Value="v")
            """,
        },
    )
    app = tmp_path / "app.py"
    sources = [p for p in paths if p != app]
    calls = reachable_aws_calls([app], sources, [tmp_path])
    assert _actions(calls) == {
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "s3:GetObject",
        "sqs:SendMessage",
    }
    # Store.list_things runs because the route names it; never_called, restore and
    # lib/unused.py (never imported) do not count.
    everything = _actions(all_aws_calls(sources))
    assert {"dynamodb:BatchWriteItem", "ssm:PutParameter"} <= everything


def test_store_module_counts_when_a_loaded_module_imports_it(tmp_path: Path) -> None:
    paths = _write(
        tmp_path,
        {
            "app.py": "import lib.store\n",
            "lib/__init__.py": "",
            "lib/store.py": """
                import boto3
                ddb = boto3.client("dynamodb")
                ddb.describe_table(TableName="t")
            """,
        },
    )
    calls = reachable_aws_calls([tmp_path / "app.py"], paths, [tmp_path])
    assert _actions(calls) == {"dynamodb:DescribeTable"}


@pytest.mark.parametrize(
    ("service", "method", "expected"),
    [
        ("s3", "list_objects_v2", ("s3:ListBucket",)),
        ("s3", "head_bucket", ("s3:ListBucket",)),
        ("s3", "head_object", ("s3:GetObject",)),
        ("s3", "delete_objects", ("s3:DeleteObject",)),
        ("s3", "generate_presigned_post", ("s3:PutObject",)),
        ("sqs", "change_message_visibility", ("sqs:ChangeMessageVisibility",)),
        ("sqs", "send_message_batch", ("sqs:SendMessage",)),
        ("ssm", "get_parameter", ("ssm:GetParameter",)),
        ("sts", "get_caller_identity", ()),
        ("dynamodb", "transact_get_items", ("dynamodb:GetItem",)),
    ],
)
def test_iam_action_mapping(service: str, method: str, expected: tuple[str, ...]) -> None:
    assert iam_actions(service, method) == expected


def test_transaction_with_unknown_entries_demands_every_item_action() -> None:
    assert set(iam_actions("dynamodb", "transact_write_items")) == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    }


def test_a_call_of_an_unknown_service_is_refused(tmp_path: Path) -> None:
    (path,) = _write(tmp_path, {"m.py": "def f(client):\n    client.put_resource_policy()\n"})
    with pytest.raises(AmbiguousCallError, match="put_resource_policy"):
        all_aws_calls([path])
    (other,) = _write(tmp_path, {"n.py": "def f(ddb, s3):\n    ddb.query()\n    s3.query()\n"})
    assert [call.method for call in all_aws_calls([other])] == ["query"]


def test_a_module_function_named_like_an_operation_is_not_a_call(tmp_path: Path) -> None:
    (path,) = _write(
        tmp_path,
        {
            "m.py": (
                "import logs_module\nfrom lib import helpers as h\n"
                "def f(s3):\n    logs_module.list_parts(s3)\n    h.put_object(s3)\n"
                "    s3.list_parts(Bucket='b', Key='k', UploadId='u')\n"
            )
        },
    )
    assert [(c.line, c.method) for c in all_aws_calls([path])] == [(6, "list_parts")]


def test_a_non_literal_paginator_is_refused(tmp_path: Path) -> None:
    (path,) = _write(tmp_path, {"m.py": "def f(s3, op):\n    s3.get_paginator(op)\n"})
    with pytest.raises(ValueError, match="non-literal"):
        all_aws_calls([path])


# --- the runner's instance profile covers the runner's calls -------------------------------


def _runner_statements() -> dict[str, dict[str, Any]]:
    document = load_hcl()["data"]["aws_iam_policy_document"]["runner"]
    return {statement["sid"]: statement for statement in document["statement"]}  # allows


_DEPLOY_ROLE_MODULES = {"aws_build.py", "aws_ecs.py", "aws_ec2.py", "aws_lambda.py"}


def _runner_sources() -> tuple[list[Path], list[Path], list[Path]]:
    """The runner's modules (every one counts as loaded), the chalicelib files they may load
    (the item stores are shared), and the import roots."""
    runner_files = sorted(
        path
        for path in (REPO_ROOT / "ec2-runner" / "runner").rglob("*.py")
        # The AWS release executors call the user's account as the user's deploy role
        # (runner.shipping.aws_access), never with the runner's own policy.
        if path.name not in _DEPLOY_ROLE_MODULES
    )
    chalicelib = REPO_ROOT / "chalicelib"
    shared = [*sorted((chalicelib / "store").glob("*.py")), chalicelib / "keys.py"]
    return runner_files, shared, [REPO_ROOT / "ec2-runner", REPO_ROOT]


@lru_cache(maxsize=1)
def _runner_calls() -> list[Any]:
    """The AWS calls the runner can make: all of its own, and those of the shared stores
    its code reaches."""
    runner_files, shared, roots = _runner_sources()
    return all_aws_calls(runner_files) + reachable_aws_calls(runner_files, shared, roots)


def test_runner_policy_allows_every_aws_call_the_runner_makes() -> None:
    calls = _runner_calls()
    assert calls, "expected the runner to call AWS"
    granted = {
        action
        for statement in _runner_statements().values()
        if statement.get("effect", "Allow") == "Allow"
        for action in statement["actions"]
    }
    missing = [
        str(call)
        for call in calls
        for action in call.actions
        if action not in granted and not _in_users_account(call)
    ]
    assert missing == []


def _in_users_account(call: Any) -> bool:
    """The app config's SSM reads run with a deploy-role session in the user's account
    (runner.shipping.app_config): the runner's own role has no SSM at all."""
    return call.service == "ssm" and str(call.path).endswith("runner/shipping/app_config.py")


def _literal_partition_keys(paths: list[Path]) -> set[str]:
    """Values of "pk" / ":pk" entries in dict literals ({"pk": "X"}, {"pk": {"S": f"X#{id}"}},
    or a module constant), with f-string holes filled with "x"."""

    def text(node: ast.AST, constants: dict[str, str]) -> str | None:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return constants.get(f"{node.value.id}.{node.attr}")  # keys.RUNNERS_PK
        if isinstance(node, ast.Dict) and len(node.keys) == 1:
            return text(node.values[0], constants)  # {"S": ...}
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        return None

    keys_module = ast.parse((REPO_ROOT / "chalicelib" / "keys.py").read_text())
    shared = {
        f"keys.{target.id}": statement.value.value
        for statement in keys_module.body
        if isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }
    keys: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text())
        constants = shared | {
            target.id: statement.value.value
            for statement in tree.body
            if isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
            for target in statement.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in ("pk", ":pk"):
                    found = text(value, constants)
                    if found is not None:
                        keys.add(found)
    return keys


# What the runner's role needs beside its own boto3 calls.
RUNNER_PLATFORM_ACTIONS = {
    # Terraform's S3 backend (state, lock file, workspace listing) and the generated
    # provider's AssumeRole into the user's account
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "sts:AssumeRole",
    # the CloudWatch agent, Session Manager and Run Command
    "cloudwatch:PutMetricData",
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
}


def test_runner_policy_holds_nothing_the_runner_does_not_need() -> None:
    needed = {a for call in _runner_calls() for a in call.actions}
    granted = {
        action
        for statement in _runner_statements().values()
        if statement.get("effect", "Allow") == "Allow"
        for action in statement["actions"]
    }
    assert sorted(granted - needed - RUNNER_PLATFORM_ACTIONS) == []


def test_runner_policy_covers_the_partitions_and_prefixes_the_runner_uses() -> None:
    from chalicelib.models.jobs import job_pk
    from runner.semaphore import SEMAPHORE_PK

    config = load_hcl()
    partitions = config["locals"]["runner_table_partitions"]

    def allowed(key: str) -> bool:
        return any(re.fullmatch(p.replace("*", ".*"), key) for p in partitions)

    for key in (job_pk("p1"), SEMAPHORE_PK, "RUNNERS"):
        assert allowed(key), key
    assert not allowed("USER#u1") and not allowed("REFRESH#x")
    literal_keys = _literal_partition_keys(loaded_files(*_runner_sources()))
    assert "RUNNERS" in literal_keys
    for key in literal_keys:
        assert allowed(key), f"the runner writes partition {key!r}, which its policy denies"

    runner_text = "\n".join(  # its own code and the keys it spells through chalicelib.keys
        p.read_text()
        for p in [
            *sorted((REPO_ROOT / "ec2-runner" / "runner").rglob("*.py")),
            REPO_ROOT / "chalicelib" / "keys.py",
        ]
    )
    readable = set(config["locals"]["runner_s3_read_prefixes"]) | set(
        config["locals"]["runner_s3_write_prefixes"]
    )
    used = [p for p in documented_s3_prefixes() if re.search(rf"[\"']{re.escape(p)}", runner_text)]
    assert {"uploads/", "reports/", "logs/", "backups/runner/"} <= set(used)
    for prefix in used:
        assert prefix in readable, f"the runner uses {prefix} keys; its policy has no access"
    # ... and none of the API's own exports.
    assert "backups/api/" not in readable
