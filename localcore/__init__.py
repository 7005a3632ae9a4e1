"""localcore: a stand-in for the Greengrass nucleus that speaks the real IPC wire protocol."""
