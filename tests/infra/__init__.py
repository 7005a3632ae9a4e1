"""Tests of the CDK app, the certificate custom resource and the device_config command."""
