/* Ground truth for cJSON: parse, query, build, print, duplicate, compare,
   minify, and the hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)

static int allocs;
static void *counting_malloc(size_t n) { allocs++; return malloc(n); }

int main(void) {
	printf("cJSON %s\n", cJSON_Version());
	cJSON_Hooks hooks = {counting_malloc, free};
	cJSON_InitHooks(&hooks);

	const char *text = "{\"name\": \"x\", \"n\": 3.5, \"list\": [1, 2, 3], \"t\": true, \"o\": {\"k\": null}}";
	cJSON *doc = cJSON_Parse(text);
	if (!doc || allocs == 0) FAIL("cJSON_Parse/cJSON_InitHooks");
	cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");
	if (!cJSON_IsString(name) || strcmp(cJSON_GetStringValue(name), "x")) FAIL("cJSON_GetObjectItemCaseSensitive");
	cJSON *n = cJSON_GetObjectItem(doc, "N");
	if (!cJSON_IsNumber(n) || n->valuedouble != 3.5 || cJSON_GetNumberValue(n) != 3.5) FAIL("cJSON_GetObjectItem/valuedouble");
	cJSON *list = cJSON_GetObjectItem(doc, "list");
	if (cJSON_GetArraySize(list) != 3 || cJSON_GetArrayItem(list, 2)->valueint != 3) FAIL("cJSON_GetArrayItem");
	if (!cJSON_IsTrue(cJSON_GetObjectItem(doc, "t")) || !cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "o"), "k")))
		FAIL("cJSON_IsTrue/cJSON_IsNull");

	cJSON *built = cJSON_CreateObject();
	cJSON_AddStringToObject(built, "name", "x");
	cJSON_AddNumberToObject(built, "n", 3.5);
	int nums[] = {1, 2, 3};
	cJSON_AddItemToObject(built, "list", cJSON_CreateIntArray(nums, 3));
	cJSON_AddTrueToObject(built, "t");
	cJSON *o = cJSON_AddObjectToObject(built, "o");
	cJSON_AddNullToObject(o, "k");
	if (!cJSON_Compare(doc, built, 1)) FAIL("cJSON_Compare (built)");
	cJSON *dup = cJSON_Duplicate(doc, 1);
	if (!cJSON_Compare(doc, dup, 1)) FAIL("cJSON_Duplicate");

	char *printed = cJSON_PrintUnformatted(doc);
	if (!printed || strcmp(printed, "{\"name\":\"x\",\"n\":3.5,\"list\":[1,2,3],\"t\":true,\"o\":{\"k\":null}}"))
		FAIL("cJSON_PrintUnformatted: %s", printed ? printed : "(null)");
	char buf[256];
	if (!cJSON_PrintPreallocated(doc, buf, sizeof buf, 0) || strcmp(buf, printed)) FAIL("cJSON_PrintPreallocated");
	char minified[] = "{ \"a\" : [ 1 , 2 ] }";
	cJSON_Minify(minified);
	if (strcmp(minified, "{\"a\":[1,2]}")) FAIL("cJSON_Minify: %s", minified);

	cJSON_ReplaceItemInObject(dup, "n", cJSON_CreateString("y"));
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(dup, "list"), 0);
	char *p2 = cJSON_PrintUnformatted(dup);
	if (strcmp(p2, "{\"name\":\"x\",\"n\":\"y\",\"list\":[2,3],\"t\":true,\"o\":{\"k\":null}}")) FAIL("cJSON_ReplaceItemInObject: %s", p2);
	const char *end = NULL;
	if (cJSON_ParseWithOpts("[1,", &end, 0) != NULL || cJSON_GetErrorPtr() == NULL) FAIL("cJSON_ParseWithOpts/cJSON_GetErrorPtr (error)");

	cJSON_free(printed);
	cJSON_free(p2);
	cJSON_Delete(doc);
	cJSON_Delete(built);
	cJSON_Delete(dup);
	printf("ok\n");
	return 0;
}
