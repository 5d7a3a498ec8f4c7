"""DynamoDB adapters: PynamoDB records and the repositories built on them."""
