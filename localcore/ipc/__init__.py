"""localcore's Greengrass IPC server: the real event-stream RPC protocol over a Unix socket.

Public entry points: :class:`localcore.ipc.server.IpcServer`, the in-memory
:class:`localcore.ipc.recording_cloud.RecordingCloudAdapter`, and the test helper
:func:`localcore.ipc.testing.ipc_server`.
"""
