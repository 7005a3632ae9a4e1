"""device_config unit of the CDK app."""
