/* SPDX-License-Identifier: MIT */
/* Test driver for the nftables layer: applies a policy given on the command
 * line (or updates the allowed sets, or asks whether the table exists) with
 * the same code agent-sandbox-init uses, and prints what it did.
 *
 *   nft-apply [--allow CIDR]... [--allow-file FILE] [--port N]...
 *             [--resolver IP]... [--service NAME [--service-allow CIDR]...
 *             [--service-port N]...]... [--log-group N] [--update [--services-only]]
 *             [--repeat N] [--learn N]
 *   nft-apply --exists
 *
 * --service starts a service that adds ports (struct nft_service); the
 * --service-allow and --service-port after it are its own. --update with
 * services rewrites their address sets too; --services-only leaves
 * allowed_v4/_v6 alone. --log-group adds the rule that reports refused
 * packets to that nfnetlink_log group (nft_policy.log_group).
 *
 * --learn N then adds N new addresses to learned_v4, one transaction each
 * (nft_learned_update(), PID 1's part of each new answer of the resolver):
 *   valgrind --tool=callgrind --toggle-collect=nft_learned_update nft-apply --learn 1000
 * counts its instructions per answer.
 *
 * Prints "v4_intervals=N v6_intervals=N messages=N elapsed_ms=X" (the
 * elapsed time of the fastest call), "learned=N elapsed_ms=X" with --learn,
 * or "exists=yes|no"; exits 0 on success,
 * 1 on failure (the error was logged on stderr). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "macro.h"
#include "nft.h"
#include "prefix.h"

struct service {
        char *name;
        struct ip_prefix *allowed;
        size_t n_allowed;
        uint16_t *ports;
        size_t n_ports;
};

struct list {
        struct ip_prefix *allowed, *resolvers;
        size_t n_allowed, n_resolvers;
        uint16_t *ports;
        size_t n_ports;
        struct service *services;
        size_t n_services;
};

static int push_service(struct list *l, const char *name) {
        struct service *nv = reallocarray(l->services, l->n_services + 1, sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        l->services = nv;
        nv[l->n_services] = (struct service) {.name = strdup(name)};
        if (!nv[l->n_services].name)
                return -ENOMEM;
        l->n_services++;
        return 0;
}

static struct service *last_service(struct list *l) {
        if (l->n_services == 0) {
                fprintf(stderr, "nft-apply: --service-allow and --service-port go after --service NAME\n");
                return NULL;
        }
        return &l->services[l->n_services - 1];
}

static int push_prefix(struct ip_prefix **v, size_t *n, const char *text) {
        struct ip_prefix p;
        if (ip_prefix_parse(text, &p) < 0) {
                fprintf(stderr, "nft-apply: not an address or prefix: \"%s\"\n", text);
                return -EINVAL;
        }
        if ((*n & (*n - 1)) == 0) {     /* grow at powers of two */
                struct ip_prefix *nv = reallocarray(*v, *n ? *n * 2 : 1, sizeof(**v));
                if (!nv)
                        return -ENOMEM;
                *v = nv;
        }
        (*v)[(*n)++] = p;
        return 0;
}

static int read_file(struct list *l, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[128];
        if (!f) {
                fprintf(stderr, "nft-apply: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, " \t\r\n#")] = '\0';
                if (line[0] && push_prefix(&l->allowed, &l->n_allowed, line) < 0)
                        return -EINVAL;
        }
        return 0;
}

static int push_port(uint16_t **ports, size_t *n, const char *text) {
        char *end;
        unsigned long v = strtoul(text, &end, 10);
        if (*text == '\0' || *end != '\0' || v == 0 || v > 65535) {
                fprintf(stderr, "nft-apply: not a port: \"%s\"\n", text);
                return -EINVAL;
        }
        uint16_t *nv = reallocarray(*ports, *n + 1, sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        *ports = nv;
        (*ports)[(*n)++] = (uint16_t) v;
        return 0;
}

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* --learn: after the policy, n new addresses (198.18.0.1 on) added to
 * learned_v4 one transaction each, as PID 1 does for each new answer of the
 * resolver; *ret_best is the fastest. */
static int learn_each(long n, double *ret_best) {
        double best = -1;
        for (long i = 0; i < n; i++) {
                uint8_t a[4] = { 198, 18, (uint8_t) ((i + 1) >> 8), (uint8_t) (i + 1) };
                struct nft_learned e = { .timeout_ms = 60000 };
                ip_prefix_from_addr(AF_INET, a, &e.addr);
                double t0 = now_ms();
                int r = nft_learned_update(&e, 1, NULL, 0);
                double dt = now_ms() - t0;
                if (r < 0)
                        return r;
                if (best < 0 || dt < best)
                        best = dt;
        }
        *ret_best = best;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "allow", required_argument, NULL, 'a' },
                { "allow-file", required_argument, NULL, 'f' },
                { "port", required_argument, NULL, 'p' },
                { "resolver", required_argument, NULL, 'r' },
                { "update", no_argument, NULL, 'u' },
                { "exists", no_argument, NULL, 'e' },
                { "repeat", required_argument, NULL, 'n' },
                { "service", required_argument, NULL, 's' },
                { "service-allow", required_argument, NULL, 'A' },
                { "service-port", required_argument, NULL, 'P' },
                { "services-only", no_argument, NULL, 'o' },
                { "log-group", required_argument, NULL, 'g' },
                { "learn", required_argument, NULL, 'l' },
                {}
        };
        struct list l = {0};
        struct service *svc;
        bool update = false, exists = false, services_only = false;
        long repeat = 1, log_group = 0, learn = 0;
        int c, r = 0;

        while (r == 0 && (c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'a': r = push_prefix(&l.allowed, &l.n_allowed, optarg); break;
                case 'f': r = read_file(&l, optarg); break;
                case 'p': r = push_port(&l.ports, &l.n_ports, optarg); break;
                case 's': r = push_service(&l, optarg); break;
                case 'A':
                        svc = last_service(&l);
                        r = svc ? push_prefix(&svc->allowed, &svc->n_allowed, optarg) : -EINVAL;
                        break;
                case 'P':
                        svc = last_service(&l);
                        r = svc ? push_port(&svc->ports, &svc->n_ports, optarg) : -EINVAL;
                        break;
                case 'o': services_only = true; break;
                case 'r': r = push_prefix(&l.resolvers, &l.n_resolvers, optarg); break;
                case 'u': update = true; break;
                case 'e': exists = true; break;
                case 'n': repeat = strtol(optarg, NULL, 10); break;
                case 'g': log_group = strtol(optarg, NULL, 10); break;
                case 'l': learn = strtol(optarg, NULL, 10); break;
                default: r = -EINVAL;
                }
        }
        if (r < 0 || optind != argc || repeat < 1 || log_group < 0 || log_group > 65535 || learn < 0 ||
            learn > 65536)
                return 1;

        if (exists) {
                r = nft_table_exists();
                if (r >= 0)
                        printf("exists=%s\n", r ? "yes" : "no");
        } else {
                struct nft_service *services = calloc(l.n_services + 1, sizeof(*services));
                if (!services)
                        return 1;
                for (size_t i = 0; i < l.n_services; i++)
                        services[i] = (struct nft_service) {
                                .name = l.services[i].name,
                                .allowed = l.services[i].allowed, .n_allowed = l.services[i].n_allowed,
                                .tcp_ports = l.services[i].ports, .n_tcp_ports = l.services[i].n_ports,
                        };
                struct nft_policy p = {
                        .allowed = l.allowed, .n_allowed = l.n_allowed,
                        .tcp_ports = l.ports, .n_tcp_ports = l.n_ports,
                        .resolvers = l.resolvers, .n_resolvers = l.n_resolvers,
                        .services = services, .n_services = l.n_services,
                        .log_group = (uint16_t) log_group,
                };
                struct nft_sets_update u = {
                        .update_allowed = !services_only, .allowed = l.allowed, .n_allowed = l.n_allowed,
                        .services = services, .n_services = l.n_services,
                };
                struct nft_stats st = {0};
                double best = -1;
                for (long i = 0; r >= 0 && i < repeat; i++) {
                        double t0 = now_ms();
                        r = update ? nft_update_sets(&u, &st) : nft_apply_policy(&p, &st);
                        double dt = now_ms() - t0;
                        if (best < 0 || dt < best)
                                best = dt;
                }
                if (r >= 0 && learn > 0)
                        r = learn_each(learn, &best);
                if (r >= 0 && learn > 0)
                        printf("learned=%ld elapsed_ms=%.3f\n", learn, best);
                else if (r >= 0)
                        printf("v4_intervals=%zu v6_intervals=%zu service_v4_intervals=%zu "
                               "service_v6_intervals=%zu messages=%zu elapsed_ms=%.3f\n",
                               st.v4_intervals, st.v6_intervals, st.service_v4_intervals,
                               st.service_v6_intervals, st.messages, best);
                free(services);
        }
        for (size_t i = 0; i < l.n_services; i++) {
                free(l.services[i].name);
                free(l.services[i].allowed);
                free(l.services[i].ports);
        }
        free(l.services);
        free(l.allowed);
        free(l.resolvers);
        free(l.ports);
        return r < 0 ? 1 : 0;
}
