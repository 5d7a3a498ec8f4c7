"""Adapters: implementations of the ports on AWS (DynamoDB, S3, SES, Cognito, SSM)."""
