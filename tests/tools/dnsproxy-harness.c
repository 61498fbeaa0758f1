/* SPDX-License-Identifier: MIT */
/* Plays PID 1's part for the resolver's tests (tests/dnsproxy): creates
 * the listening sockets and the control socketpair, forks the resolver
 * (dnsproxy_main) under nobody when run as root, prints every message it
 * receives as one JSON line on stdout, and acknowledges each ALLOW.
 *
 *   dnsproxy-harness --policy FILE --resolv-conf FILE [--port 53]
 *       [--deny-allow NAME]...   acknowledge NAME's ALLOW with -EPERM
 *       [--no-ack NAME]...       never acknowledge NAME's ALLOW
 *       [--ack-delay-ms N]       acknowledge N ms after the ALLOW
 *       [--upstream-timeout-ms N] [--tries N] [--allow-timeout-ms N]
 *       [--max-inflight N] [--max-tcp N] [--tcp-idle-ms N]
 *
 * Lines: {"event":"ready","pid":N}, {"event":"allow","seq":..,"name":..,
 * "qtype":..,"ttl":..,"addrs":[..],"t_usec":..}, {"event":"refused",..},
 * {"event":"exit","status":N}. t_usec is CLOCK_MONOTONIC, the clock of
 * Python's time.monotonic(). SIGTERM closes the control socket, which must
 * make the resolver exit 0; the harness then exits with its status. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dnsproxy.h"
#include "dnsproxy_proto.h"
#include "loop.h"
#include "policy.h"

#define MAX_NAMES 16
#define MAX_DELAYED 4096

static volatile sig_atomic_t stop;

static void on_sigterm(int sig) {
        stop = 1;
}

static int listen_socket(int family, int type, uint16_t port) {
        int fd = socket(family, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* As PID 1 does: a burst of queries must not overflow the default
         * buffer; only the privileged parent can raise it this far. */
        int size = 4 << 20;
        if (type == SOCK_DGRAM)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
        struct sockaddr_storage ss = {};
        socklen_t len;
        if (family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *) &ss;
                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                len = sizeof(*in);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                in6->sin6_addr = in6addr_loopback;
                len = sizeof(*in6);
        }
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || (type == SOCK_STREAM && listen(fd, 128) < 0)) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static bool listed(char *const *names, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], name) == 0)
                        return true;
        return false;
}

static void print_msg(const struct dnsproxy_msg *m) {
        char name[DNSPROXY_NAME_MAX + 1];
        memcpy(name, m->name, sizeof(name));
        name[DNSPROXY_NAME_MAX] = '\0';
        /* The resolver writes only [a-z0-9_-.?]; anything else is a bug
         * the test should see, not JSON it cannot read. */
        for (char *c = name; *c; c++)
                if (*c == '"' || *c == '\\' || (unsigned char) *c < 0x20 || (unsigned char) *c > 0x7e)
                        *c = '!';
        if (m->type == DNSPROXY_REFUSED) {
                printf("{\"event\":\"refused\",\"name\":\"%s\",\"qtype\":%u,\"t_usec\":%llu}\n",
                       name, m->qtype, (unsigned long long) loop_now_usec());
        } else {
                printf("{\"event\":\"allow\",\"seq\":%u,\"name\":\"%s\",\"qtype\":%u,\"ttl\":%u,\"n_addrs\":%u,\"addrs\":[",
                       m->seq, name, m->qtype, m->ttl, m->n_addrs);
                for (unsigned i = 0; i < m->n_addrs && i < DNSPROXY_ADDRS_MAX; i++) {
                        char buf[INET6_ADDRSTRLEN] = "?";
                        inet_ntop(m->addrs[i].family, m->addrs[i].addr, buf, sizeof(buf));
                        printf("%s\"%s\"", i ? "," : "", buf);
                }
                printf("],\"t_usec\":%llu}\n", (unsigned long long) loop_now_usec());
        }
        fflush(stdout);
}

static void drop_to_nobody(void) {
        if (geteuid() != 0)
                return;
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                perror("dnsproxy-harness: dropping privileges");
                _exit(1);
        }
}

struct delayed {
        uint64_t due_usec;
        struct dnsproxy_msg ack;
};

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"port", required_argument, NULL, 'p'},
                {"policy", required_argument, NULL, 'P'},
                {"resolv-conf", required_argument, NULL, 'r'},
                {"deny-allow", required_argument, NULL, 'd'},
                {"no-ack", required_argument, NULL, 'n'},
                {"ack-delay-ms", required_argument, NULL, 'D'},
                {"upstream-timeout-ms", required_argument, NULL, 'u'},
                {"tries", required_argument, NULL, 't'},
                {"allow-timeout-ms", required_argument, NULL, 'a'},
                {"max-inflight", required_argument, NULL, 'm'},
                {"max-tcp", required_argument, NULL, 'c'},
                {"tcp-idle-ms", required_argument, NULL, 'i'},
                {},
        };
        struct dnsproxy_config cfg = {.udp4_fd = -1, .udp6_fd = -1, .tcp4_fd = -1, .tcp6_fd = -1};
        const char *policy_path = NULL;
        char *deny[MAX_NAMES], *no_ack[MAX_NAMES];
        size_t n_deny = 0, n_no_ack = 0;
        unsigned port = 53, ack_delay_ms = 0;
        int opt;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
                switch (opt) {
                case 'p': port = (unsigned) atoi(optarg); break;
                case 'P': policy_path = optarg; break;
                case 'r': cfg.resolv_conf = optarg; break;
                case 'd': if (n_deny < MAX_NAMES) deny[n_deny++] = optarg; break;
                case 'n': if (n_no_ack < MAX_NAMES) no_ack[n_no_ack++] = optarg; break;
                case 'D': ack_delay_ms = (unsigned) atoi(optarg); break;
                case 'u': cfg.upstream_timeout_ms = (unsigned) atoi(optarg); break;
                case 't': cfg.upstream_tries = (unsigned) atoi(optarg); break;
                case 'a': cfg.allow_timeout_ms = (unsigned) atoi(optarg); break;
                case 'm': cfg.max_inflight = (unsigned) atoi(optarg); break;
                case 'c': cfg.max_tcp_clients = (unsigned) atoi(optarg); break;
                case 'i': cfg.tcp_idle_timeout_ms = (unsigned) atoi(optarg); break;
                default: return 2;
                }
        }
        if (!policy_path) {
                fprintf(stderr, "dnsproxy-harness: --policy FILE is required\n");
                return 2;
        }

        struct policy *policy = NULL;
        struct policy_diags diags = {};
        if (policy_parse_file(policy_path, &policy, &diags) < 0 || policy_expand(policy, &diags) < 0) {
                policy_diags_print(&diags, stderr);
                return 1;
        }
        cfg.policy = policy;

        cfg.udp4_fd = listen_socket(AF_INET, SOCK_DGRAM, (uint16_t) port);
        cfg.tcp4_fd = listen_socket(AF_INET, SOCK_STREAM, (uint16_t) port);
        cfg.udp6_fd = listen_socket(AF_INET6, SOCK_DGRAM, (uint16_t) port);
        cfg.tcp6_fd = listen_socket(AF_INET6, SOCK_STREAM, (uint16_t) port);
        if (cfg.udp4_fd < 0 || cfg.tcp4_fd < 0) {
                fprintf(stderr, "dnsproxy-harness: cannot listen on 127.0.0.1:%u: %s\n", port,
                        strerror(-(cfg.udp4_fd < 0 ? cfg.udp4_fd : cfg.tcp4_fd)));
                return 1;
        }
        if (cfg.udp6_fd < 0)
                cfg.udp6_fd = -1;
        if (cfg.tcp6_fd < 0)
                cfg.tcp6_fd = -1;

        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
                perror("dnsproxy-harness: socketpair");
                return 1;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
                perror("dnsproxy-harness: fork");
                return 1;
        }
        if (pid == 0) {
                close(sp[0]);
                cfg.control_fd = sp[1];
                drop_to_nobody();
                _exit(dnsproxy_main(&cfg) < 0 ? 1 : 0);
        }
        close(sp[1]);
        int fds[] = {cfg.udp4_fd, cfg.tcp4_fd, cfg.udp6_fd, cfg.tcp6_fd};
        for (size_t i = 0; i < 4; i++)
                if (fds[i] >= 0)
                        close(fds[i]);

        struct sigaction sa = {.sa_handler = on_sigterm};
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        printf("{\"event\":\"ready\",\"pid\":%d}\n", (int) pid);
        fflush(stdout);

        static struct delayed queue[MAX_DELAYED];
        size_t q_head = 0, q_len = 0;
        int control = sp[0];
        while (!stop && control >= 0) {
                int timeout = -1;
                uint64_t now = loop_now_usec();
                while (q_len > 0 && queue[q_head].due_usec <= now) {
                        (void) send(control, &queue[q_head].ack, sizeof(queue[q_head].ack), MSG_NOSIGNAL);
                        q_head = (q_head + 1) % MAX_DELAYED;
                        q_len--;
                }
                if (q_len > 0)
                        timeout = (int) ((queue[q_head].due_usec - now + 999) / 1000);
                struct pollfd pfd = {.fd = control, .events = POLLIN};
                int n = poll(&pfd, 1, timeout);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        continue;
                struct dnsproxy_msg m;
                ssize_t got = recv(control, &m, sizeof(m), 0);
                if (got == 0)
                        break;                  /* the child is gone */
                if (got != (ssize_t) sizeof(m)) {
                        printf("{\"event\":\"bad-message\",\"size\":%zd}\n", got);
                        fflush(stdout);
                        continue;
                }
                print_msg(&m);
                if (m.type != DNSPROXY_ALLOW || listed(no_ack, n_no_ack, m.name))
                        continue;
                struct dnsproxy_msg ack = {.type = DNSPROXY_ALLOWED, .seq = m.seq,
                                           .status = listed(deny, n_deny, m.name) ? -EPERM : 0};
                if (ack_delay_ms == 0 || q_len == MAX_DELAYED) {
                        (void) send(control, &ack, sizeof(ack), MSG_NOSIGNAL);
                        continue;
                }
                queue[(q_head + q_len) % MAX_DELAYED] = (struct delayed) {
                        .due_usec = loop_now_usec() + ack_delay_ms * 1000ull, .ack = ack};
                q_len++;
        }
        close(control);

        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        printf("{\"event\":\"exit\",\"status\":%d}\n", code);
        fflush(stdout);
        policy_free(policy);
        policy_diags_clear(&diags);
        return code;
}
