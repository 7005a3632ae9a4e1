"""data unit of the CDK app."""
