/* SPDX-License-Identifier: MIT */
/* The allowed flow of bench_denials.py, compiled by it: a server and a
 * client, in C so that what is timed is the kernel's path and not an
 * interpreter's pauses.
 *
 *   denials_flow serve PORT BYTES
 *      "ready" on stdout once listening; each connection then gets BYTES
 *      bytes and an EOF, one connection at a time.
 *
 *   denials_flow client ADDR PORT PERIOD_US
 *      every PERIOD_US, a blocking connect to ADDR:PORT (timed) and the
 *      transfer read to its end (timed), until SIGTERM; then one line per
 *      connection on stdout:
 *        START_NS CONNECT_NS TRANSFER_NS BYTES ERRNO
 *      START_NS on CLOCK_MONOTONIC (Python's time.monotonic_ns), ERRNO 0
 *      for a connection that worked. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int serve(int port, size_t bytes) {
        char *payload = malloc(bytes);
        int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        if (!payload || ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(ls, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(ls, 128) < 0) {
                perror("denials_flow serve");
                return 1;
        }
        memset(payload, 'x', bytes);
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                size_t off = 0;
                while (off < bytes) {
                        ssize_t k = send(c, payload + off, bytes - off, MSG_NOSIGNAL);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                break;
                        off += (size_t) k;
                }
                close(c);
        }
}

struct sample {
        int64_t start, connect, transfer;
        long bytes;
        int err;
};

static int client(const char *addr, int port, long period_us) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        if (inet_pton(AF_INET, addr, &to.sin_addr) != 1) {
                fprintf(stderr, "denials_flow: not an IPv4 address: %s\n", addr);
                return 2;
        }
        struct sigaction sa = { .sa_handler = on_term };
        sigaction(SIGTERM, &sa, NULL);
        size_t n = 0, cap = 4096;
        struct sample *s = malloc(cap * sizeof(*s));
        static char buf[256 * 1024];
        struct timeval tmo = { .tv_sec = 5 };
        int64_t next = now_ns();
        while (!stop && s) {
                if (n == cap) {
                        cap *= 2;
                        s = realloc(s, cap * sizeof(*s));
                        if (!s)
                                break;
                }
                struct sample *x = &s[n++];
                memset(x, 0, sizeof(*x));
                x->start = now_ns();
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        x->err = errno;
                } else {
                        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
                        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
                        int64_t t0 = now_ns();
                        if (connect(fd, (struct sockaddr *) &to, sizeof(to)) < 0) {
                                x->err = errno;
                        } else {
                                int64_t t1 = now_ns();
                                x->connect = t1 - t0;
                                for (;;) {
                                        ssize_t k = read(fd, buf, sizeof(buf));
                                        if (k < 0 && errno == EINTR && !stop)
                                                continue;
                                        if (k < 0)
                                                x->err = errno;
                                        if (k <= 0)
                                                break;
                                        x->bytes += k;
                                }
                                x->transfer = now_ns() - t1;
                        }
                        close(fd);
                }
                next += period_us * 1000;
                int64_t t = now_ns();
                if (next > t) {
                        struct timespec ts = { .tv_sec = next / 1000000000, .tv_nsec = next % 1000000000 };
                        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                } else {
                        next = t;
                }
        }
        if (!s) {
                fprintf(stderr, "denials_flow: out of memory\n");
                return 1;
        }
        for (size_t i = 0; i < n; i++)
                printf("%lld %lld %lld %ld %d\n", (long long) s[i].start, (long long) s[i].connect,
                       (long long) s[i].transfer, s[i].bytes, s[i].err);
        return 0;
}

int main(int argc, char **argv) {
        if (argc == 4 && strcmp(argv[1], "serve") == 0)
                return serve(atoi(argv[2]), (size_t) atol(argv[3]));
        if (argc == 5 && strcmp(argv[1], "client") == 0)
                return client(argv[2], atoi(argv[3]), atol(argv[4]));
        fprintf(stderr, "usage: denials_flow serve PORT BYTES | client ADDR PORT PERIOD_US\n");
        return 2;
}
