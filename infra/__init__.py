"""The CDK app: the cloud side of the bundle."""
