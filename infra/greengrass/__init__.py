"""Greengrass unit: component versions from recipes/ and the fleet deployment."""
