# usocket, the old name of socket: the same gated module (sim/mpy/socket.py), not the unix port's own, which an
# "import usocket" would otherwise find through MicroPython's "u" fallback.
from socket import *  # noqa: F401,F403
from socket import socket, getaddrinfo  # noqa: F401
