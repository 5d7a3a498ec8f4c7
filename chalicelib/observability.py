"""The one Logger and Metrics of the service; the Tracer is created only when first asked for.

Logs are short lower-case messages with structured fields. Metrics are one per business event.
:func:`middleware` wires both into every function through Chalice middleware, so no entry point
handles them itself: each invocation's logs carry the Lambda context (function, request id),
keys appended during one invocation are cleared before the next, and the invocation's metrics
are published when it ends (also when it fails).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "outsourcing"
NAMESPACE = "Outsourcing"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# Most invocations (reads, most stream batches) record no business event; Powertools would warn
# about each of them.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def middleware() -> list[Callable[[Any, Callable[[Any], Any]], Any]]:
    """Chalice middleware for every event type: the Lambda context in the logs, then metrics."""
    from chalice.app import ConvertToMiddleware

    return [
        ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)),
        ConvertToMiddleware(metrics.log_metrics),
    ]


@lru_cache(maxsize=1)
def get_tracer() -> Tracer:
    """The X-Ray tracer, imported and built lazily (it pulls in the X-Ray SDK)."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def count(event: str) -> None:
    """Record one business event (``TicketCreated``, ``ItemAdded``...) as a CloudWatch metric."""
    metrics.add_metric(name=event, unit=MetricUnit.Count, value=1)
