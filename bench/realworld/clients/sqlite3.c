/* Ground truth for sqlite3: SQL through prepared statements, a user
   function, a collation, blob I/O, online backup, and a virtual table
   whose sqlite3_module the client fills in (the OLD header's layout). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); return 1; } while (0)

/* A virtual table "seq(n)" holding the integers 1..10. */
typedef struct { sqlite3_vtab base; } seq_vtab;
typedef struct { sqlite3_vtab_cursor base; int i; } seq_cursor;
static int seqConnect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err) {
	(void)aux; (void)argc; (void)argv; (void)err;
	int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(n INTEGER)");
	if (rc == SQLITE_OK) *out = sqlite3_malloc(sizeof(seq_vtab)), memset(*out, 0, sizeof(seq_vtab));
	return rc;
}
static int seqDisconnect(sqlite3_vtab *v) { sqlite3_free(v); return SQLITE_OK; }
static int seqBestIndex(sqlite3_vtab *v, sqlite3_index_info *info) { (void)v; info->estimatedCost = 10; info->estimatedRows = 10; return SQLITE_OK; }
static int seqOpen(sqlite3_vtab *v, sqlite3_vtab_cursor **c) { (void)v; *c = sqlite3_malloc(sizeof(seq_cursor)); memset(*c, 0, sizeof(seq_cursor)); return SQLITE_OK; }
static int seqClose(sqlite3_vtab_cursor *c) { sqlite3_free(c); return SQLITE_OK; }
static int seqFilter(sqlite3_vtab_cursor *c, int idx, const char *s, int argc, sqlite3_value **argv) { (void)idx; (void)s; (void)argc; (void)argv; ((seq_cursor *)c)->i = 1; return SQLITE_OK; }
static int seqNext(sqlite3_vtab_cursor *c) { ((seq_cursor *)c)->i++; return SQLITE_OK; }
static int seqEof(sqlite3_vtab_cursor *c) { return ((seq_cursor *)c)->i > 10; }
static int seqColumn(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col) { (void)col; sqlite3_result_int(ctx, ((seq_cursor *)c)->i); return SQLITE_OK; }
static int seqRowid(sqlite3_vtab_cursor *c, sqlite_int64 *r) { *r = ((seq_cursor *)c)->i; return SQLITE_OK; }
static sqlite3_module seqModule = {
	.iVersion = 0, .xCreate = seqConnect, .xConnect = seqConnect, .xDestroy = seqDisconnect, .xBestIndex = seqBestIndex, .xDisconnect = seqDisconnect,
	.xOpen = seqOpen, .xClose = seqClose, .xFilter = seqFilter, .xNext = seqNext, .xEof = seqEof,
	.xColumn = seqColumn, .xRowid = seqRowid,
};

static void twice(sqlite3_context *ctx, int argc, sqlite3_value **argv) { (void)argc; sqlite3_result_int64(ctx, 2 * sqlite3_value_int64(argv[0])); }
static int rev(void *p, int n1, const void *a, int n2, const void *b) { (void)p; int c = memcmp(a, b, n1 < n2 ? n1 : n2); return c ? -c : n2 - n1; }

int main(void) {
	printf("sqlite %s\n", sqlite3_libversion());
	if (sqlite3_libversion_number() / 1000000 != SQLITE_VERSION_NUMBER / 1000000) FAIL("sqlite3_libversion_number");
	sqlite3 *db;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) FAIL("sqlite3_open_v2");
	char *err = NULL;
	if (sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, data BLOB); BEGIN;", NULL, NULL, &err)) FAIL("sqlite3_exec: %s", err);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT INTO t(name, data) VALUES (?1, ?2)", -1, &st, NULL)) FAIL("sqlite3_prepare_v2");
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof name, "n%03d", i);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_zeroblob(st, 2, 16);
		if (sqlite3_step(st) != SQLITE_DONE) FAIL("sqlite3_step (insert): %s", sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (sqlite3_total_changes(db) != 100 || sqlite3_last_insert_rowid(db) != 100) FAIL("sqlite3_total_changes");

	if (sqlite3_create_function_v2(db, "twice", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, twice, NULL, NULL, NULL)) FAIL("sqlite3_create_function_v2");
	if (sqlite3_create_collation_v2(db, "rev", SQLITE_UTF8, NULL, rev, NULL)) FAIL("sqlite3_create_collation_v2");
	sqlite3_prepare_v2(db, "SELECT sum(twice(id)), (SELECT name FROM t ORDER BY name COLLATE rev LIMIT 1) FROM t", -1, &st, NULL);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) != 10100 || strcmp((const char *)sqlite3_column_text(st, 1), "n099"))
		FAIL("sqlite3_create_function_v2/sqlite3_create_collation_v2 (in a query)");
	sqlite3_finalize(st);

	sqlite3_blob *blob;
	if (sqlite3_blob_open(db, "main", "t", "data", 42, 1, &blob) || sqlite3_blob_bytes(blob) != 16) FAIL("sqlite3_blob_open");
	if (sqlite3_blob_write(blob, "0123456789abcdef", 16, 0)) FAIL("sqlite3_blob_write");
	sqlite3_blob_close(blob);

	sqlite3 *copy;
	sqlite3_open(":memory:", &copy);
	sqlite3_backup *bk = sqlite3_backup_init(copy, "main", db, "main");
	if (!bk || sqlite3_backup_step(bk, -1) != SQLITE_DONE || sqlite3_backup_finish(bk)) FAIL("sqlite3_backup");
	sqlite3_prepare_v2(copy, "SELECT data FROM t WHERE id = 42", -1, &st, NULL);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 16 || memcmp(sqlite3_column_blob(st, 0), "0123456789abcdef", 16))
		FAIL("sqlite3_backup_step/sqlite3_column_blob (blob read back)");
	sqlite3_finalize(st);
	sqlite3_close(copy);

	if (sqlite3_create_module(db, "seq", &seqModule, NULL)) FAIL("sqlite3_create_module");
	if (sqlite3_exec(db, "CREATE VIRTUAL TABLE s USING seq", NULL, NULL, &err)) FAIL("sqlite3_create_module (CREATE VIRTUAL TABLE): %s", err);
	sqlite3_prepare_v2(db, "SELECT count(*), sum(n) FROM s JOIN t ON t.id = s.n", -1, &st, NULL);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 10 || sqlite3_column_int(st, 1) != 55) FAIL("sqlite3_create_module (virtual table join)");
	sqlite3_finalize(st);

	char *s = sqlite3_mprintf("%q|%Q", "it's", NULL);
	if (strcmp(s, "it''s|NULL")) FAIL("sqlite3_mprintf: %s", s);
	sqlite3_free(s);
	if (sqlite3_prepare_v2(db, "SELEC 1", -1, &st, NULL) != SQLITE_ERROR || sqlite3_errcode(db) != SQLITE_ERROR) FAIL("sqlite3_prepare_v2/sqlite3_errcode (error reporting)");
	if (sqlite3_close(db)) FAIL("sqlite3_close");
	printf("ok\n");
	return 0;
}
