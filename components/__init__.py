"""The bundle's Greengrass components, one package each (``python -m components.<name>``)."""
