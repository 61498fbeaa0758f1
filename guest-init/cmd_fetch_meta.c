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

#include "log.h"
#include "loop.h"
#include "macro.h"
#include "meta.h"
#include "policy.h"
#include "resolve.h"

struct fetch_state {
        struct loop *loop;
        const char *output;
        struct meta_config cfg;
        struct meta_fetch *fetch;
        int error;
};

/* Write to a temporary file next to path, then rename: a failed or
 * interrupted run never leaves a half-written snapshot for the build. */
static int write_atomically(const char *path, const char *data, size_t len) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        int fd = mkstemp(tmp);
        if (fd < 0)
                return log_error_errno(-errno, "cannot create a file next to %s: %m", path);
        int r = 0;
        for (size_t done = 0; r == 0 && done < len;) {
                ssize_t n = write(fd, data + done, len - done);
                if (n < 0 && errno != EINTR)
                        r = -errno;
                else if (n > 0)
                        done += (size_t) n;
        }
        if (r == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return log_error_errno(r, "cannot write %s: %m", path);
        }
        return 0;
}

static void fetched(const struct meta_result *res, void *userdata) {
        struct fetch_state *s = userdata;
        if (res->why_live_failed || !res->body) {
                log_error("fetching %s failed: %s", s->cfg.url,
                          res->why_live_failed ? res->why_live_failed : "no answer");
                s->error = -EIO;
        } else {
                s->error = write_atomically(s->output, res->body, res->body_len);
                if (s->error == 0)
                        log_info("wrote %s: %zu ranges of the web, api and git keys from %s", s->output,
                                 res->n_prefixes, s->cfg.url);
        }
        loop_quit(s->loop, 0);
}

static void host_resolved(const struct resolve_result *res, void *userdata) {
        struct fetch_state *s = userdata;
        if (res->error < 0) {
                log_error("the meta host %s did not resolve (%s); check /etc/resolv.conf and the network",
                          res->name, res->error_text);
                s->error = res->error;
                loop_quit(s->loop, 0);
                return;
        }
        s->cfg.host_addrs = res->addrs;
        s->cfg.n_host_addrs = res->n_addrs;
        int r = meta_fetch_start(s->loop, &s->cfg, fetched, s, &s->fetch);
        /* meta_fetch_start() copies what it needs out of cfg. */
        s->cfg.host_addrs = NULL;
        s->cfg.n_host_addrs = 0;
        if (r < 0) {
                log_error_errno(r, "cannot start the fetch of %s: %m", s->cfg.url);
                s->error = r;
                loop_quit(s->loop, 0);
        }
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
        struct fetch_state s = {
                .cfg = {.url = POLICY_GITHUB_META_URL_DEFAULT, .timeout_ms = 10000, .snapshot_path = ""},
        };
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
                        s.cfg.url = optarg;
                        break;
                case 'c':
                        s.cfg.ca_file = optarg;
                        break;
                case 't':
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || *end || v == 0 || v > 600000) {
                                log_error("--timeout-ms takes milliseconds between 1 and 600000, not '%s'", optarg);
                                return 2;
                        }
                        s.cfg.timeout_ms = (unsigned) v;
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
        char host[256];
        if (meta_url_host(s.cfg.url, host, sizeof(host)) < 0) {
                log_error("%s is not an http(s) URL with a host name", s.cfg.url);
                return 2;
        }

        struct resolver *resolver = NULL;
        s.error = -EINPROGRESS;
        int r = loop_new(&s.loop);
        if (r >= 0)
                r = resolver_new(s.loop, &(struct resolver_config) {}, &resolver);
        if (r >= 0)
                r = resolver_resolve(resolver, host, host_resolved, &s);
        if (r >= 0)
                r = loop_run(s.loop);
        if (r < 0)
                log_error_errno(r, "fetch-meta failed: %m");
        meta_fetch_free(s.fetch);
        resolver_free(resolver);
        loop_free(s.loop);
        return r < 0 || s.error < 0 ? 1 : 0;
}
