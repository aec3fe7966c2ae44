# The unix port's own module of a name that a shim of the same name hides on the path (time, socket, select): the
# shim asks for it while it is itself being imported. Imported with the path emptied, so that only built-in and
# frozen modules are found; the shim's own entry in sys.modules (made before its code runs) is put back afterwards.
import sys


def load(name):
    path = sys.path[:]
    del sys.path[:]
    me = sys.modules.pop(name, None)
    try:
        return __import__(name)
    finally:
        if me is not None:
            sys.modules[name] = me
        sys.path.extend(path)
