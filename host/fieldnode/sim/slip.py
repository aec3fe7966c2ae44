"""SLIP framing as the ESP serial bootloader uses it.

Espressif, esptool docs, "Serial Protocol" > "Low Level Protocol": each packet begins and ends with 0xC0; inside a
packet 0xC0 is sent as 0xDB 0xDC and 0xDB 0xDD stands for 0xDB. Bytes between packets are not part of any packet
(a ROM ignores them, as it ignores line noise before a sync).
"""

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


def encode(payload: bytes) -> bytes:
    """One framed packet: 0xC0, the escaped payload, 0xC0."""
    body = bytes(payload).replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


class Decoder:
    """Streaming SLIP decoder: ``feed(bytes)`` returns the packets completed by those bytes.

    An empty frame (two 0xC0 in a row, which is how one packet's end and the next one's start look on the wire)
    is not a packet. A bad escape sequence drops the packet it is in, as a receiver resynchronises on the next 0xC0.
    """

    def __init__(self):
        self._buf = bytearray()
        self._in_packet = False
        self._escaped = False
        self._bad = False

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        for b in data:
            if b == END:
                if self._in_packet and self._buf and not self._bad:
                    out.append(bytes(self._buf))
                self._buf.clear()
                self._in_packet = True
                self._escaped = False
                self._bad = False
                continue
            if not self._in_packet:
                continue  # noise between packets
            if self._escaped:
                self._escaped = False
                if b == ESC_END:
                    self._buf.append(END)
                elif b == ESC_ESC:
                    self._buf.append(ESC)
                else:
                    self._bad = True
            elif b == ESC:
                self._escaped = True
            else:
                self._buf.append(b)
        return out
