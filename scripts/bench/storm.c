/* Load for scripts/bench.sh, run inside the benchmark's network namespace.
 *
 *   storm CONNECTIONS THREADS   loopback connections: connect, 4-byte ping, 4-byte pong,
 *                               close both ends; THREADS client threads, one server thread
 *   rr REQUESTS CONNECTIONS     64-byte request/response over CONNECTIONS kept-alive
 *                               connections (TCP_NODELAY), round-robin, one thread each side
 *   rate PER_SECOND SECONDS THREADS
 *                               the storm's connections paced at PER_SECOND in total for
 *                               SECONDS (THREADS clients, each on its own schedule; a client
 *                               behind schedule runs flat out, so a rate the machine cannot
 *                               reach shows as fewer operations in the same wall time)
 *   hold CONNECTIONS LISTENERS  opens CONNECTIONS connections spread over LISTENERS listening
 *                               ports and keeps both ends open: prints "held N" on stderr,
 *                               waits for stdin to close, then closes them all
 *
 * Prints "<operations> <wall ns> <cpu ns>" (CPU: utime+stime of this process, which
 * includes the kernel programs that run in its context). STORM_PORT, when set, is the
 * (first) listening port; otherwise the kernel picks one. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in server_addr;
static int listener;

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long cpu_ns(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000000LL +
         (r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1000LL;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void full(int fd, char *buf, int n, int writing) {
  for (int done = 0; done < n;) {
    int r = writing ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
    if (r <= 0) die(writing ? "write" : "read");
    done += r;
  }
}

static int connect_one(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr)) die("connect");
  return fd;
}

static void *storm_server(void *arg) {
  long n = (long)arg;
  char buf[4];
  for (long i = 0; i < n; i++) {
    int c = accept(listener, NULL, NULL);
    if (c < 0) die("accept");
    full(c, buf, 4, 0);
    full(c, "pong", 4, 1);
    close(c);
  }
  return NULL;
}

static void *storm_client(void *arg) {
  long n = (long)arg;
  char buf[4];
  for (long i = 0; i < n; i++) {
    int fd = connect_one();
    full(fd, "ping", 4, 1);
    full(fd, buf, 4, 0);
    close(fd);
  }
  return NULL;
}

static void listen_any(void) {
  listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&server_addr, 0, sizeof server_addr);
  server_addr.sin_family = AF_INET;
  server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (getenv("STORM_PORT")) server_addr.sin_port = htons(atoi(getenv("STORM_PORT")));
  if (bind(listener, (struct sockaddr *)&server_addr, sizeof server_addr)) die("bind");
  socklen_t len = sizeof server_addr;
  getsockname(listener, (struct sockaddr *)&server_addr, &len);
  if (listen(listener, 4096)) die("listen");
}

static long storm(long n, int threads) {
  pthread_t server, clients[64];
  if (threads < 1 || threads > 64) threads = 4;
  pthread_create(&server, NULL, storm_server, (void *)n);
  for (int i = 0; i < threads; i++)
    pthread_create(&clients[i], NULL, storm_client, (void *)(n / threads + (i < n % threads)));
  for (int i = 0; i < threads; i++) pthread_join(clients[i], NULL);
  pthread_join(server, NULL);
  return n;
}

struct rr_side { int *fds; int conns; long requests; };

static void *rr_server(void *arg) {
  struct rr_side *s = arg;
  char buf[64];
  for (long i = 0; i < s->requests; i++) {
    int fd = s->fds[i % s->conns];
    full(fd, buf, 64, 0);
    full(fd, buf, 64, 1);
  }
  return NULL;
}

static long rr(long requests, int conns) {
  if (conns < 1 || conns > 1024) conns = 1;
  int client[1024], served[1024], one = 1;
  for (int i = 0; i < conns; i++) {
    client[i] = connect_one();
    served[i] = accept(listener, NULL, NULL);
    setsockopt(client[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(served[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  struct rr_side side = {served, conns, requests};
  pthread_t server;
  pthread_create(&server, NULL, rr_server, &side);
  char buf[64] = {0};
  for (long i = 0; i < requests; i++) {
    int fd = client[i % conns];
    full(fd, buf, 64, 1);
    full(fd, buf, 64, 0);
  }
  pthread_join(server, NULL);
  for (int i = 0; i < conns; i++) {
    close(client[i]);
    close(served[i]);
  }
  return requests;
}

#include "storm_more.c"

int main(int argc, char **argv) {
  if (argc < 4 || (strcmp(argv[1], "rate") == 0 && argc != 5) || (strcmp(argv[1], "rate") && argc != 4)) {
    fprintf(stderr, "usage: %s storm CONNECTIONS THREADS | rr REQUESTS CONNECTIONS | rate PER_SECOND SECONDS THREADS | hold CONNECTIONS LISTENERS\n", argv[0]);
    return 2;
  }
  if (strcmp(argv[1], "hold") == 0) return hold_main(atol(argv[2]), atoi(argv[3]));
  listen_any();
  long n = atol(argv[2]);
  int k = atoi(argv[3]);
  long long wall0 = now_ns(), cpu0 = cpu_ns();
  long ops = strcmp(argv[1], "rr") == 0     ? rr(n, k)
             : strcmp(argv[1], "rate") == 0 ? rate(n, k, atoi(argv[4]))
                                            : storm(n, k);
  printf("%ld %lld %lld\n", ops, now_ns() - wall0, cpu_ns() - cpu0);
  return 0;
}
