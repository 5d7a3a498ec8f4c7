"""Composition only: build the Chalice app, install the middleware, register the Blueprints."""

from chalice import Chalice

from chalicelib.api import (
    api_keys,
    health,
    items,
    outsourcing,
    outsourcing_setup,
    partners,
    tenants,
    tickets,
)
from chalicelib.api.routing import http_middleware
from chalicelib.jobs import jobs
from chalicelib.observability import middleware
from chalicelib.streams.handler import streams
from chalicelib.streams.retry import operations

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
    outsourcing,
):
    app.register_blueprint(module.api.blueprint)
app.register_blueprint(streams)
app.register_blueprint(jobs)
app.register_blueprint(operations)
