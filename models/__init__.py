"""Model building and the shipped TFLite models."""
