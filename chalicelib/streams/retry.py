"""Operator tool, deployed as its own function: retry the stream's dead-lettered batches.

Invoke it with ``{"max_messages": 10}`` (``aws lambda invoke``; locally
``make retry-dead-letters``). It answers with the counts of what it did.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from chalice.app import Blueprint

from chalicelib.container import get_container
from chalicelib.service.dead_letters import retry_dead_letters as retry
from chalicelib.streams.dispatcher import process_batch
from chalicelib.streams.handler import build_dispatcher

operations = Blueprint(__name__)


@operations.lambda_function(name="retry_dead_letters")
def retry_dead_letters(event: dict[str, Any], context: Any) -> dict[str, Any]:
    container = get_container()
    dispatcher = build_dispatcher(container)
    max_messages = int((event or {}).get("max_messages", 10))
    report = retry(
        container.dead_letter_queue,
        container.stream_reader,
        lambda batch: process_batch(batch, context, dispatcher),
        max_messages=max(1, min(max_messages, 100)),
    )
    return dataclasses.asdict(report)
