/* Ground truth for libffi: calls with integer, floating and struct
   arguments and results, a variadic call, and a closure. */
#include <stdio.h>
#include <string.h>
#include <ffi.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)

struct pt { double x; int y; char z; };
static double mix(int a, double b, long long c, float d, struct pt p) { return a + b + c + d + p.x + p.y + p.z; }
static struct pt make(int y) { struct pt p = {y * 1.5, y, (char)y}; return p; }
static void adder(ffi_cif *cif, void *ret, void **args, void *data) {
	(void)cif;
	*(ffi_arg *)ret = *(int *)args[0] + *(int *)args[1] + *(int *)data;
}

int main(void) {
	ffi_type *elems[] = {&ffi_type_double, &ffi_type_sint, &ffi_type_schar, NULL};
	ffi_type pt_type;
	memset(&pt_type, 0, sizeof pt_type);
	pt_type.type = FFI_TYPE_STRUCT;
	pt_type.elements = elems;
	size_t offs[3];
	if (ffi_get_struct_offsets(FFI_DEFAULT_ABI, &pt_type, offs) != FFI_OK || offs[1] != 8 || offs[2] != 12 || pt_type.size != 16)
		FAIL("ffi_get_struct_offsets");

	ffi_cif cif;
	ffi_type *args[] = {&ffi_type_sint, &ffi_type_double, &ffi_type_sint64, &ffi_type_float, &pt_type};
	if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 5, &ffi_type_double, args) != FFI_OK) FAIL("ffi_prep_cif");
	int a = 1; double b = 2.5; long long c = 1LL << 33; float d = 0.5f; struct pt p = {4.0, 5, 6};
	void *vals[] = {&a, &b, &c, &d, &p};
	double r;
	ffi_call(&cif, FFI_FN(mix), &r, vals);
	if (r != mix(a, b, c, d, p)) FAIL("ffi_call (mix): %g", r);

	ffi_type *iarg[] = {&ffi_type_sint};
	if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &pt_type, iarg) != FFI_OK) FAIL("ffi_prep_cif (struct return)");
	struct pt got;
	int y = 7;
	void *yv[] = {&y};
	ffi_call(&cif, FFI_FN(make), &got, yv);
	if (got.x != 10.5 || got.y != 7 || got.z != 7) FAIL("ffi_call (struct return)");

	ffi_type *vargs[] = {&ffi_type_pointer, &ffi_type_pointer, &ffi_type_sint, &ffi_type_double};
	if (ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 2, 4, &ffi_type_sint, vargs) != FFI_OK) FAIL("ffi_prep_cif_var");
	char buf[64];
	char *bp = buf; const char *fmt = "%d-%.1f"; int iv = 42; double dv = 1.5;
	void *vv[] = {&bp, &fmt, &iv, &dv};
	ffi_arg n;
	ffi_call(&cif, FFI_FN(sprintf), &n, vv);
	if ((int)n != 6 || strcmp(buf, "42-1.5")) FAIL("ffi_call (variadic sprintf): %s", buf);

	void *code;
	ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
	if (!cl) FAIL("ffi_closure_alloc");
	ffi_type *cargs[] = {&ffi_type_sint, &ffi_type_sint};
	int bias = 100;
	if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint, cargs) != FFI_OK ||
	    ffi_prep_closure_loc(cl, &cif, adder, &bias, code) != FFI_OK)
		FAIL("ffi_prep_closure_loc");
	int (*fn)(int, int) = (int (*)(int, int))code;
	if (fn(3, 4) != 107) FAIL("ffi_prep_closure_loc (calling the closure): %d", fn(3, 4));
	ffi_closure_free(cl);
	printf("ok\n");
	return 0;
}
