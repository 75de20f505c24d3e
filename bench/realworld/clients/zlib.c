/* Ground truth for zlib: deflate/inflate and compress/uncompress round-trips,
   gzip through a file, checksums against known values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)

int main(void) {
	static unsigned char in[100000], out[200000], back[100000];
	for (size_t i = 0; i < sizeof in; i++) in[i] = (unsigned char)("abcabd"[i % 6] + i / 1000);
	printf("zlib %s\n", zlibVersion());
	if (zlibVersion()[0] != ZLIB_VERSION[0]) FAIL("zlibVersion: %s", zlibVersion());

	uLongf n = sizeof out, m = sizeof back;
	if (compress2(out, &n, in, sizeof in, 9) != Z_OK) FAIL("compress2");
	if (uncompress(back, &m, out, n) != Z_OK || m != sizeof in || memcmp(in, back, m)) FAIL("uncompress");

	z_stream s;
	memset(&s, 0, sizeof s);
	if (deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) FAIL("deflateInit2");
	s.next_in = in; s.avail_in = sizeof in; s.next_out = out; s.avail_out = sizeof out;
	if (deflate(&s, Z_FINISH) != Z_STREAM_END) FAIL("deflate");
	uLong raw = s.total_out;
	if (deflateEnd(&s) != Z_OK) FAIL("deflateEnd");
	memset(&s, 0, sizeof s);
	if (inflateInit2(&s, -15) != Z_OK) FAIL("inflateInit2");
	s.next_in = out; s.avail_in = (uInt)raw; s.next_out = back; s.avail_out = sizeof back;
	if (inflate(&s, Z_FINISH) != Z_STREAM_END || s.total_out != sizeof in || memcmp(in, back, sizeof in)) FAIL("inflate");
	inflateEnd(&s);

	if (crc32(0, (const Bytef *)"123456789", 9) != 0xcbf43926UL) FAIL("crc32");
	if (adler32(1, (const Bytef *)"Wikipedia", 9) != 0x11E60398UL) FAIL("adler32");

	char path[] = "/tmp/realworld-zlib-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) { perror("mkstemp"); return 2; }
	gzFile g = gzdopen(fd, "wb9");
	if (!g || gzwrite(g, in, sizeof in) != (int)sizeof in || gzprintf(g, "%d", 42) != 2 || gzclose(g) != Z_OK) FAIL("gzwrite");
	g = gzopen(path, "rb");
	if (!g || gzread(g, back, sizeof back) != (int)sizeof back || memcmp(in, back, sizeof in)) FAIL("gzread");
	char tail[8] = {0};
	if (!gzgets(g, tail, sizeof tail) || strcmp(tail, "42")) FAIL("gzgets");
	gzclose(g);
	remove(path);
	printf("ok\n");
	return 0;
}
