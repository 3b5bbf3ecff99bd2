"""The node's control API and dashboard (design §15): stop, flatten, disable/enable, reset, status.

A node runner calls ``serve_control(paper, settings)`` once the node is built (``server.py``).
"""

from odte_nautilus.live.control.auth import ControlConfigError
from odte_nautilus.live.control.server import ControlServer, serve_control

__all__ = ["ControlConfigError", "ControlServer", "serve_control"]
