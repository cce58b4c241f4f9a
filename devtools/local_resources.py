"""Create AutoStack's AWS resources on the local emulator.

Used by `make run` and by the tests; the names match the infrastructure's
defaults so that the same settings work everywhere. Idempotent.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import boto3

TABLE_NAME = "autostack"
BUCKET_NAME = "autostack-local"
QUEUE_NAME = "autostack-jobs"
DLQ_NAME = "autostack-jobs-dlq"
JWT_KEY_PARAM = "/autostack/jwt-signing-key"
REGION = "us-east-1"
MAX_RECEIVE_COUNT = 3
VISIBILITY_TIMEOUT_S = 120
# The runner's role on the emulator: Terraform jobs run with scoped sessions of it
# (AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN, ec2-runner/runner/job_session.py), as in AWS.
RUNNER_ROLE_NAME = "autostack-runner-local"
EMULATOR_ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass(frozen=True)
class LocalResources:
    endpoint_url: str
    table: str
    bucket: str
    queue_url: str
    dlq_url: str
    jwt_key_param: str
    session_role_arn: str = f"arn:aws:iam::{EMULATOR_ACCOUNT_ID}:role/{RUNNER_ROLE_NAME}"

    def environment(self) -> dict[str, str]:
        """The environment variables that point the API and the runner at these resources."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AUTOSTACK_TABLE": self.table,
            "AUTOSTACK_BUCKET": self.bucket,
            "AUTOSTACK_QUEUE_URL": self.queue_url,
            "AUTOSTACK_DLQ_URL": self.dlq_url,
            "AUTOSTACK_JWT_KEY_PARAM": self.jwt_key_param,
            "AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN": self.session_role_arn,
        }


def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - the emulator's dummy key
    )


def create_local_resources(endpoint_url: str, suffix: str = "") -> LocalResources:
    """Create the table, bucket, queues and signing-key parameter (if missing)."""
    table = TABLE_NAME + suffix
    bucket = BUCKET_NAME + suffix
    ddb = _client("dynamodb", endpoint_url)
    existing = ddb.list_tables()["TableNames"]
    if table not in existing:
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        ddb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    s3 = _client("s3", endpoint_url)
    s3.create_bucket(Bucket=bucket)
    sqs = _client("sqs", endpoint_url)
    dlq_url = sqs.create_queue(QueueName=DLQ_NAME + suffix)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=QUEUE_NAME + suffix,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
            "ReceiveMessageWaitTimeSeconds": "20",
            "RedrivePolicy": (
                f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVE_COUNT}"}}'
            ),
        },
    )["QueueUrl"]
    ssm = _client("ssm", endpoint_url)
    param = JWT_KEY_PARAM + suffix
    try:
        ssm.get_parameter(Name=param, WithDecryption=True)
    except ssm.exceptions.ParameterNotFound:
        ssm.put_parameter(Name=param, Type="SecureString", Value=secrets.token_urlsafe(48))
    return LocalResources(
        endpoint_url=endpoint_url,
        table=table,
        bucket=bucket,
        queue_url=queue_url,
        dlq_url=dlq_url,
        jwt_key_param=param,
        session_role_arn=create_runner_role(endpoint_url, RUNNER_ROLE_NAME + suffix),
    )


def create_runner_role(endpoint_url: str, name: str) -> str:
    """The runner's role on the emulator (if missing); it may assume itself, as the
    infrastructure's runner role does (infrastructure/iam.tf). Returns its ARN."""
    iam = _client("iam", endpoint_url)
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    arn = f"arn:aws:iam::{EMULATOR_ACCOUNT_ID}:role/{name}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{EMULATOR_ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": arn}},
            }
        ],
    }
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(created["Role"]["Arn"])
