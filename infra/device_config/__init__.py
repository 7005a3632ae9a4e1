"""Device setup: fetch a thing's identity from the deployed stack and write the installer's config.

``python -m infra.device_config dev-1 --stack EdgeBundle --out provision/dev-1`` writes
``config.yaml`` (the Greengrass installer's ``--init-config``), ``device.pem.crt``,
``private.pem.key`` (mode 0600) and ``AmazonRootCA1.pem`` for that device.
"""
