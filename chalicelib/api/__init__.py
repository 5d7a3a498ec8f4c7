"""The HTTP edge: Blueprints per resource, pydantic models, one error-to-HTTP mapping."""
