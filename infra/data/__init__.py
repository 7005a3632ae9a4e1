"""Data path unit: data bucket, alerts table, topic rules."""
