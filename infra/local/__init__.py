"""The local stack: moto (or any endpoint), the API, and a stream pump, on 127.0.0.1. Not shipped."""
