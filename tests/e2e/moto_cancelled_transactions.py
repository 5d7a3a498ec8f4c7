"""Why the kill -9 under load runs on DynamoDB Local only.

``python -m tests.e2e.moto_cancelled_transactions``: a moto server (127.0.0.1) is given a table
of 1,500 items; one thread puts new items while another keeps sending a transaction whose
condition fails. moto runs the requests concurrently and answers each cancelled transaction by
putting back a deep copy of the table taken before it, so puts answered in the meantime vanish.
It prints what was lost, e.g.
``moto: puts answered 2178, found afterwards 2137, lost 41, cancelled transactions 37``.
DynamoDB (and DynamoDB Local) isolate transactions, and lose nothing.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import boto3

from infra.local.processes import free_port, start_moto, wait_for_endpoint

SECONDS = 8.0


def main() -> None:
    port = free_port()
    moto = start_moto(port, env=dict(os.environ))
    endpoint = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_endpoint(endpoint, timeout=30, abort=lambda: not moto.alive())
        print(measure(endpoint))
    finally:
        moto.stop()


def measure(endpoint: str) -> str:
    def dynamodb() -> Any:
        return boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    client = dynamodb()
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="t", Item={"pk": {"S": "guard"}})
    for n in range(1500):  # a table worth copying
        client.put_item(TableName="t", Item={"pk": {"S": f"bulk{n}"}, "x": {"S": "y" * 200}})
    answered: list[str] = []
    cancelled = [0]
    stop = threading.Event()

    def put() -> None:
        own = dynamodb()
        n = 0
        while not stop.is_set():
            n += 1
            own.put_item(TableName="t", Item={"pk": {"S": f"w{n}"}})
            answered.append(f"w{n}")

    def cancel() -> None:
        own = dynamodb()
        condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        item = {"TableName": "t", "Item": {"pk": {"S": "guard"}}, **condition}
        while not stop.is_set():
            try:
                own.transact_write_items(TransactItems=[{"Put": item}])
            except own.exceptions.TransactionCanceledException:
                cancelled[0] += 1
            except client.exceptions.ClientError:
                pass  # moto answers some with a 500 (a dict changed size while being copied)

    threads = [threading.Thread(target=put), threading.Thread(target=cancel)]
    for thread in threads:
        thread.start()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    found = sum(
        "Item" in client.get_item(TableName="t", Key={"pk": {"S": key}}) for key in answered
    )
    return (
        f"moto: puts answered {len(answered)}, found afterwards {found}, "
        f"lost {len(answered) - found}, cancelled transactions {cancelled[0]}"
    )


if __name__ == "__main__":
    main()
