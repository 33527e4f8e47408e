/*
 * pipeload: the least-CPU HTTP/1.1 load generator the serving bench can use on a 2-core machine, where the load
 * generator takes CPU the server's second worker needs (see bench/serving.bench.ts, --loadgen pipeload).
 *
 *   pipeload HOST PORT PATH BODY_FILE CONNECTIONS SECONDS DEPTH
 *
 * One thread, epoll, CONNECTIONS keep-alive connections; each writes DEPTH copies of one POST request in one
 * write (HTTP/1.1 pipelining) and writes the next batch once all DEPTH responses have arrived. Each response is
 * parsed as far as counting needs: the status code, the end of the head and Content-Length (a response without
 * one, or chunked, counts as an error and the connection is re-opened). Prints one JSON line:
 *   {"requests":N,"duration_us":D,"p50_us":..,"p90_us":..,"p99_us":..,"max_us":..,"non2xx":N,"errors":N}
 * Latencies are per batch, from its write to its last response (as wrk's with pipelining).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INBUF (256 * 1024)
#define MAX_US 10000000 /* latencies past 10 s land in the last bucket */

typedef struct {
  int fd;
  char *in;
  size_t have;
  int pending;      /* responses of the current batch still to come */
  size_t written;   /* bytes of the current batch written */
  uint64_t started; /* when the batch's write began, us */
} conn;

static char *request;
static size_t request_len;
static uint32_t *histogram;
static uint64_t requests, non2xx, errors, batches;
static struct sockaddr_in addr;
static int depth, ep;

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void open_conn(conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
  fcntl(c->fd, F_SETFL, O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
  c->have = 0;
  c->pending = 0;
  c->written = 0;
}

static void reopen(conn *c) {
  errors++;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  open_conn(c);
}

/* Writes what is left of the batch; asks for EPOLLOUT while the socket's buffer is full. */
static void send_batch(conn *c) {
  while (c->written < request_len) {
    ssize_t n = write(c->fd, request + c->written, request_len - c->written);
    if (n > 0) {
      c->written += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      return;
    }
    reopen(c);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void start_batch(conn *c) {
  c->pending = depth;
  c->written = 0;
  c->started = now_us();
  send_batch(c);
}

/* Content-Length of a response head [head, end), or -1 when it has none. */
static long content_length(const char *head, const char *end) {
  static const char key[] = "\r\ncontent-length:";
  size_t k = sizeof key - 1;
  for (const char *p = head; p + k <= end; p++) {
    if (p[0] == '\r' && strncasecmp(p, key, k) == 0) {
      const char *v = p + k;
      while (v < end && *v == ' ') v++;
      long n = 0;
      int digits = 0;
      for (; v < end && *v >= '0' && *v <= '9'; v++, digits++) n = n * 10 + (*v - '0');
      return digits ? n : -1;
    }
  }
  return -1;
}

/* Consumes the whole responses in c->in; returns 0, or -1 on a response it cannot count. */
static int parse(conn *c, int counting) {
  size_t at = 0;
  for (;;) {
    char *head = c->in + at;
    size_t left = c->have - at;
    char *end = memmem(head, left, "\r\n\r\n", 4);
    if (end == NULL) break;
    if (left < 12 || memcmp(head, "HTTP/1.", 7) != 0) return -1;
    long length = content_length(head, end + 2);
    if (length < 0) return -1;
    size_t total = (size_t)(end + 4 - head) + (size_t)length;
    if (total > left) break;
    int status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
    if (counting) {
      requests++;
      if (status < 200 || status > 299) non2xx++;
    }
    at += total;
    if (--c->pending == 0) {
      uint64_t us = now_us() - c->started;
      if (counting) {
        histogram[us < MAX_US ? us : MAX_US]++;
        batches++;
      }
    }
  }
  memmove(c->in, c->in + at, c->have - at);
  c->have -= at;
  if (c->have == INBUF) return -1; /* one response larger than the buffer */
  return 0;
}

static uint64_t percentile(double p) {
  uint64_t want = (uint64_t)(p / 100.0 * (double)batches), seen = 0;
  for (uint64_t us = 0; us <= MAX_US; us++) {
    seen += histogram[us];
    if (seen > want) return us;
  }
  return MAX_US;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: pipeload HOST PORT PATH BODY_FILE CONNECTIONS SECONDS DEPTH\n");
    return 2;
  }
  const char *host = argv[1], *path = argv[3];
  int port = atoi(argv[2]), connections = atoi(argv[5]);
  double seconds = atof(argv[6]);
  depth = atoi(argv[7]);
  if (port <= 0 || connections <= 0 || seconds <= 0 || depth <= 0) {
    fprintf(stderr, "pipeload: PORT, CONNECTIONS, SECONDS and DEPTH must be positive\n");
    return 2;
  }
  FILE *f = fopen(argv[4], "rb");
  if (f == NULL) die(argv[4]);
  fseek(f, 0, SEEK_END);
  long body_len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *body = malloc((size_t)body_len + 1);
  if (fread(body, 1, (size_t)body_len, f) != (size_t)body_len) die("read body");
  fclose(f);
  char head[1024];
  int head_len = snprintf(head, sizeof head,
                          "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                          "Content-Length: %ld\r\n\r\n",
                          path, host, port, body_len);
  size_t one = (size_t)head_len + (size_t)body_len;
  request_len = one * (size_t)depth;
  request = malloc(request_len);
  for (int i = 0; i < depth; i++) {
    memcpy(request + one * i, head, (size_t)head_len);
    memcpy(request + one * i + head_len, body, (size_t)body_len);
  }
  histogram = calloc(MAX_US + 1, sizeof *histogram);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "pipeload: HOST must be an IPv4 address, not %s\n", host);
    return 2;
  }
  ep = epoll_create1(0);
  conn *conns = calloc((size_t)connections, sizeof *conns);
  for (int i = 0; i < connections; i++) {
    conns[i].in = malloc(INBUF);
    open_conn(&conns[i]);
  }
  uint64_t t0 = now_us(), stop = t0 + (uint64_t)(seconds * 1e6);
  for (int i = 0; i < connections; i++) start_batch(&conns[i]);
  struct epoll_event events[256];
  uint64_t t = t0;
  while (t < stop) {
    int n = epoll_wait(ep, events, 256, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    t = now_us();
    int counting = t < stop;
    for (int i = 0; i < n; i++) {
      conn *c = events[i].data.ptr;
      if (events[i].events & EPOLLOUT) send_batch(c);
      if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = read(c->fd, c->in + c->have, INBUF - c->have);
      if (r == 0 || (r < 0 && errno != EAGAIN)) {
        reopen(c);
        start_batch(c);
        continue;
      }
      if (r < 0) continue;
      c->have += (size_t)r;
      if (parse(c, counting) != 0) {
        reopen(c);
        start_batch(c);
      } else if (c->pending == 0) start_batch(c);
    }
  }
  uint64_t duration = t - t0, max = 0;
  for (uint64_t us = 0; us <= MAX_US; us++)
    if (histogram[us]) max = us;
  printf("{\"requests\":%llu,\"duration_us\":%llu,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,"
         "\"max_us\":%llu,\"non2xx\":%llu,\"errors\":%llu}\n",
         (unsigned long long)requests, (unsigned long long)duration, (unsigned long long)percentile(50),
         (unsigned long long)percentile(90), (unsigned long long)percentile(99), (unsigned long long)max,
         (unsigned long long)non2xx, (unsigned long long)errors);
  return 0;
}
