/* Ground truth for libpcre2-8: compile (and JIT when available), match with
   named groups, substitute, pattern info, serialization. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <stdio.h>
#include <string.h>
#include <pcre2.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)

int main(void) {
	char ver[32];
	pcre2_config(PCRE2_CONFIG_VERSION, ver);
	printf("pcre2 %s\n", ver);
	int err; PCRE2_SIZE eoff;
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	if (pcre2_set_newline(cc, PCRE2_NEWLINE_LF)) FAIL("pcre2_set_newline");
	pcre2_code *re = pcre2_compile((PCRE2_SPTR) "(?<year>\\d{4})-(?<mon>\\d\\d)", PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &err, &eoff, cc);
	if (!re) FAIL("pcre2_compile: %d", err);
	uint32_t caps, names;
	if (pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &caps) || caps != 2 ||
	    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &names) || names != 2)
		FAIL("pcre2_pattern_info");
	uint32_t jit = 0;
	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	for (int pass = 0; pass < 1 + (int)jit; pass++) {
		if (pass == 1 && pcre2_jit_compile(re, PCRE2_JIT_COMPLETE)) FAIL("pcre2_jit_compile");
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
		const char *subj = "on 2024-06 and 1999-12";
		int rc = pcre2_match(re, (PCRE2_SPTR)subj, strlen(subj), 0, 0, md, NULL);
		if (rc != 3) FAIL("pcre2_match (pass %d): %d", pass, rc);
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		if (ov[0] != 3 || ov[1] != 10 || pcre2_get_ovector_count(md) < 3) FAIL("pcre2_get_ovector_pointer");
		PCRE2_UCHAR buf[16]; PCRE2_SIZE len = sizeof buf;
		if (pcre2_substring_copy_byname(md, (PCRE2_SPTR) "mon", buf, &len) || strcmp((char *)buf, "06"))
			FAIL("pcre2_substring_copy_byname");
		if (pcre2_substring_number_from_name(re, (PCRE2_SPTR) "year") != 1) FAIL("pcre2_substring_number_from_name");
		pcre2_match_data_free(md);
	}
	PCRE2_UCHAR out[128]; PCRE2_SIZE outlen = sizeof out;
	const char *subj = "on 2024-06 and 1999-12";
	int n = pcre2_substitute(re, (PCRE2_SPTR)subj, PCRE2_ZERO_TERMINATED, 0, PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_EXTENDED,
				 NULL, NULL, (PCRE2_SPTR) "${mon}/${year}", PCRE2_ZERO_TERMINATED, out, &outlen);
	if (n != 2 || strcmp((char *)out, "on 06/2024 and 12/1999")) FAIL("pcre2_substitute: %d %s", n, out);

	uint8_t *bytes; PCRE2_SIZE size;
	const pcre2_code *list[] = {re};
	if (pcre2_serialize_encode(list, 1, &bytes, &size, NULL) != 1) FAIL("pcre2_serialize_encode");
	pcre2_code *back;
	if (pcre2_serialize_decode(&back, 1, bytes, NULL) != 1) FAIL("pcre2_serialize_decode");
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	if (pcre2_match(back, (PCRE2_SPTR) "x 2000-01", 9, 0, 0, md, NULL) != 3) FAIL("pcre2_match (deserialized)");
	pcre2_serialize_free(bytes);
	pcre2_match_data_free(md);
	pcre2_code_free(back);
	if (pcre2_compile((PCRE2_SPTR) "(", 1, 0, &err, &eoff, NULL) || err != 114) FAIL("pcre2_compile (error code): %d", err);
	PCRE2_UCHAR msg[120];
	if (pcre2_get_error_message(err, msg, sizeof msg) <= 0) FAIL("pcre2_get_error_message");
	pcre2_code_free(re);
	pcre2_compile_context_free(cc);
	printf("ok\n");
	return 0;
}
