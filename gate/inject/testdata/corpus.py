"""corpus.py LIB THREADS: a real program using a real library, driven by
the corpus tests of gate/inject through stdin/stdout.

LIB is zlib, expat, bz2, lzma, sqlite, ffi or uuid; THREADS workers use
the library in a loop, checking every result. Commands:
  ver    -> "ver V": the library's version, asked of the library itself
  new    -> "new N": creates a long-lived object of the library (a stream,
            a parser, a connection) fed a first chunk; N objects now
  use    -> "use OK": feeds every object another chunk and checks what
            it produced so far; OK is True when all are right
  drop   -> "drop N": drops the oldest object; N objects now
  wrong  -> "wrong N": wrong results the workers saw so far
Prints "ready V" once the workers run.
"""
import ctypes, ctypes.util, sys, threading

lib, nthreads = sys.argv[1], int(sys.argv[2])
chunk = b"".join(b"line %d of the corpus, some text to squeeze\n" % i for i in range(300))
errors = 0


def cdll(name):
    return ctypes.CDLL(name)


if lib == "zlib":
    import zlib
    z = cdll("libz.so.1")
    z.zlibVersion.restype = ctypes.c_char_p
    version = lambda: z.zlibVersion().decode()

    def once():
        return zlib.decompress(zlib.compress(chunk)) == chunk

    class Obj:  # a compressor and a decompressor, fed in step
        def __init__(self):
            self.c, self.d, self.good = zlib.compressobj(), zlib.decompressobj(), True
            self.feed()

        def feed(self):
            z = self.c.compress(chunk) + self.c.flush(zlib.Z_SYNC_FLUSH)
            self.good = self.good and self.d.decompress(z) == chunk

        def ok(self):
            return self.good

elif lib == "bz2":
    import bz2
    b = cdll("libbz2.so.1.0")
    b.BZ2_bzlibVersion.restype = ctypes.c_char_p
    version = lambda: b.BZ2_bzlibVersion().decode()

    def once():
        return bz2.decompress(bz2.compress(chunk)) == chunk

    class Obj:
        def __init__(self):
            self.d, self.comp, self.n = bz2.BZ2Decompressor(), bz2.compress(chunk * 4), 0
            self.got = b""
            self.feed()

        def feed(self):  # the compressed data in four pieces
            q = len(self.comp) // 4
            if self.n < 3:
                self.got += self.d.decompress(self.comp[self.n * q:(self.n + 1) * q])
            elif self.n == 3:
                self.got += self.d.decompress(self.comp[3 * q:])
            self.n += 1

        def ok(self):
            return (chunk * 4).startswith(self.got) and (self.n < 4 or self.got == chunk * 4)

elif lib == "lzma":
    import lzma
    x = cdll("liblzma.so.5")
    x.lzma_version_string.restype = ctypes.c_char_p
    version = lambda: x.lzma_version_string().decode()

    def once():
        return lzma.decompress(lzma.compress(chunk)) == chunk

    class Obj:
        def __init__(self):
            self.c, self.out, self.n = lzma.LZMACompressor(), b"", 0
            self.feed()

        def feed(self):
            self.out += self.c.compress(chunk)
            self.n += 1

        def ok(self):
            return True  # a compressor cannot be copied: checked at the end

elif lib == "expat":
    import xml.parsers.expat as expat
    e = cdll("libexpat.so.1")
    e.XML_ExpatVersion.restype = ctypes.c_char_p
    version = lambda: e.XML_ExpatVersion().decode()
    doc = b"<r>" + b"".join(b'<i n="%d">text %d</i>' % (i, i) for i in range(200))

    def once():
        seen = []
        p = expat.ParserCreate()
        p.StartElementHandler = lambda name, attrs: seen.append(name)
        p.Parse(doc + b"</r>", True)
        return len(seen) == 201

    class Obj:
        def __init__(self):
            self.p, self.seen, self.n = expat.ParserCreate(), [], 0
            self.p.StartElementHandler = lambda name, attrs: name == "i" and self.seen.append(attrs["n"])
            self.p.Parse(b"<r>", False)
            self.feed()

        def feed(self):
            self.p.Parse(doc[3:], False)
            self.n += 1

        def ok(self):
            return self.seen == [str(i) for i in range(200)] * self.n

elif lib == "sqlite":
    import sqlite3
    version = lambda: sqlite3.connect(":memory:").execute("select sqlite_version()").fetchone()[0]

    def once():
        c = sqlite3.connect(":memory:")
        c.execute("create table t(x)")
        c.executemany("insert into t values (?)", [(i,) for i in range(100)])
        return c.execute("select sum(x) from t").fetchone()[0] == 4950

    class Obj:
        def __init__(self):
            self.c, self.n = sqlite3.connect(":memory:", check_same_thread=False), 0
            self.c.execute("create table t(x)")
            self.feed()

        def feed(self):
            self.c.executemany("insert into t values (?)", [(i,) for i in range(100)])
            self.n += 1

        def ok(self):
            return self.c.execute("select sum(x) from t").fetchone()[0] == 4950 * self.n

elif lib == "ffi":
    libc = cdll(None)
    qsort = libc.qsort
    CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    f = cdll("libffi.so.8")
    version = lambda: "ffi_get_version" in dir(f) and "has ffi_get_version" or "no ffi_get_version"

    def version():
        try:
            f.ffi_get_version.restype = ctypes.c_char_p
            return f.ffi_get_version().decode()
        except AttributeError:
            return "3.4.4-or-older"

    def once():
        a = (ctypes.c_int * 10)(*range(10, 0, -1))
        qsort(a, 10, 4, CMP(lambda x, y: x[0] - y[0]))
        return list(a) == list(range(1, 11))

    class Obj:
        def __init__(self):
            self.cb, self.n = CMP(lambda x, y: y[0] - x[0]), 0  # a closure made now
            self.feed()

        def feed(self):
            self.n += 1

        def ok(self):
            a = (ctypes.c_int * 10)(*range(10))
            qsort(a, 10, 4, self.cb)
            return list(a) == list(range(9, -1, -1))

elif lib == "uuid":
    import uuid, _uuid
    u = cdll("libuuid.so.1")
    version = lambda: "libuuid"

    def once():
        a, b = uuid.uuid1(), uuid.uuid1()
        return a != b and a.version == 1

    class Obj:
        def __init__(self):
            self.ids, self.n = set(), 0
            self.feed()

        def feed(self):
            self.ids.add(uuid.uuid1())
            self.n += 1

        def ok(self):
            return len(self.ids) == self.n

else:
    sys.exit("unknown library " + lib)


def work():
    global errors
    while True:
        try:
            if not once():
                errors += 1
        except Exception:
            errors += 1


for _ in range(nthreads):
    threading.Thread(target=work, daemon=True).start()
objs = []
print("ready", version(), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "ver":
        print("ver", version(), flush=True)
    elif cmd == "new":
        objs.append(Obj())
        print("new", len(objs), flush=True)
    elif cmd == "use":
        ok = True
        for o in objs:
            o.feed()
            ok = ok and o.ok()
        print("use", ok, flush=True)
    elif cmd == "drop":
        objs.pop(0)
        print("drop", len(objs), flush=True)
    elif cmd == "wrong":
        print("wrong", errors, flush=True)
    else:
        print("unknown", cmd, flush=True)
