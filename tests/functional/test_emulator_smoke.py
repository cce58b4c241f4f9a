import boto3

from devtools.local_resources import LocalResources


def test_local_resources_exist_on_the_emulator(local_resources: LocalResources) -> None:
    sqs = boto3.client(
        "sqs",
        endpoint_url=local_resources.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    attrs = sqs.get_queue_attributes(QueueUrl=local_resources.queue_url, AttributeNames=["All"])
    assert "deadLetterTargetArn" in attrs["Attributes"]["RedrivePolicy"]
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=local_resources.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    assert ddb.describe_table(TableName=local_resources.table)["Table"]["KeySchema"][0] == {
        "AttributeName": "pk",
        "KeyType": "HASH",
    }
