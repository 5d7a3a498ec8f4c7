"""``make retry-dead-letters``: retry the local stack's dead-lettered stream batches.

Reads the running stack's ``stack.json`` (in LOCAL_STATE_DIR, default ``.local``) for its
endpoints and queue, then runs the same operator function that is deployed to AWS, and prints
its report: ``received``, ``succeeded``, ``still_failing``, ``trimmed``, ``incomplete``,
``records`` and ``failures``. Exits 1 when any letter was kept (still failing, trimmed or
incomplete), 0 when every letter received was retried successfully.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> int:
    state = Path(os.environ.get("LOCAL_STATE_DIR", ".local")) / "stack.json"
    try:
        info = json.loads(state.read_text())
    except (FileNotFoundError, ValueError):
        print(f"retry: no running local stack ({state} missing)", file=sys.stderr)
        return 2
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": info["aws_endpoint"],
            "DYNAMODB_ENDPOINT_URL": info["dynamodb_endpoint"],
            "TABLE_NAME": info["table_name"],
            "BUCKET_NAME": info["bucket_name"],
            "DEAD_LETTER_QUEUE_URL": info.get("dead_letter_queue_url") or "",
            "AWS_DEFAULT_REGION": info["region"],
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }
    )
    from app import retry_dead_letters
    from infra.local.lambda_context import lambda_context

    event = {"max_messages": int(os.environ.get("MAX_MESSAGES", "10"))}
    report = retry_dead_letters(event, lambda_context("retry_dead_letters"))
    print(json.dumps(report, indent=1))
    kept = report["still_failing"] + report["trimmed"] + report["incomplete"]
    return 0 if not kept else 1


if __name__ == "__main__":
    sys.exit(main())
