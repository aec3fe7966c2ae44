"""App updates on the wire: the device's fetch request, the collector's reply, and the release manifest. Pure
logic, like codec.py: the device builds requests and checks replies under MicroPython; the collector
(host/fieldnode/collector/updates.py) does the reverse under CPython with this same module.

Request (device -> collector), big-endian, always REQ_LEN = 24 bytes:

    0   1  codec.FETCH (0x20): protocol version 1 with no report, which no report uplink can be
    1   4  device id
    5   1  kind: K_MANIFEST, K_FILE or K_STATUS
    6   4  release version (major << 16 | minor << 8 | patch; vstr() prints it)
    10  2  K_FILE: file index in the manifest; K_STATUS: status code (S_*)
    12  4  K_MANIFEST/K_FILE: offset of the first byte wanted; K_STATUS: detail
    16  2  data bytes wanted, at most CHUNK
    18  6  tag: HMAC-SHA256(device key, "Q" || bytes 0..17), first 6 bytes

Reply (collector -> device):

    0   1  codec.FETCH
    1   4  device id
    5  11  kind, version, index, offset: the request's, echoed
    16  4  total length of the manifest or file (0 for a status)
    20  1  result: R_OK, R_NO_RELEASE (not served: withdrawn, another board), R_RANGE (index or offset outside)
    21  n  data, n <= the bytes wanted
    .   6  tag: HMAC-SHA256(device key, "R" || all bytes above)

One chunk is CHUNK = 1024 data bytes: a reply of 1051 bytes, under the 1460 bytes one AT+CARECV returns
(SIM7080G) and the ~1.5 KB a datagram carries without fragmenting. Requests carry no counter: a replayed request
only gets the collector to send release bytes tagged for that device, and a replayed or late reply can only
repeat the bytes that belong at the offset it echoes, which the device checks; what makes an update
trustworthy is not the chunk tags (they only keep garbage out of the flash early) but the file hashes in the
manifest and the manifest's full 32-byte tag under the device key.

Manifest body (release.py writes it once per release; the collector appends the tag per device):

    0   4  b"FNM1"
    4   4  version
    8   1+ board name (length byte, then UTF-8), then the architecture the same way ("xtensawin", "x64", ...)
    .   2  number of files
    .      per file: path (length byte, then UTF-8, relative: "proto/codec.mpy"), size (4), SHA-256 (32)

As served: body || HMAC-SHA256(device key, "M" || device id (4) || body), all 32 bytes. Errors raise
ValueError(reason, detail) with the codec's REASON_* strings.
"""

import struct
from micropython import const

from proto import auth, codec

CHUNK = const(1024)
REQ_LEN = codec.FETCH_LEN
REPLY_HEAD = const(21)
MAC_LEN = const(32)
MAGIC = b"FNM1"
MAX_FILES = const(255)

K_MANIFEST = const(77)  # "M"
K_FILE = const(70)  # "F"
K_STATUS = const(83)  # "S"
KINDS = (K_MANIFEST, K_FILE, K_STATUS)

R_OK = const(0)
R_NO_RELEASE = const(1)
R_RANGE = const(2)

# Status codes a device sends (index field); detail in the offset field.
S_SWITCHED = const(1)  # the new version is staged, verified and active on trial
S_CONFIRMED = const(2)  # it delivered a report: kept
S_ROLLED_BACK = const(3)  # it failed; detail: why (RB_*); the previous version runs again
S_REFUSED = const(4)  # the device will not take this version; detail: why (F_*)
STATUS_NAMES = {S_SWITCHED: "switched", S_CONFIRMED: "confirmed", S_ROLLED_BACK: "rolled_back",
                S_REFUSED: "refused"}
# Why a new version was rolled back (loader.py)
RB_IMPORT = const(1)  # importing the app raised
RB_RESETS = const(2)  # it reset (crash, watchdog, brown-out) too often
RB_NO_DELIVERY = const(3)  # no report delivered within the trial cycles
# Why a device refused an offered version (update.py)
F_MANIFEST = const(1)  # manifest tag did not verify, or it does not parse
F_TARGET = const(2)  # manifest for another board or architecture
F_HASH = const(3)  # a file never matched its hash
F_GONE = const(4)  # the collector no longer serves it
F_BAD = const(5)  # this version was rolled back here before
F_SPACE = const(6)  # the flash filesystem is full
WHY_NAMES = {(S_ROLLED_BACK, RB_IMPORT): "import failed", (S_ROLLED_BACK, RB_RESETS): "reset too often",
             (S_ROLLED_BACK, RB_NO_DELIVERY): "no report delivered", (S_REFUSED, F_MANIFEST): "bad manifest",
             (S_REFUSED, F_TARGET): "wrong board or architecture", (S_REFUSED, F_HASH): "file hash mismatch",
             (S_REFUSED, F_GONE): "not served", (S_REFUSED, F_BAD): "rolled back before",
             (S_REFUSED, F_SPACE): "flash full"}

_DIR_REQ = b"Q"
_DIR_REP = b"R"
_DIR_MAN = b"M"
_HEAD = ">BIBIHI"  # marker, device, kind, version, index, offset


def _key(key):
    return key if isinstance(key, auth.Key) else auth.Key(key)


def vstr(v):
    """1.2.3 from the packed version."""
    return "%d.%d.%d" % (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


def encode_request(key, device_id, kind, version, index=0, offset=0, want=CHUNK):
    if kind not in KINDS:
        raise ValueError(codec.REASON_MALFORMED, "fetch kind %r" % (kind,))
    buf = bytearray(REQ_LEN)
    struct.pack_into(_HEAD + "H", buf, 0, codec.FETCH, device_id, kind, version, index, offset, want)
    buf[REQ_LEN - auth.TAG_LEN:] = _key(key).tag(_DIR_REQ, memoryview(buf)[:REQ_LEN - auth.TAG_LEN])
    return bytes(buf)


def parse_request(data):
    """(device, kind, version, index, offset, want) of a request, not yet verified (see verify_request)."""
    if len(data) != REQ_LEN:
        raise ValueError(codec.REASON_TRUNCATED if len(data) < REQ_LEN else codec.REASON_OVERSIZED,
                         "fetch request of %d bytes, not %d" % (len(data), REQ_LEN))
    if data[0] != codec.FETCH:
        raise ValueError(codec.REASON_VERSION, "fetch request header %02x" % data[0])
    r = struct.unpack_from(_HEAD + "H", data, 0)
    if r[2] not in KINDS:
        raise ValueError(codec.REASON_MALFORMED, "fetch kind %d" % r[2])
    if r[6] > CHUNK:
        raise ValueError(codec.REASON_MALFORMED, "%d bytes wanted, at most %d" % (r[6], CHUNK))
    return r[1:]


def verify_request(key, data):
    mv = memoryview(data)
    return auth.equal(_key(key).tag(_DIR_REQ, mv[:REQ_LEN - auth.TAG_LEN]), mv[REQ_LEN - auth.TAG_LEN:])


def encode_reply(key, device_id, req, total, result, data=b""):
    """The reply to ``req`` (parse_request's tuple): ``total`` length of the whole object, ``data`` its chunk."""
    _, kind, version, index, offset, _ = req
    n = REPLY_HEAD + len(data)
    buf = bytearray(n + auth.TAG_LEN)
    struct.pack_into(_HEAD + "IB", buf, 0, codec.FETCH, device_id, kind, version, index, offset, total, result)
    buf[REPLY_HEAD:n] = data
    buf[n:] = _key(key).tag(_DIR_REP, memoryview(buf)[:n])
    return bytes(buf)


def parse_reply(key, device_id, data, kind, version, index, offset):
    """Verify a reply to the request (kind, version, index, offset) of ``device_id``; return
    (total, result, data as a memoryview). ValueError on anything else, before the data is looked at."""
    n = len(data)
    if n < REPLY_HEAD + auth.TAG_LEN:
        raise ValueError(codec.REASON_TRUNCATED, "fetch reply of %d bytes" % n)
    if n > REPLY_HEAD + CHUNK + auth.TAG_LEN:
        raise ValueError(codec.REASON_OVERSIZED, "fetch reply of %d bytes" % n)
    if data[0] != codec.FETCH:
        raise ValueError(codec.REASON_VERSION, "fetch reply header %02x" % data[0])
    mv = memoryview(data)
    if not auth.equal(_key(key).tag(_DIR_REP, mv[:n - auth.TAG_LEN]), mv[n - auth.TAG_LEN:]):
        raise ValueError(codec.REASON_TAG, "fetch reply tag does not verify")
    _, dev, k, v, i, o, total, result = struct.unpack_from(_HEAD + "IB", data, 0)
    if dev != device_id or k != kind or v != version or i != index or o != offset:
        raise ValueError(codec.REASON_MALFORMED, "reply to another request (%d %d %d %d)" % (k, v, i, o))
    return total, result, mv[REPLY_HEAD:n - auth.TAG_LEN]


# -- the manifest ---------------------------------------------------------------------------------------------
def manifest_body(version, board, arch, files):
    """``files``: [(path, size, sha256 digest)], in the order the device fetches them."""
    if len(files) > MAX_FILES:
        raise ValueError(codec.REASON_OVERSIZED, "%d files, at most %d" % (len(files), MAX_FILES))
    out = [MAGIC, struct.pack(">I", version), _lstr(board), _lstr(arch), struct.pack(">H", len(files))]
    for path, size, digest in files:
        if len(digest) != 32:
            raise ValueError(codec.REASON_MALFORMED, "%s: SHA-256 is 32 bytes" % path)
        out.append(_lstr(path))
        out.append(struct.pack(">I", size))
        out.append(bytes(digest))
    return b"".join(out)


def _lstr(s):
    b = s.encode()
    if not 0 < len(b) < 256 or b[:1] == b"/" or b".." in b:
        raise ValueError(codec.REASON_MALFORMED, "path or name %r" % (s,))
    return bytes([len(b)]) + b


def parse_manifest(body):
    """(version, board, arch, [(path, size, digest)]); ValueError when the body is not a manifest."""
    if bytes(body[:4]) != MAGIC:
        raise ValueError(codec.REASON_VERSION, "not a manifest (magic %r)" % (bytes(body[:4]),))
    _need(body, 8)
    version = struct.unpack_from(">I", body, 4)[0]
    board, off = _rstr(body, 8)
    arch, off = _rstr(body, off)
    _need(body, off + 2)
    n = struct.unpack_from(">H", body, off)[0]
    off += 2
    files = []
    for _ in range(n):
        path, off = _rstr(body, off)
        _need(body, off + 36)
        if path[:1] == "/" or ".." in path:
            raise ValueError(codec.REASON_MALFORMED, "manifest path %r" % (path,))
        files.append((path, struct.unpack_from(">I", body, off)[0], bytes(body[off + 4:off + 36])))
        off += 36
    if off != len(body):
        raise ValueError(codec.REASON_MALFORMED, "%d bytes after the manifest's last entry" % (len(body) - off))
    return version, board, arch, files


def _need(b, n):
    if len(b) < n:
        raise ValueError(codec.REASON_TRUNCATED, "manifest cut short at byte %d" % len(b))


def _rstr(b, off):
    _need(b, off + 1)
    n = b[off]
    _need(b, off + 1 + n)
    try:
        s = bytes(b[off + 1:off + 1 + n]).decode()
    except UnicodeError:
        s = ""
    if not s:
        raise ValueError(codec.REASON_MALFORMED, "manifest name at byte %d" % off)
    return s, off + 1 + n


def sign_manifest(key, device_id, body):
    """The manifest as served to one device: body || its 32-byte tag under that device's key."""
    return bytes(body) + _key(key).mac(_DIR_MAN, struct.pack(">I", device_id), body)


def open_manifest(key, device_id, data):
    """The body of a served manifest once its tag verifies; ValueError(REASON_TAG) otherwise."""
    if len(data) < MAC_LEN + 8:
        raise ValueError(codec.REASON_TRUNCATED, "manifest of %d bytes" % len(data))
    mv = memoryview(data)
    body = mv[:len(data) - MAC_LEN]
    if not auth.equal(_key(key).mac(_DIR_MAN, struct.pack(">I", device_id), body), mv[len(data) - MAC_LEN:]):
        raise ValueError(codec.REASON_TAG, "manifest tag does not verify")
    return body
