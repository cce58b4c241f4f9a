"""MongoDB, RabbitMQ, Elasticsearch, Kafka: not provisioned; the bundle says so and wires them."""

from __future__ import annotations

import re

import pytest
import yaml

from chalicelib.generate.stack import EXTERNAL_SERVICES, PROVISIONED_SERVICES, build_context
from chalicelib.models.profile import EnvVar, Service
from chalicelib.models.templates import TemplateOptions
from tests.golden import stack_profiles as sp
from tests.golden.helpers import bundle_for


def test_every_service_kind_is_either_provisioned_or_documented_as_external() -> None:
    from typing import get_args

    from chalicelib.models.profile import ServiceKind

    kinds = set(get_args(ServiceKind))
    assert kinds == set(PROVISIONED_SERVICES) | set(EXTERNAL_SERVICES) | {"sqlite"}


def test_addresses_become_secrets_under_the_apps_own_names() -> None:
    ctx = build_context(sp.node_external_services(), TemplateOptions())
    assert [(e.kind, e.env_name) for e in ctx.external] == [
        ("mongodb", "MONGO_URI"),  # the app's own variable, moved from plain settings
        ("rabbitmq", "RABBITMQ_URL"),
        ("elasticsearch", "ELASTICSEARCH_URL"),  # ELASTIC_APM_SERVICE_NAME is no address
    ]
    assert ctx.secrets == ["SESSION_SECRET", "MONGO_URI", "RABBITMQ_URL", "ELASTICSEARCH_URL"]
    assert [e.name for e in ctx.env] == ["ELASTIC_APM_SERVICE_NAME"]


def test_a_secret_the_app_already_has_is_reused() -> None:
    profile = sp.worker_only().model_copy(
        update={
            "services": [Service(kind="kafka")],
            "env_vars": [EnvVar(name="KAFKA_BOOTSTRAP_SERVERS", is_secret=True)],
        }
    )
    ctx = build_context(profile, TemplateOptions())
    assert ctx.external[0].env_name == "KAFKA_BOOTSTRAP_SERVERS"
    assert ctx.secrets == ["KAFKA_BOOTSTRAP_SERVERS"]


@pytest.mark.parametrize("target", ["lambda", "ec2", "ecs-fargate"])
def test_every_target_reads_the_addresses_from_ssm(target: str) -> None:
    bundle = bundle_for(sp.node_external_services(), target)
    environment = bundle.files["infra/environment.tf"]
    names = re.search(r"secret_names = toset\(\[(.*)\]\)", environment)
    assert names and '"MONGO_URI"' in names.group(1) and '"ELASTICSEARCH_URL"' in names.group(1)
    everything = "".join(bundle.files.values())
    assert "aws_docdb" not in everything and "aws_mq_broker" not in everything
    assert "aws_opensearch_domain" not in everything  # a refusal, not half a cluster
    readme = bundle.files["infra/README.md"]
    assert "## Services you bring" in readme
    assert "| MongoDB | `MONGO_URI` |" in readme and "| RabbitMQ | `RABBITMQ_URL` |" in readme
    assert "/catalog/MONGO_URI" in readme  # the put-parameter command for it


def test_estimate_says_what_it_leaves_out() -> None:
    bundle = bundle_for(sp.node_external_services())
    left_out = [a for a in bundle.cost.assumptions if "not provisioned" in a]
    assert len(left_out) == 3 and all("not priced" in a for a in left_out)
    assert sum("is not provisioned in AWS" in w for w in bundle.warnings) == 3


def test_compose_runs_them_locally_without_duplicate_keys() -> None:
    text = bundle_for(sp.node_external_services(), "ec2").files["docker-compose.yml"]
    app_block = text.split("\n  app:\n", 1)[1].split("\n\n", 1)[0]
    keys = re.findall(r'^      "([A-Z_]+)":', app_block, flags=re.M)
    assert len(keys) == len(set(keys))
    app = yaml.safe_load(text)["services"]["app"]
    assert app["environment"]["MONGO_URI"] == "mongodb://mongo:27017/app"
    # passed through from .env when set there, else unset (never an empty string)
    assert "SESSION_SECRET" in app["environment"] and app["environment"]["SESSION_SECRET"] is None
    assert {"mongo", "rabbitmq", "elasticsearch"} <= set(yaml.safe_load(text)["services"])
