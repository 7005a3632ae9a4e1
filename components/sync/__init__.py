"""The sync component: an offline-first store that forwards the bundle's telemetry to the cloud.

Every message on the telemetry topics is written to a local SQLite store first (group commit),
then uploaded when the link allows: alerts to IoT Core at once, bulk streams to S3 in compressed,
delta-encoded batches under deterministic keys. See ``docs/delivery-guarantee.md``.
"""
