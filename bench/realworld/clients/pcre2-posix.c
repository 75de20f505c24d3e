/* Ground truth for libpcre2-posix: regcomp/regexec/regerror/regfree
   through the pcre2_ names the header maps them to, reading the public
   regex_t and regmatch_t. */
#include <stdio.h>
#include <string.h>
#include <pcre2posix.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)

int main(void) {
	regex_t re;
	if (regcomp(&re, "([a-z]+)@([a-z]+)\\.org", REG_EXTENDED | REG_ICASE)) FAIL("regcomp");
	if (re.re_nsub != 2) FAIL("regcomp (regex_t.re_nsub): %zu", re.re_nsub);
	regmatch_t m[3];
	const char *s = "mail Someone@Example.org now";
	if (regexec(&re, s, 3, m, 0)) FAIL("regexec");
	if (m[0].rm_so != 5 || m[0].rm_eo != 24 || m[1].rm_so != 5 || m[1].rm_eo != 12 || m[2].rm_so != 13 || m[2].rm_eo != 20)
		FAIL("regexec (regmatch_t offsets): %d-%d %d-%d", (int)m[0].rm_so, (int)m[0].rm_eo, (int)m[1].rm_so, (int)m[1].rm_eo);
	if (regexec(&re, "none here", 3, m, 0) != REG_NOMATCH) FAIL("regexec (no match)");
	m[0].rm_so = 5; m[0].rm_eo = 24;
	if (regexec(&re, s, 1, m, REG_STARTEND) || m[0].rm_so != 5) FAIL("regexec (REG_STARTEND)");
	regfree(&re);
	int rc = regcomp(&re, "a(b", 0);
	char buf[128];
	if (rc == 0 || regerror(rc, &re, buf, sizeof buf) == 0 || buf[0] == 0) FAIL("regerror");
	printf("ok\n");
	return 0;
}
