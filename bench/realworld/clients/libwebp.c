/* Ground truth for libwebp: the simple encode/decode calls, and the advanced
   API on structs the client allocates (WebPConfig, WebPPicture,
   WebPMemoryWriter, WebPDecoderConfig), lossless exactly and lossy within
   a tolerance, plus the incremental decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/encode.h>
#include <webp/decode.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)
enum { W = 64, H = 48 };

int main(void) {
	int v = WebPGetEncoderVersion();
	printf("libwebp %d.%d.%d\n", v >> 16, (v >> 8) & 255, v & 255);
	static uint8_t rgb[W * H * 3];
	for (int i = 0; i < W * H; i++) { rgb[3 * i] = (uint8_t)(i % W * 4); rgb[3 * i + 1] = (uint8_t)(i / W * 5); rgb[3 * i + 2] = 128; }

	uint8_t *enc;
	size_t n = WebPEncodeLosslessRGB(rgb, W, H, W * 3, &enc);
	int w, h;
	if (!n || !WebPGetInfo(enc, n, &w, &h) || w != W || h != H) FAIL("WebPEncodeLosslessRGB/WebPGetInfo");
	uint8_t *dec = WebPDecodeRGB(enc, n, &w, &h);
	if (!dec || memcmp(dec, rgb, sizeof rgb)) FAIL("WebPDecodeRGB (lossless)");
	WebPFree(dec);
	WebPFree(enc);

	WebPConfig cfg;
	if (!WebPConfigPreset(&cfg, WEBP_PRESET_PHOTO, 90) || !WebPValidateConfig(&cfg)) FAIL("WebPConfigPreset");
	cfg.method = 4;
	cfg.segments = 2;
	WebPPicture pic;
	if (!WebPPictureInit(&pic)) FAIL("WebPPictureInit");
	pic.width = W; pic.height = H; pic.use_argb = 0;
	if (!WebPPictureImportRGB(&pic, rgb, W * 3)) FAIL("WebPPictureImportRGB");
	WebPMemoryWriter mw;
	WebPMemoryWriterInit(&mw);
	pic.writer = WebPMemoryWrite;
	pic.custom_ptr = &mw;
	WebPAuxStats stats;
	pic.stats = &stats;
	if (!WebPEncode(&cfg, &pic) || mw.size == 0 || stats.coded_size != (int)mw.size) FAIL("WebPEncode: error %d", pic.error_code);
	WebPPictureFree(&pic);

	WebPDecoderConfig dc;
	if (!WebPInitDecoderConfig(&dc)) FAIL("WebPInitDecoderConfig");
	if (WebPGetFeatures(mw.mem, mw.size, &dc.input) != VP8_STATUS_OK || dc.input.width != W || dc.input.has_alpha)
		FAIL("WebPGetFeatures");
	dc.output.colorspace = MODE_RGB;
	if (WebPDecode(mw.mem, mw.size, &dc) != VP8_STATUS_OK) FAIL("WebPDecode");
	long err = 0;
	for (size_t i = 0; i < sizeof rgb; i++) err += labs((long)dc.output.u.RGBA.rgba[i] - rgb[i]);
	if (err / (long)sizeof rgb > 8) FAIL("WebPDecode: mean error %ld", err / (long)sizeof rgb);
	WebPFreeDecBuffer(&dc.output);

	WebPIDecoder *idec = WebPINewRGB(MODE_RGB, NULL, 0, 0);
	VP8StatusCode st = VP8_STATUS_SUSPENDED;
	for (size_t off = 0; off < mw.size && st == VP8_STATUS_SUSPENDED; off += 100)
		st = WebPIAppend(idec, mw.mem + off, off + 100 > mw.size ? mw.size - off : 100);
	int lasty = 0;
	if (st != VP8_STATUS_OK || !WebPIDecGetRGB(idec, &lasty, &w, &h, NULL) || lasty != H) FAIL("WebPIAppend: status %d", st);
	WebPIDelete(idec);
	WebPMemoryWriterClear(&mw);
	printf("ok\n");
	return 0;
}
