/* Ground truth for json-c: parse, iterate (the foreach macro reads the
   public lh_table/lh_entry structs), build, serialize, copy, compare, JSON
   pointers, the tokener's error reporting. */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)

int main(void) {
	printf("json-c %s\n", json_c_version());
	if (json_c_version_num() >> 16 != JSON_C_MAJOR_VERSION) FAIL("json_c_version_num");
	struct json_object *doc = json_tokener_parse("{\"a\": 1, \"b\": [true, 2.5, \"s\"], \"c\": {\"d\": null}}");
	if (!doc || !json_object_is_type(doc, json_type_object)) FAIL("json_tokener_parse");
	int keys = 0, sum = 0;
	json_object_object_foreach(doc, key, val) {
		keys++;
		sum += key[0];
		(void)val;
	}
	if (keys != 3 || sum != 'a' + 'b' + 'c' || json_object_object_length(doc) != 3) FAIL("json_object_object_foreach");
	struct json_object *b, *x;
	if (!json_object_object_get_ex(doc, "b", &b) || json_object_array_length(b) != 3) FAIL("json_object_object_get_ex");
	if (json_object_get_double(json_object_array_get_idx(b, 1)) != 2.5 || !json_object_get_boolean(json_object_array_get_idx(b, 0)))
		FAIL("json_object_array_get_idx");
	if (json_pointer_get(doc, "/b/2", &x) || strcmp(json_object_get_string(x), "s")) FAIL("json_pointer_get");

	struct json_object *built = json_object_new_object();
	json_object_object_add(built, "a", json_object_new_int(1));
	struct json_object *arr = json_object_new_array();
	json_object_array_add(arr, json_object_new_boolean(1));
	json_object_array_add(arr, json_object_new_double(2.5));
	json_object_array_add(arr, json_object_new_string("s"));
	json_object_object_add(built, "b", arr);
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "d", NULL);
	json_object_object_add(built, "c", c);
	if (!json_object_equal(doc, built)) FAIL("json_object_equal");
	const char *s = json_object_to_json_string_ext(built, JSON_C_TO_STRING_PLAIN);
	if (strcmp(s, "{\"a\":1,\"b\":[true,2.5,\"s\"],\"c\":{\"d\":null}}")) FAIL("json_object_to_json_string_ext: %s", s);
	struct json_object *copy = NULL;
	if (json_object_deep_copy(doc, &copy, NULL) || !json_object_equal(doc, copy)) FAIL("json_object_deep_copy");
	json_object_set_int64(json_object_object_get(copy, "a"), 1LL << 40);
	if (json_object_get_int64(json_object_object_get(copy, "a")) != 1LL << 40) FAIL("json_object_set_int64");

	struct json_tokener *tok = json_tokener_new();
	struct json_object *part = json_tokener_parse_ex(tok, "[1, 2", 5);
	if (part || json_tokener_get_error(tok) != json_tokener_continue) FAIL("json_tokener_parse_ex (partial)");
	part = json_tokener_parse_ex(tok, ", 3]", 4);
	if (!part || json_object_array_length(part) != 3) FAIL("json_tokener_parse_ex (rest)");
	json_tokener_reset(tok);
	if (json_tokener_parse_ex(tok, "{]", 2) || json_tokener_get_error(tok) == json_tokener_success) FAIL("json_tokener_parse_ex/json_tokener_get_error (error)");
	json_tokener_free(tok);

	json_object_put(part);
	json_object_put(copy);
	json_object_put(built);
	if (json_object_put(doc) != 1) FAIL("json_object_put");
	printf("ok\n");
	return 0;
}
