"""greengrass unit of the CDK app."""
