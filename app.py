"""Composition only: build the Chalice app, install the middleware, register the Blueprints."""

import gc

# A cold start allocates tens of thousands of objects that live as long as the process (modules,
# classes, models); collecting garbage while importing them only costs time (a fifth of the
# import, measured by `make bench`). Collection resumes below, with those objects frozen out.
gc.disable()

from chalice import Chalice  # noqa: E402

from chalicelib.api import (  # noqa: E402
    api_keys,
    billing,
    changes,
    health,
    items,
    networks,
    notifications,
    outsourcing,
    outsourcing_setup,
    partners,
    subcontractors,
    tenants,
    tickets,
)
from chalicelib.api.routing import http_middleware  # noqa: E402
from chalicelib.jobs import expire_outsourcings, jobs, retry_notifications  # noqa: E402
from chalicelib.observability import middleware  # noqa: E402
from chalicelib.portal.routes import blueprint as portal  # noqa: E402
from chalicelib.streams.handler import on_table_change, streams  # noqa: E402
from chalicelib.streams.retry import operations, retry_dead_letters  # noqa: E402

app = Chalice(app_name="outsourcing")
for observe in middleware():
    app.register_middleware(observe, "all")
app.register_middleware(http_middleware, "http")

for module in (
    health,
    tenants,
    api_keys,
    tickets,
    items,
    outsourcing_setup,
    partners,
    subcontractors,
    networks,
    outsourcing,
    billing,
    notifications,
    changes,
):
    app.register_blueprint(module.api.blueprint)
app.register_blueprint(streams)
app.register_blueprint(jobs)
app.register_blueprint(operations)
app.register_blueprint(portal)

# Every function's Lambda handler is in this module (infra/aws/resources.json sets them), so each
# function runs the composed app: a Blueprint's handlers get the middleware only once the
# Blueprint is registered here, and Lambda imports nothing but the handler's module.
HANDLERS = {
    "table_stream": on_table_change,
    "expire_outsourcings": expire_outsourcings,
    "retry_notifications": retry_notifications,
    "retry_dead_letters": retry_dead_letters,
}

gc.freeze()
gc.enable()
