"""Request and response models of the HTTP API, one module per resource.

The OpenAPI document is generated from these. Requests are strict: unknown fields, wrong types
and oversize strings are a 400 naming the field. Money and hours are decimal strings on the way
out (numbers are accepted on the way in). Every response model is built from its domain object
by ``XOut.of(domain)``.
"""
