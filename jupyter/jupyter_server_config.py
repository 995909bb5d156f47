"""The Lab's server settings for this repository (found through JUPYTER_CONFIG_PATH, set by
lib.env): kernels get CurveZMQ keys where pyzmq supports them, so ipykernel does not warn in the
Lab's log that it talks over unencrypted TCP (lib.runner.kernel_config does the same)."""

import zmq

c = get_config()  # noqa: F821 (provided by the Jupyter config loader)
if zmq.has("curve"):
    c.KernelManager.transport_encryption = "auto"
