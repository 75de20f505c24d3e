/* Ground truth for zstd: every enumerator of the OLD header's
   ZSTD_cParameter and ZSTD_dParameter, the experimental ones included (the
   header declares them all; ZSTD_STATIC_LINKING_ONLY names them), must keep
   its bounds and accept its lower bound; then simple, advanced, streaming and
   dictionary round-trips. */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zdict.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)
#define P(x) {x, #x}

static const struct { int p; const char *name; } cparams[] = {
	P(ZSTD_c_compressionLevel), P(ZSTD_c_windowLog), P(ZSTD_c_hashLog), P(ZSTD_c_chainLog), P(ZSTD_c_searchLog),
	P(ZSTD_c_minMatch), P(ZSTD_c_targetLength), P(ZSTD_c_strategy), P(ZSTD_c_enableLongDistanceMatching),
	P(ZSTD_c_ldmHashLog), P(ZSTD_c_ldmMinMatch), P(ZSTD_c_ldmBucketSizeLog), P(ZSTD_c_ldmHashRateLog),
	P(ZSTD_c_contentSizeFlag), P(ZSTD_c_checksumFlag), P(ZSTD_c_dictIDFlag), P(ZSTD_c_nbWorkers), P(ZSTD_c_jobSize),
	P(ZSTD_c_overlapLog), P(ZSTD_c_experimentalParam1), P(ZSTD_c_experimentalParam2), P(ZSTD_c_experimentalParam3),
	P(ZSTD_c_experimentalParam4), P(ZSTD_c_experimentalParam5), P(ZSTD_c_experimentalParam6),
	P(ZSTD_c_experimentalParam7), P(ZSTD_c_experimentalParam8), P(ZSTD_c_experimentalParam9),
	P(ZSTD_c_experimentalParam10), P(ZSTD_c_experimentalParam11), P(ZSTD_c_experimentalParam12),
	P(ZSTD_c_experimentalParam13), P(ZSTD_c_experimentalParam14), P(ZSTD_c_experimentalParam15),
	P(ZSTD_c_experimentalParam16), P(ZSTD_c_experimentalParam17), P(ZSTD_c_experimentalParam18),
	P(ZSTD_c_experimentalParam19),
};
static const struct { int p; const char *name; } dparams[] = {
	P(ZSTD_d_windowLogMax), P(ZSTD_d_experimentalParam1), P(ZSTD_d_experimentalParam2),
	P(ZSTD_d_experimentalParam3), P(ZSTD_d_experimentalParam4), P(ZSTD_d_experimentalParam5),
};

int main(void) {
	printf("zstd %s\n", ZSTD_versionString());
	if (ZSTD_versionNumber() / 10000 != ZSTD_VERSION_MAJOR) FAIL("ZSTD_versionNumber");
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	for (size_t i = 0; i < sizeof cparams / sizeof cparams[0]; i++) {
		ZSTD_bounds b = ZSTD_cParam_getBounds((ZSTD_cParameter)cparams[i].p);
		if (ZSTD_isError(b.error)) FAIL("%s: ZSTD_cParam_getBounds: %s", cparams[i].name, ZSTD_getErrorName(b.error));
		size_t r = ZSTD_CCtx_setParameter(cctx, (ZSTD_cParameter)cparams[i].p, b.lowerBound);
		if (ZSTD_isError(r)) FAIL("%s: ZSTD_CCtx_setParameter: %s", cparams[i].name, ZSTD_getErrorName(r));
	}
	for (size_t i = 0; i < sizeof dparams / sizeof dparams[0]; i++) {
		ZSTD_bounds b = ZSTD_dParam_getBounds((ZSTD_dParameter)dparams[i].p);
		if (ZSTD_isError(b.error)) FAIL("%s: ZSTD_dParam_getBounds: %s", dparams[i].name, ZSTD_getErrorName(b.error));
		size_t r = ZSTD_DCtx_setParameter(dctx, (ZSTD_dParameter)dparams[i].p, b.lowerBound);
		if (ZSTD_isError(r)) FAIL("%s: ZSTD_DCtx_setParameter: %s", dparams[i].name, ZSTD_getErrorName(r));
	}
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);

	static char in[200000], out[ZSTD_COMPRESSBOUND(200000)], back[200000];
	for (size_t i = 0; i < sizeof in; i++) in[i] = "zstandard "[i % 10] + (char)(i / 20000);
	size_t n = ZSTD_compress(out, sizeof out, in, sizeof in, 19);
	if (ZSTD_isError(n) || ZSTD_getFrameContentSize(out, n) != sizeof in) FAIL("ZSTD_compress");
	if (ZSTD_decompress(back, sizeof back, out, n) != sizeof in || memcmp(in, back, sizeof in)) FAIL("ZSTD_decompress");

	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 5);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1);
	n = ZSTD_compress2(cctx, out, sizeof out, in, sizeof in);
	if (ZSTD_isError(n) || ZSTD_decompressDCtx(dctx, back, sizeof back, out, n) != sizeof in || memcmp(in, back, sizeof in))
		FAIL("ZSTD_compress2/ZSTD_decompressDCtx");

	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
	ZSTD_outBuffer ob = {out, sizeof out, 0};
	for (size_t off = 0; off < sizeof in; off += 30000) {
		ZSTD_inBuffer ib = {in + off, off + 30000 > sizeof in ? sizeof in - off : 30000, 0};
		ZSTD_EndDirective end = off + 30000 >= sizeof in ? ZSTD_e_end : ZSTD_e_continue;
		size_t left;
		do left = ZSTD_compressStream2(cctx, &ob, &ib, end);
		while (!ZSTD_isError(left) && (end == ZSTD_e_end ? left != 0 : ib.pos < ib.size));
		if (ZSTD_isError(left)) FAIL("ZSTD_compressStream2: %s", ZSTD_getErrorName(left));
	}
	ZSTD_inBuffer ib = {out, ob.pos, 0};
	ZSTD_outBuffer db = {back, sizeof back, 0};
	memset(back, 0, sizeof back);
	size_t r = ZSTD_decompressStream(dctx, &db, &ib);
	if (r != 0 || db.pos != sizeof in || memcmp(in, back, sizeof in)) FAIL("ZSTD_decompressStream");

	static char samples[100 * 200];
	size_t sizes[100];
	for (int i = 0; i < 100; i++) {
		sizes[i] = 200;
		for (int j = 0; j < 200; j++) samples[i * 200 + j] = "{\"id\": 1234, \"name\": \"sample\"} "[(i + j) % 32] ^ (char)(j % 3 == 0 ? i : 0);
	}
	static char dict[4096];
	size_t dn = ZDICT_trainFromBuffer(dict, sizeof dict, samples, sizes, 100);
	if (ZDICT_isError(dn)) dn = 0; /* too few samples is no ABI matter; use a raw dictionary */
	if (dn == 0) { memcpy(dict, samples, 1000); dn = 1000; }
	n = ZSTD_compress_usingDict(cctx, out, sizeof out, samples, 200, dict, dn, 3);
	if (ZSTD_isError(n) || ZSTD_decompress_usingDict(dctx, back, sizeof back, out, n, dict, dn) != 200 || memcmp(samples, back, 200))
		FAIL("ZSTD_compress_usingDict/ZSTD_decompress_usingDict");
	ZSTD_freeCCtx(cctx);
	ZSTD_freeDCtx(dctx);
	printf("ok\n");
	return 0;
}
