"""What the components share: topic names, message schemas, the IPC wrapper, logging, config validation."""
