/* Ground truth for lz4: block, HC, streaming and frame round-trips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lz4.h>
#include <lz4hc.h>
#include <lz4frame.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)

int main(void) {
	static char in[100000], out[LZ4_COMPRESSBOUND(100000)], back[100000];
	for (size_t i = 0; i < sizeof in; i++) in[i] = "lorem ipsum "[i % 12] + (char)(i / 5000);
	printf("lz4 %s\n", LZ4_versionString());
	if (LZ4_versionNumber() / 10000 != LZ4_VERSION_MAJOR) FAIL("LZ4_versionNumber");
	if (LZ4_compressBound(sizeof in) != LZ4_COMPRESSBOUND(sizeof in)) FAIL("LZ4_compressBound");

	int n = LZ4_compress_default(in, out, sizeof in, sizeof out);
	if (n <= 0 || LZ4_decompress_safe(out, back, n, sizeof back) != (int)sizeof in || memcmp(in, back, sizeof in))
		FAIL("LZ4_compress_default/LZ4_decompress_safe");
	n = LZ4_compress_HC(in, out, sizeof in, sizeof out, LZ4HC_CLEVEL_MAX);
	if (n <= 0 || LZ4_decompress_safe_partial(out, back, n, 1000, sizeof back) < 1000 || memcmp(in, back, 1000))
		FAIL("LZ4_compress_HC/LZ4_decompress_safe_partial");

	LZ4_stream_t *st = LZ4_createStream();
	LZ4_streamDecode_t *sd = LZ4_createStreamDecode();
	int off = 0;
	for (int blk = 0; blk < 10; blk++) {
		char cbuf[LZ4_COMPRESSBOUND(10000)];
		int c = LZ4_compress_fast_continue(st, in + blk * 10000, cbuf, 10000, sizeof cbuf, 1);
		int d = LZ4_decompress_safe_continue(sd, cbuf, back + off, c, 10000);
		if (c <= 0 || d != 10000) FAIL("LZ4_compress_fast_continue/LZ4_decompress_safe_continue");
		off += d;
	}
	if (memcmp(in, back, sizeof in)) FAIL("LZ4_compress_fast_continue/LZ4_decompress_safe_continue (round-trip)");
	LZ4_freeStream(st);
	LZ4_freeStreamDecode(sd);

	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof prefs);
	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.compressionLevel = 9;
	static char frame[200000];
	size_t fn = LZ4F_compressFrame(frame, sizeof frame, in, sizeof in, &prefs);
	if (LZ4F_isError(fn)) FAIL("LZ4F_compressFrame: %s", LZ4F_getErrorName(fn));
	LZ4F_dctx *dctx;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) FAIL("LZ4F_createDecompressionContext");
	LZ4F_frameInfo_t info;
	size_t src = fn, hdr = fn;
	if (LZ4F_isError(LZ4F_getFrameInfo(dctx, &info, frame, &hdr)) || info.blockSizeID != LZ4F_max64KB ||
	    info.contentChecksumFlag != LZ4F_contentChecksumEnabled)
		FAIL("LZ4F_getFrameInfo");
	size_t dst = sizeof back;
	src = fn - hdr;
	size_t r = LZ4F_decompress(dctx, back, &dst, frame + hdr, &src, NULL);
	if (r != 0 || dst != sizeof in || memcmp(in, back, sizeof in)) FAIL("LZ4F_decompress (%zu, %zu)", r, dst);
	LZ4F_freeDecompressionContext(dctx);
	printf("ok\n");
	return 0;
}
