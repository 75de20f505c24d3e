/* Ground truth for libpng: the classic write/read API through memory
   callbacks with setjmp error handling, text chunks, and the simplified
   png_image API (a struct the client allocates). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)
enum { W = 37, H = 23 };

struct mem { unsigned char *p; size_t n, cap, pos; };
static void put(png_structp png, png_bytep data, size_t n) {
	struct mem *m = png_get_io_ptr(png);
	if (m->n + n > m->cap) { m->cap = 2 * (m->n + n); m->p = realloc(m->p, m->cap); }
	memcpy(m->p + m->n, data, n);
	m->n += n;
}
static void get(png_structp png, png_bytep data, size_t n) {
	struct mem *m = png_get_io_ptr(png);
	if (m->pos + n > m->n) png_error(png, "read past end");
	memcpy(data, m->p + m->pos, n);
	m->pos += n;
}
static void flush(png_structp png) { (void)png; }

int main(void) {
	printf("libpng %s\n", png_get_libpng_ver(NULL));
	if (png_access_version_number() / 100 != PNG_LIBPNG_VER / 100) FAIL("png_access_version_number");
	static unsigned char img[H][W * 3], back[H][W * 3];
	for (int y = 0; y < H; y++) for (int x = 0; x < W * 3; x++) img[y][x] = (unsigned char)(x * 7 + y * 13);

	struct mem m = {0};
	png_structp w = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop wi = png_create_info_struct(w);
	if (!w || !wi) FAIL("png_create_write_struct");
	if (setjmp(png_jmpbuf(w))) FAIL("png_write_info/png_write_row (png_error)");
	png_set_write_fn(w, &m, put, flush);
	png_set_IHDR(w, wi, W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_text text = {PNG_TEXT_COMPRESSION_NONE, "Comment", "realworld", 9, 0, NULL, NULL};
	png_set_text(w, wi, &text, 1);
	png_write_info(w, wi);
	int passes = png_set_interlace_handling(w);
	for (int pass = 0; pass < passes; pass++) for (int y = 0; y < H; y++) png_write_row(w, img[y]);
	png_write_end(w, wi);
	png_destroy_write_struct(&w, &wi);

	png_structp r = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop ri = png_create_info_struct(r);
	if (setjmp(png_jmpbuf(r))) FAIL("png_read_info/png_read_image (png_error)");
	png_set_read_fn(r, &m, get);
	png_read_info(r, ri);
	png_uint_32 gw, gh; int depth, ct, il;
	png_get_IHDR(r, ri, &gw, &gh, &depth, &ct, &il, NULL, NULL);
	if (gw != W || gh != H || depth != 8 || ct != PNG_COLOR_TYPE_RGB || il != PNG_INTERLACE_ADAM7) FAIL("png_get_IHDR");
	if (png_get_rowbytes(r, ri) != W * 3) FAIL("png_get_rowbytes");
	png_textp t; int nt;
	if (png_get_text(r, ri, &t, &nt) != 1 || strcmp(t[0].key, "Comment") || strcmp(t[0].text, "realworld")) FAIL("png_get_text");
	png_bytep rows[H];
	for (int y = 0; y < H; y++) rows[y] = back[y];
	png_read_image(r, rows);
	png_read_end(r, NULL);
	if (memcmp(img, back, sizeof img)) FAIL("png_read_image: pixels differ");
	png_destroy_read_struct(&r, &ri, NULL);

	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	im.width = W; im.height = H; im.format = PNG_FORMAT_RGB;
	static unsigned char enc[100000];
	png_alloc_size_t encn = sizeof enc;
	if (!png_image_write_to_memory(&im, enc, &encn, 0, img, 0, NULL)) FAIL("png_image_write_to_memory: %s", im.message);
	png_image in;
	memset(&in, 0, sizeof in);
	in.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&in, enc, encn) || in.width != W || in.height != H) FAIL("png_image_begin_read_from_memory: %s", in.message);
	in.format = PNG_FORMAT_RGB;
	memset(back, 0, sizeof back);
	if (!png_image_finish_read(&in, NULL, back, 0, NULL) || memcmp(img, back, sizeof img)) FAIL("png_image_finish_read");
	png_image_free(&in);

	r = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	ri = png_create_info_struct(r);
	struct mem bad = {(unsigned char *)"\x89PNG\r\n\x1a\nxx", 10, 0, 0};
	png_set_read_fn(r, &bad, get);
	if (!setjmp(png_jmpbuf(r))) { png_read_info(r, ri); FAIL("png_read_info (a truncated file accepted)"); }
	png_destroy_read_struct(&r, &ri, NULL);
	free(m.p);
	printf("ok\n");
	return 0;
}
