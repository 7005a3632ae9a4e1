"""The embedded cloud: a moto server standing in for AWS, IoT Core's broker and topic rules,
ShadowManager-style shadow sync, token exchange credentials and connectivity faults.

``EmbeddedCloud`` (``service.py``) ties the parts together; each part is usable on its own.
"""
