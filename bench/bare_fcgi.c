/* The FastCGI ceiling: a bare libfcgi responder with the service's process/thread layout.
 *
 * Run exactly where the service runs (spawn-fcgi -n → multiwatch -f $CHITTYCHARGE_PROCESSES →
 * this binary, fd 0 = the socket): bench/run.sh passes it to scripts/run.sh as
 * CHITTYCHARGE_WORKER, so nginx, its config and the socket are the service's own.
 *
 * Each of CHITTYCHARGE_THREADS threads (bench/run.sh passes the service's count; 128 if
 * unset, the service's default) loops on
 * FCGX_Accept_r on the shared socket (accept() is thread-safe on Linux: no mutex), reads
 * the params and the body as the service does, and answers a fixed small JSON document
 * with the same headers the service sends (Content-Type, Content-Length, X-Request-Id).
 * Nothing else: no memcached, no curl, no logging. SIGTERM (multiwatch -s TERM) ends it.
 *
 * Build: cc -O2 -pthread -o bare_fcgi bench/bare_fcgi.c -lfcgi
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char kBody[] = "{\"status\":\"healthy\",\"service\":\"bare-fcgi\"}\n";

static size_t FormatUnsigned(char* out, unsigned long value) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  return n;
}

static void* Serve(void* arg) {
  (void)arg;
  FCGX_Request req;
  char head[512];
  char sink[4096];
  if (FCGX_InitRequest(&req, 0, 0) != 0) return NULL;
  while (FCGX_Accept_r(&req) >= 0) {
    /* Touch the params the way a real responder does (method, URI, request id). */
    const char* method = FCGX_GetParam("REQUEST_METHOD", req.envp);
    const char* uri = FCGX_GetParam("REQUEST_URI", req.envp);
    const char* rid = FCGX_GetParam("HTTP_X_REQUEST_ID", req.envp);
    (void)method;
    (void)uri;
    /* Drain the body (POSTs). */
    while (FCGX_GetStr(sink, (int)sizeof sink, req.in) > 0) {
    }
    size_t n = 0;
    static const char kStatus[] =
        "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: ";
    memcpy(head + n, kStatus, sizeof kStatus - 1);
    n += sizeof kStatus - 1;
    n += FormatUnsigned(head + n, (unsigned long)(sizeof kBody - 1));
    static const char kRid[] = "\r\nX-Request-Id: ";
    memcpy(head + n, kRid, sizeof kRid - 1);
    n += sizeof kRid - 1;
    if (rid != NULL) {
      size_t len = strlen(rid);
      if (len > 128) len = 128;
      memcpy(head + n, rid, len);
      n += len;
    } else {
      head[n++] = '-';
    }
    memcpy(head + n, "\r\n\r\n", 4);
    n += 4;
    FCGX_PutStr(head, (int)n, req.out);
    FCGX_PutStr(kBody, (int)(sizeof kBody - 1), req.out);
    FCGX_Finish_r(&req);
  }
  return NULL;
}

int main(void) {
  const char* env = getenv("CHITTYCHARGE_THREADS");
  long threads = env != NULL && *env != '\0' ? strtol(env, NULL, 10) : 128;
  if (threads < 1 || threads > 1024) {
    fprintf(stderr, "bare_fcgi: CHITTYCHARGE_THREADS must be 1..1024\n");
    return 2;
  }
  if (FCGX_Init() != 0) {
    fprintf(stderr, "bare_fcgi: FCGX_Init failed\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  pthread_t* ids = calloc((size_t)threads, sizeof *ids);
  if (ids == NULL) return 1;
  for (long i = 0; i < threads; ++i) {
    if (pthread_create(&ids[i], NULL, Serve, NULL) != 0) {
      fprintf(stderr, "bare_fcgi: pthread_create failed\n");
      return 1;
    }
  }
  fprintf(stderr, "bare_fcgi: serving with %ld threads\n", threads);
  for (long i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
  free(ids);
  return 0;
}
