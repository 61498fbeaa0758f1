/* SPDX-License-Identifier: MIT */
/* The flooder of bench_denials.py, compiled by it.
 *
 *   denials_flood BASE COUNT_FILE
 *   denials_flood spin COUNT_FILE
 *
 * A non-blocking TCP connect to a new address of BASE/16 each time, as fast
 * as one process can, the port moving on when the addresses wrap, until
 * SIGTERM; then one JSON line of counts on stdout. It stops itself
 * (SIGSTOP) before the first connect, for the benchmark to continue it
 * when a flooding slice starts. The number of connects
 * so far is kept in the first 8 bytes of COUNT_FILE (a shared mapping), so
 * that the benchmark reads how many each slice saw without stopping it.
 * With "spin" it only counts, making no system call: a CPU kept busy
 * without a flood. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: denials_flood BASE COUNT_FILE\n");
                return 2;
        }
        bool spin = strcmp(argv[1], "spin") == 0;
        struct in_addr base_addr = { 0 };
        if (!spin && inet_pton(AF_INET, argv[1], &base_addr) != 1) {
                fprintf(stderr, "denials_flood: not an IPv4 address: %s\n", argv[1]);
                return 2;
        }
        int cfd = open(argv[2], O_RDWR | O_CLOEXEC);
        if (cfd < 0) {
                perror("denials_flood: opening the count file");
                return 1;
        }
        volatile uint64_t *count = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
        if (count == MAP_FAILED) {
                perror("denials_flood: mapping the count file");
                return 1;
        }
        struct sigaction sa = { .sa_handler = on_term };
        sigaction(SIGTERM, &sa, NULL);

        raise(SIGSTOP);

        if (spin) {
                uint64_t n = 0;
                while (!stop)
                        *count = ++n;
                printf("{\"iterations\": %llu}\n", (unsigned long long) n);
                return 0;
        }

        uint32_t base = ntohl(base_addr.s_addr) & 0xffff0000u;
        unsigned long n = 0, refused = 0, inprogress = 0, other = 0, failed_socket = 0;
        while (!stop) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        failed_socket++;
                } else {
                        struct sockaddr_in to = { .sin_family = AF_INET };
                        to.sin_addr.s_addr = htonl(base + (uint32_t) (n & 0xffff));
                        to.sin_port = htons((uint16_t) (1024 + (n >> 16) % 60000));
                        if (connect(fd, (struct sockaddr *) &to, sizeof(to)) == 0)
                                other++;
                        else if (errno == ECONNREFUSED)
                                refused++;
                        else if (errno == EINPROGRESS)
                                inprogress++;
                        else
                                other++;
                        close(fd);
                }
                n++;
                *count = n;
        }
        printf("{\"connects\": %lu, \"ECONNREFUSED\": %lu, \"EINPROGRESS\": %lu, \"other\": %lu, "
               "\"socket_failed\": %lu}\n", n, refused, inprogress, other, failed_socket);
        return 0;
}
