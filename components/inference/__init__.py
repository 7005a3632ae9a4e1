"""Inference component: scores per-sensor sliding windows with TFLite models and publishes anomalies."""
