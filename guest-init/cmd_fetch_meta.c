/* SPDX-License-Identifier: MIT */
#include "cmd_fetch_meta.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "loop.h"
#include "macro.h"
#include "meta.h"
#include "meta_http.h"
#include "meta_parse.h"
#include "policy.h"
#include "resolve.h"
#include "timeouts.h"

struct fetch_state {
        struct loop *loop;
        const char *output;
        const char *url;
        const char *ca_file;
        unsigned timeout_ms;
        int error;
};

/* The build host's fetch: the same transfer, settings and parser as the
 * sandbox's, run in this process (it is not PID 1 and holds nothing). */
static int fetch_and_write(struct fetch_state *s, const struct ip_prefix *addrs, size_t n_addrs) {
        char resolve[2048];
        _cleanup_free_ char *ca = NULL, *body = NULL, *why = NULL, *error = NULL;
        _cleanup_free_ struct ip_prefix *prefixes = NULL;
        size_t ca_len = 0, body_len = 0, n = 0;

        if (meta_resolve_entry(s->url, addrs, n_addrs, resolve, sizeof(resolve)) < 0)
                return log_error_errno(-EINVAL, "%s is not a valid http(s) URL", s->url);
        if (s->ca_file && meta_read_ca_file(s->ca_file, &ca, &ca_len, &why) < 0)
                return log_error_errno(-EINVAL, "fetching %s failed: %s", s->url, why ? why : "?");
        struct meta_http_request req = {
                .url = s->url, .resolve = resolve, .ca_pem = ca, .ca_pem_len = ca_len, .timeout_ms = s->timeout_ms,
        };
        if (meta_http_get(&req, &body, &body_len, &why) < 0)
                return log_error_errno(-EIO, "fetching %s failed: %s", s->url, why ? why : "?");
        if (meta_parse(body, body_len, &prefixes, &n, &error) < 0)
                return log_error_errno(-EIO, "fetching %s failed: the answer is not a usable meta document: %s",
                                       s->url, error ? error : "?");
        /* Replaced whole: a failed or interrupted run never leaves a
         * half-written snapshot for the build. */
        int r = base_write_file_atomic(s->output, body, body_len, 0644);
        if (r < 0)
                return log_error_errno(r, "cannot write %s: %m", s->output);
        log_info("wrote %s: %zu ranges of the web, api and git keys from %s", s->output, n, s->url);
        return r;
}

static void host_resolved(const struct resolve_result *res, void *userdata) {
        struct fetch_state *s = userdata;
        if (res->error < 0) {
                log_error("the meta host %s did not resolve (%s); check /etc/resolv.conf and the network",
                          res->name, res->error_text);
                s->error = res->error;
        } else
                s->error = fetch_and_write(s, res->addrs, res->n_addrs);
        loop_quit(s->loop, 0);
}

static void fetch_meta_help(void) {
        printf("Usage: agent-sandbox-init fetch-meta --output FILE [--url URL] [--ca-file FILE] [--timeout-ms N]\n"
               "\n"
               "Fetch GitHub's meta document (default %s), check that its web, api\n"
               "and git keys hold address ranges, and write it to FILE for the image build to\n"
               "bake in as the snapshot used when the live fetch fails at startup.\n",
               POLICY_GITHUB_META_URL_DEFAULT);
}

int cmd_fetch_meta(int argc, char **argv) {
        static const struct option options[] = {
                {"output", required_argument, NULL, 'o'},
                {"url", required_argument, NULL, 'u'},
                {"ca-file", required_argument, NULL, 'c'},
                {"timeout-ms", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct fetch_state s = { .url = POLICY_GITHUB_META_URL_DEFAULT, .timeout_ms = TIMEOUT_META_FETCH_BUILD_MS };
        int c;

        /* A build-host tool: inside a sandbox the binary carries a file
         * capability, and a privileged process has no business fetching
         * and writing files for whoever started it. */
        if (getauxval(AT_SECURE)) {
                log_error("fetch-meta does not run with elevated privileges; run it on the build host");
                return 2;
        }
        optind = 1;
        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0) {
                char *end;
                switch (c) {
                case 'o':
                        s.output = optarg;
                        break;
                case 'u':
                        s.url = optarg;
                        break;
                case 'c':
                        s.ca_file = optarg;
                        break;
                case 't':
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || *end || v == 0 || v > 600000) {
                                log_error("--timeout-ms takes milliseconds between 1 and 600000, not '%s'", optarg);
                                return 2;
                        }
                        s.timeout_ms = (unsigned) v;
                        break;
                case 'h':
                        fetch_meta_help();
                        return 0;
                default:
                        return 2;
                }
        }
        if (optind < argc || !s.output) {
                log_error(optind < argc ? "fetch-meta takes no arguments; see agent-sandbox-init fetch-meta --help"
                                        : "fetch-meta needs --output FILE; see agent-sandbox-init fetch-meta --help");
                return 2;
        }
        struct policy_url url;
        const char *reason;
        if (policy_url_parse(s.url, &url, &reason) < 0) {
                log_error("--url %s: %s", s.url, reason);
                return 2;
        }

        struct resolver *resolver = NULL;
        s.error = -EINPROGRESS;
        int r = loop_new(&s.loop);
        if (r >= 0)
                r = resolver_new(s.loop, &(struct resolver_config) {}, &resolver);
        if (r >= 0)
                r = resolver_resolve(resolver, url.host, host_resolved, &s);
        if (r >= 0)
                r = loop_run(s.loop);
        if (r < 0)
                log_error_errno(r, "fetch-meta failed: %m");
        resolver_free(resolver);
        loop_free(s.loop);
        return r < 0 || s.error < 0 ? 1 : 0;
}
