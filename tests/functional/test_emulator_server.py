"""devtools/emulator_server.py: kept connections and partition-scoped queries answer like
moto's plain server (the session's emulator process is started from that script)."""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

_names = itertools.count()
SIGNED = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/dynamodb/aws4_request,"
    " SignedHeaders=host, Signature=0"
)


def client(emulator_url: str, service: str):
    return boto3.session.Session().client(
        service,
        region_name="us-east-1",
        endpoint_url=emulator_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=4),
    )


def dynamodb_request(target: str, body: dict) -> tuple[bytes, dict[str, str]]:
    payload = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{target}",
        "Authorization": SIGNED,
    }
    return payload, headers


def new_table(ddb, range_key: bool = True) -> str:
    name = f"k-emulator-{next(_names)}-{random.randrange(10**6)}"
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": "S"})
    ddb.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def test_one_connection_carries_many_requests(emulator_url: str) -> None:
    ddb = client(emulator_url, "dynamodb")
    table = new_table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"S": "x" * 5000}})
    url = urlsplit(emulator_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        for _ in range(5):
            payload, headers = dynamodb_request(
                "GetItem", {"TableName": table, "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}}}
            )
            connection.request("POST", "/", body=payload, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200
            assert answer["Item"]["v"]["S"] == "x" * 5000
            assert (response.getheader("Connection") or "").lower() != "close"
        first_socket = connection.sock
        payload, headers = dynamodb_request("DescribeTable", {"TableName": table})
        connection.request("POST", "/", body=payload, headers=headers)
        assert connection.getresponse().read()
        assert connection.sock is first_socket  # never reconnected
    finally:
        connection.close()


def test_chunked_request_is_answered_and_closed(emulator_url: str) -> None:
    ddb = client(emulator_url, "dynamodb")
    table = new_table(ddb)
    payload, headers = dynamodb_request("DescribeTable", {"TableName": table})
    url = urlsplit(emulator_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("POST", "/", body=iter([payload]), headers=headers)  # chunked
        response = connection.getresponse()
        assert json.loads(response.read())["Table"]["TableName"] == table
        assert response.getheader("Connection", "").lower() == "close"
    finally:
        connection.close()


def test_large_bodies_and_errors_on_kept_connections(emulator_url: str) -> None:
    s3 = client(emulator_url, "s3")
    bucket = f"k-emulator-{next(_names)}-{random.randrange(10**6)}"
    s3.create_bucket(Bucket=bucket)
    body = bytes(random.randrange(256) for _ in range(1000)) * 3000
    for key in ("one", "two"):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == body
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="missing")
    assert s3.get_object(Bucket=bucket, Key="two")["Body"].read() == body
    ddb = client(emulator_url, "dynamodb")
    table = new_table(ddb)
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    ddb.put_item(TableName=table, Item=key)
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=table, Item=key, ConditionExpression="attribute_not_exists(pk)")
    assert ddb.get_item(TableName=table, Key=key)["Item"] == key


def test_concurrent_conditional_writes_stay_atomic(emulator_url: str) -> None:
    ddb = client(emulator_url, "dynamodb")
    table = new_table(ddb)
    passed: list[int] = []

    def hit() -> None:
        try:
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": "counter"}, "sk": {"S": "c"}},
                UpdateExpression="SET #c = if_not_exists(#c, :zero) + :one",
                ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": "7"},
                },
            )
            passed.append(1)
        except ddb.exceptions.ConditionalCheckFailedException:
            pass

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "counter"}, "sk": {"S": "c"}})["Item"]
    assert len(passed) == 7
    assert item["count"]["N"] == "7"


def query_all(ddb, **kwargs) -> list[dict]:
    items: list[dict] = []
    while True:
        page = ddb.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_queries_see_exactly_their_partition(emulator_url: str) -> None:
    ddb = client(emulator_url, "dynamodb")
    table = new_table(ddb)
    rng = random.Random(7)
    expected: dict[str, list[str]] = {}
    for pk in ("USER#a", "USER#b", "USER#ab", "REFRESH#x"):
        sks = rng.sample([f"PROJECT#{i:03d}" for i in range(60)] + ["USER", "A", "Z"], 25)
        expected[pk] = sorted(sks)
        for sk in sks:
            ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": sk}})
    for pk, sks in expected.items():
        base = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        assert [i["sk"]["S"] for i in query_all(ddb, **base)] == sks
        assert [i["sk"]["S"] for i in query_all(ddb, **base, Limit=4)] == sks
        backwards = query_all(ddb, **base, ScanIndexForward=False, Limit=3)
        assert [i["sk"]["S"] for i in backwards] == sks[::-1]
        prefixed = query_all(
            ddb,
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": pk}, ":p": {"S": "PROJECT#"}},
            Limit=5,
        )
        assert [i["sk"]["S"] for i in prefixed] == [s for s in sks if s.startswith("PROJECT#")]
    missing = {":pk": {"S": "USER#nobody"}}
    assert (
        query_all(
            ddb,
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=missing,
        )
        == []
    )
    scanned = ddb.scan(TableName=table)["Items"]  # the table itself is untouched
    assert len(scanned) == sum(len(v) for v in expected.values())


def test_hash_only_tables_still_query(emulator_url: str) -> None:
    ddb = client(emulator_url, "dynamodb")
    table = new_table(ddb, range_key=False)
    for pk in ("a", "b"):
        ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "v": {"N": "1"}})
    found = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "b"}},
    )["Items"]
    assert found == [{"pk": {"S": "b"}, "v": {"N": "1"}}]


def test_a_new_ecs_service_is_stable_at_once(emulator_url: str) -> None:
    # Generated bundles wait for steady state; the emulator starts no task, so without
    # the wrapper's shim the provider polled a service at 0 of 2 tasks until its timeout.
    ecs = client(emulator_url, "ecs")
    cluster = f"k-steady-{next(_names)}-{random.randrange(10**6)}"
    ecs.create_cluster(clusterName=cluster)
    family = ecs.register_task_definition(
        family=cluster,
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName="app", taskDefinition=family, desiredCount=2)
    service = ecs.describe_services(cluster=cluster, services=["app"])["services"][0]
    assert (service["runningCount"], service["pendingCount"]) == (2, 0)
    assert [(d["rolloutState"], d["runningCount"]) for d in service["deployments"]] == [
        ("COMPLETED", 2)
    ]
