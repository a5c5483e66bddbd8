/* The `rate` and `hold` modes of storm.c (included there; see its header for usage).
 *
 * rate: the storm's exchange (connect, ping, pong, close both ends) paced on an absolute
 *       schedule per client thread, for at most SECONDS; servers accept until every
 *       connection a client made is served.
 * hold: CONNECTIONS open connections over LISTENERS ports, both ends kept open until
 *       stdin closes. The soft fd limit is raised to the hard one (raising the hard limit
 *       needs CAP_SYS_RESOURCE); when two fds per connection do not fit, the connections
 *       are split over forked workers that share stdin, each with its own listeners. */

static atomic_long rate_made, rate_served;
static atomic_int rate_clients_done;

struct rate_client { long n; long long interval_ns, start_ns, end_ns; };

static void sleep_until(long long t) {
  struct timespec ts = {t / 1000000000LL, t % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static void *rate_client(void *arg) {
  struct rate_client *c = arg;
  char buf[4];
  for (long i = 0; i < c->n; i++) {
    long long due = c->start_ns + i * c->interval_ns;
    if (due >= c->end_ns || now_ns() >= c->end_ns) break;
    if (now_ns() < due) sleep_until(due);
    int fd = connect_one();
    atomic_fetch_add(&rate_made, 1);
    full(fd, "ping", 4, 1);
    full(fd, buf, 4, 0);
    close(fd);
  }
  return NULL;
}

static void *rate_server(void *arg) {
  (void)arg;
  char buf[4];
  struct pollfd p = {listener, POLLIN, 0};
  for (;;) {
    if (atomic_load(&rate_clients_done) && atomic_load(&rate_served) >= atomic_load(&rate_made))
      return NULL;
    if (poll(&p, 1, 20) <= 0) continue;
    int c = accept(listener, NULL, NULL); /* blocking: Linux does not inherit O_NONBLOCK */
    if (c < 0) continue;                   /* the other server thread took it */
    full(c, buf, 4, 0);
    full(c, "pong", 4, 1);
    close(c);
    atomic_fetch_add(&rate_served, 1);
  }
}

static long rate(long per_second, long seconds, int threads) {
  if (threads < 1 || threads > 64) threads = 4;
  if (per_second < 1) per_second = 1;
  pthread_t servers[2], clients[64];
  struct rate_client cs[64];
  int flags = fcntl(listener, F_GETFL);
  fcntl(listener, F_SETFL, flags | O_NONBLOCK);
  for (int i = 0; i < 2; i++) pthread_create(&servers[i], NULL, rate_server, NULL);
  long long interval = 1000000000LL * threads / per_second, start = now_ns();
  long total = per_second * seconds;
  for (int i = 0; i < threads; i++) {
    cs[i] = (struct rate_client){total / threads + (i < total % threads), interval,
                                 start + i * interval / threads, start + seconds * 1000000000LL};
    pthread_create(&clients[i], NULL, rate_client, &cs[i]);
  }
  for (int i = 0; i < threads; i++) pthread_join(clients[i], NULL);
  atomic_store(&rate_clients_done, 1);
  for (int i = 0; i < 2; i++) pthread_join(servers[i], NULL);
  return atomic_load(&rate_made);
}

#include <sys/wait.h>

struct hold_side { int *listeners, nl; int *fds; long n; };

static void *hold_server(void *arg) {
  struct hold_side *s = arg;
  struct pollfd p[256];
  for (int i = 0; i < s->nl; i++) p[i] = (struct pollfd){s->listeners[i], POLLIN, 0};
  for (long got = 0; got < s->n;) {
    if (poll(p, s->nl, 1000) < 0 && errno != EINTR) die("poll");
    for (int i = 0; i < s->nl && got < s->n; i++) {
      if (!(p[i].revents & POLLIN)) continue;
      int c = accept(s->listeners[i], NULL, NULL);
      if (c < 0) die("accept");
      s->fds[got++] = c;
    }
  }
  return NULL;
}

/* One worker's share: opens n connections, reports "1" on `ready`, waits for stdin EOF. */
static void hold_one(long n, int nl, int ready) {
  int listeners[256];
  struct sockaddr_in addrs[256];
  for (int i = 0; i < nl; i++) {
    listen_any();
    listeners[i] = listener;
    addrs[i] = server_addr;
    if (getenv("STORM_PORT")) {
      char port[16];
      snprintf(port, sizeof port, "%d", atoi(getenv("STORM_PORT")) + 1);
      setenv("STORM_PORT", port, 1);
    }
  }
  int *clients = calloc(n, sizeof(int)), *served = calloc(n, sizeof(int));
  if (!clients || !served) die("calloc");
  struct hold_side side = {listeners, nl, served, n};
  pthread_t server;
  pthread_create(&server, NULL, hold_server, &side);
  for (long i = 0; i < n; i++) {
    server_addr = addrs[i % nl];
    clients[i] = connect_one();
  }
  pthread_join(server, NULL);
  if (write(ready, "1", 1) != 1) die("write");
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  for (long i = 0; i < n; i++) {
    close(clients[i]);
    close(served[i]);
  }
}

static int hold_main(long n, int nl) {
  if (nl < 1 || nl > 256) nl = 4;
  struct rlimit lim;
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  long per = ((long)lim.rlim_cur - 64 - nl) / 2;
  if (per < 1) die("RLIMIT_NOFILE too small");
  int workers = (int)((n + per - 1) / per), pipe_fds[2];
  if (pipe(pipe_fds)) die("pipe");
  long long wall0 = now_ns();
  for (int w = 0; w < workers; w++) {
    long share = n / workers + (w < n % workers);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      close(pipe_fds[0]);
      if (getenv("STORM_PORT")) {
        char port[16];
        snprintf(port, sizeof port, "%d", atoi(getenv("STORM_PORT")) + w * nl);
        setenv("STORM_PORT", port, 1);
      }
      hold_one(share, nl, pipe_fds[1]);
      _exit(0);
    }
  }
  close(pipe_fds[1]);
  char one;
  for (int w = 0; w < workers; w++)
    if (read(pipe_fds[0], &one, 1) != 1) die("a hold worker failed");
  long long wall = now_ns() - wall0;
  fprintf(stderr, "held %ld in %d processes\n", n, workers);
  int status, failed = 0;
  while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status);
  struct rusage r;
  getrusage(RUSAGE_CHILDREN, &r);
  long long cpu = (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000000LL +
                  (r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1000LL;
  printf("%ld %lld %lld\n", n, wall, cpu);
  return failed;
}
