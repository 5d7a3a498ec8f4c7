"""The ticket outsourcing service: domain rules, use cases, adapters and the HTTP/stream edges."""
