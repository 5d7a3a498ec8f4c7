"""The one Logger and Metrics of the service; the Tracer is created only when first asked for.

Logs are short lower-case messages with structured fields. Metrics are one per business event.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

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
