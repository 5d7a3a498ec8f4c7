"""The one Logger and Metrics of the service; the Tracer is created only when first asked for.

Logs are short lower-case messages with structured fields. Metrics are one per business event.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "outsourcing"
NAMESPACE = "Outsourcing"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


@lru_cache(maxsize=1)
def get_tracer() -> Tracer:
    """The X-Ray tracer, imported and built lazily (it pulls in the X-Ray SDK)."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def count(event: str) -> None:
    """Record one business event (``TicketCreated``, ``ItemAdded``...) as a CloudWatch metric."""
    metrics.add_metric(name=event, unit=MetricUnit.Count, value=1)


def flush_metrics() -> None:
    """Publish the metrics recorded while handling one invocation (EMF on stdout)."""
    if metrics.metric_set:
        metrics.flush_metrics()
