/* Ground truth for libuv: a loop, timers, work queue, async from a thread,
   a TCP echo over loopback and file system calls, all on handles and
   requests the client allocates (their sizes are public ABI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define FAIL(...) do { printf("BREAK " __VA_ARGS__); printf("\n"); exit(1); } while (0)

static uv_loop_t loop;
static int timer_fired, work_done, after_work, async_seen;
static uv_async_t async;
static uv_tcp_t server, client, conn;
static uv_connect_t creq;
static uv_write_t wreq, ereq;
static char echoed[64];
static size_t echoed_n;

static void on_timer(uv_timer_t *t) { if (++timer_fired == 3) uv_timer_stop(t); }
static void work(uv_work_t *w) { *(int *)w->data = 6 * 7; work_done = 1; }
static void after(uv_work_t *w, int status) { if (status == 0 && *(int *)w->data == 42) after_work = 1; }
static void on_async(uv_async_t *a) { async_seen = *(int *)a->data; uv_close((uv_handle_t *)a, NULL); }
static void thread_main(void *arg) { (void)arg; uv_async_send(&async); }
static void alloc(uv_handle_t *h, size_t n, uv_buf_t *b) { (void)h; b->base = malloc(n); b->len = n; }
static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
	if (n > 0) {
		uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
		if (uv_write(&ereq, s, &out, 1, NULL)) FAIL("uv_write (echo)");
		return;
	}
	free(b->base);
	uv_close((uv_handle_t *)s, NULL);
}
static void on_conn(uv_stream_t *srv, int status) {
	if (status || uv_tcp_init(&loop, &conn) || uv_accept(srv, (uv_stream_t *)&conn)) FAIL("uv_accept");
	uv_read_start((uv_stream_t *)&conn, alloc, on_server_read);
}
static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
	if (n > 0) { memcpy(echoed + echoed_n, b->base, (size_t)n); echoed_n += (size_t)n; }
	free(b->base);
	if (echoed_n >= 5 || n < 0) { uv_close((uv_handle_t *)s, NULL); uv_close((uv_handle_t *)&server, NULL); }
}
static void on_connect(uv_connect_t *req, int status) {
	if (status) FAIL("uv_tcp_connect: %s", uv_strerror(status));
	uv_buf_t b = uv_buf_init("hello", 5);
	if (uv_write(&wreq, req->handle, &b, 1, NULL) || uv_read_start(req->handle, alloc, on_client_read)) FAIL("uv_write");
}

int main(void) {
	printf("libuv %s\n", uv_version_string());
	if (uv_version() >> 16 != UV_VERSION_MAJOR) FAIL("uv_version");
	if (uv_loop_init(&loop)) FAIL("uv_loop_init");
	uv_timer_t timer;
	uv_timer_init(&loop, &timer);
	uv_timer_start(&timer, on_timer, 1, 1);
	int result = 0;
	uv_work_t w;
	w.data = &result;
	if (uv_queue_work(&loop, &w, work, after)) FAIL("uv_queue_work");
	int token = 7;
	uv_async_init(&loop, &async, on_async);
	async.data = &token;
	uv_thread_t th;
	uv_thread_create(&th, thread_main, NULL);

	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	if (uv_tcp_init(&loop, &server) || uv_tcp_bind(&server, (struct sockaddr *)&addr, 0) || uv_listen((uv_stream_t *)&server, 8, on_conn))
		FAIL("uv_tcp_bind/uv_listen");
	struct sockaddr_storage bound;
	int len = sizeof bound;
	uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
	uv_tcp_init(&loop, &client);
	if (uv_tcp_connect(&creq, &client, (struct sockaddr *)&bound, on_connect)) FAIL("uv_tcp_connect");

	uv_run(&loop, UV_RUN_DEFAULT);
	uv_thread_join(&th);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (timer_fired != 3) FAIL("uv_timer: fired %d", timer_fired);
	if (!work_done || !after_work) FAIL("uv_queue_work: %d %d", work_done, after_work);
	if (async_seen != 7) FAIL("uv_async_send");
	if (echoed_n != 5 || memcmp(echoed, "hello", 5)) FAIL("uv_tcp_connect/uv_write/uv_read_start (echo): %zu bytes", echoed_n);

	uv_fs_t req;
	char path[] = "/tmp/realworld-uv-XXXXXX";
	if (uv_fs_mkstemp(&loop, &req, path, NULL) < 0) FAIL("uv_fs_mkstemp");
	uv_file fd = (uv_file)req.result;
	char name[64];
	snprintf(name, sizeof name, "%s", req.path);
	uv_fs_req_cleanup(&req);
	uv_buf_t b = uv_buf_init("data!", 5);
	if (uv_fs_write(&loop, &req, fd, &b, 1, 0, NULL) != 5) FAIL("uv_fs_write");
	uv_fs_req_cleanup(&req);
	char rb[8] = {0};
	b = uv_buf_init(rb, sizeof rb);
	if (uv_fs_read(&loop, &req, fd, &b, 1, 0, NULL) != 5 || strcmp(rb, "data!")) FAIL("uv_fs_read");
	uv_fs_req_cleanup(&req);
	if (uv_fs_stat(&loop, &req, name, NULL) || req.statbuf.st_size != 5) FAIL("uv_fs_stat: size %llu", (unsigned long long)req.statbuf.st_size);
	uv_fs_req_cleanup(&req);
	uv_fs_close(&loop, &req, fd, NULL);
	uv_fs_unlink(&loop, &req, name, NULL);
	if (uv_loop_close(&loop)) FAIL("uv_loop_close: handles left open");
	printf("ok\n");
	return 0;
}
