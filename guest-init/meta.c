#include "meta.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "config.h"
#include "macro.h"
#include "meta_parse.h"

#define META_MAX_BODY (4u * 1024 * 1024)

struct meta_fetch {
        struct loop *loop;
        CURLM *multi;
        CURL *easy;
        struct curl_slist *resolve;
        char *body;
        size_t len;
        bool too_big;
        bool finished;
        char *snapshot_path;
        char *why;                      /* set once the live fetch has failed */
        meta_done_fn done;
        void *userdata;
        char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        struct meta_fetch *m = userdata;
        size_t n = size * nmemb;
        if (m->len + n > META_MAX_BODY) {
                m->too_big = true;
                return 0;       /* makes curl stop with CURLE_WRITE_ERROR */
        }
        char *body = realloc(m->body, m->len + n + 1);
        if (!body)
                return 0;
        memcpy(body + m->len, data, n);
        m->body = body;
        m->len += n;
        return n;
}

int meta_url_host(const char *url, char *host, size_t len) {
        const char *p = strstr(url, "://");
        if (!p)
                return -EINVAL;
        p += 3;
        size_t n = strcspn(p, ":/?#");
        if (n == 0 || n >= len)
                return -EINVAL;
        memcpy(host, p, n);
        host[n] = '\0';
        return 0;
}

__attribute__((format(printf, 2, 3)))
static void set_why(struct meta_fetch *m, const char *fmt, ...) {
        va_list ap;
        if (m->why)
                return;
        va_start(ap, fmt);
        if (vasprintf(&m->why, fmt, ap) < 0)
                m->why = NULL;
        va_end(ap);
}

/* Live result or snapshot, then the callback; at most once. */
static void meta_finish(struct meta_fetch *m) {
        struct meta_result res = {.source = "live"};
        _cleanup_free_ char *error = NULL;

        if (m->finished)
                return;
        m->finished = true;
        if (!m->why) {
                int r = meta_parse(m->body ? m->body : "", m->len, &res.prefixes, &res.n_prefixes, &error);
                if (r < 0)
                        set_why(m, "the answer is not a usable meta document: %s", error ? error : "?");
                else
                        res.body = m->body, res.body_len = m->len;
        }
        if (m->why) {
                free(error);
                error = NULL;
                res.source = "snapshot";
                res.why_live_failed = m->why;
                /* An empty snapshot path: the caller wants the live answer only. */
                res.error = m->snapshot_path[0] ? meta_load_snapshot(m->snapshot_path, &res.prefixes,
                                                                     &res.n_prefixes, &error)
                                                : -ENOENT;
                if (res.error < 0 && m->snapshot_path[0]) {
                        char *both = NULL;
                        if (asprintf(&both, "%s; snapshot: %s", m->why, error ? error : "unusable") >= 0) {
                                free(m->why);
                                m->why = both;
                                res.why_live_failed = both;
                        }
                }
        }
        m->done(&res, m->userdata);
        free(res.prefixes);
}

static void check_transfers(struct meta_fetch *m) {
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                CURLcode code = msg->data.result;
                long status = 0;
                curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &status);
                if (m->too_big || code == CURLE_FILESIZE_EXCEEDED)
                        set_why(m, "%s", "the answer is larger than 4 MiB");
                else if (code == CURLE_HTTP_RETURNED_ERROR) {
                        char text[32];
                        snprintf(text, sizeof(text), "%ld", status);
                        set_why(m, "the server answered HTTP %s", text);
                } else if (code != CURLE_OK)
                        set_why(m, "%s", m->errbuf[0] ? m->errbuf : curl_easy_strerror(code));
                meta_finish(m);
        }
}

static int on_curl_io(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct meta_fetch *m = userdata;
        int flags = (events & EPOLLIN ? CURL_CSELECT_IN : 0) | (events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        int running;
        curl_multi_socket_action(m->multi, fd, flags, &running);
        check_transfers(m);
        return 0;
}

static int on_curl_timeout(struct loop *l, void *userdata) {
        struct meta_fetch *m = userdata;
        int running;
        curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_transfers(m);
        return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        struct meta_fetch *m = userp;
        if (what == CURL_POLL_REMOVE) {
                (void) loop_remove_io(m->loop, fd);
                return 0;
        }
        uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
        if (loop_modify_io(m->loop, fd, events) == -ENOENT)
                return loop_add_io(m->loop, fd, events, on_curl_io, m) < 0 ? -1 : 0;
        return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        struct meta_fetch *m = userp;
        if (timeout_ms < 0) {
                loop_cancel_timer(m->loop, m);
                return 0;
        }
        return loop_set_timer(m->loop, m, loop_now_usec() + (uint64_t) timeout_ms * 1000, on_curl_timeout, m) < 0 ? -1 : 0;
}

/* "host:port:addr,addr" so that curl never resolves by itself. */
static int build_resolve(struct meta_fetch *m, const struct meta_config *cfg) {
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL;
        int r = -EINVAL;
        if (u && curl_url_set(u, CURLUPART_URL, cfg->url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
                char entry[2048];
                int n = snprintf(entry, sizeof(entry), "%s:%s:", host, port);
                for (size_t i = 0; i < cfg->n_host_addrs && n > 0 && (size_t) n < sizeof(entry) - 64; i++) {
                        char buf[IP_PREFIX_STRLEN];
                        ip_prefix_format(&cfg->host_addrs[i], buf);
                        *strchr(buf, '/') = '\0';
                        bool v6 = cfg->host_addrs[i].family == AF_INET6;
                        n += snprintf(entry + n, sizeof(entry) - (size_t) n, "%s%s%s%s", i ? "," : "",
                                      v6 ? "[" : "", buf, v6 ? "]" : "");
                }
                m->resolve = curl_slist_append(NULL, entry);
                r = m->resolve ? 0 : -ENOMEM;
        }
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return r;
}

static int setup_transfer(struct meta_fetch *m, const struct meta_config *cfg) {
        static bool curl_ready;
        if (!curl_ready) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -ENOMEM;
                curl_ready = true;
        }
        if (build_resolve(m, cfg) < 0) {
                set_why(m, "%s is not a valid URL", cfg->url);
                return 0;
        }
        m->multi = curl_multi_init();
        m->easy = curl_easy_init();
        if (!m->multi || !m->easy)
                return -ENOMEM;
        CURL *e = m->easy;
        curl_easy_setopt(e, CURLOPT_URL, cfg->url);
        curl_easy_setopt(e, CURLOPT_RESOLVE, m->resolve);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) (cfg->timeout_ms ? cfg->timeout_ms : 5000));
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) META_MAX_BODY);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "agent-sandbox-init/" AGENT_SANDBOX_VERSION);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, m->errbuf);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, m);
        /* Only the URL decides where we connect: no proxy from the
         * environment, no connection left over from anything else. */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        if (cfg->ca_file) {
                /* The configured CA alone, not the system store besides. */
                curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
                curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        }
        curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
        curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
        curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
        return curl_multi_add_handle(m->multi, e) == CURLM_OK ? 0 : -ENOMEM;
}

static int finish_from_loop(struct loop *l, void *userdata) {
        meta_finish(userdata);
        return 0;
}

int meta_fetch_start(struct loop *l, const struct meta_config *cfg, meta_done_fn done, void *userdata,
                     struct meta_fetch **ret) {
        struct meta_fetch *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        *m = (struct meta_fetch) {.loop = l, .done = done, .userdata = userdata};
        m->snapshot_path = strdup(cfg->snapshot_path ? cfg->snapshot_path : "");
        if (!m->snapshot_path) {
                free(m);
                return -ENOMEM;
        }
        int r = 0;
        if (cfg->n_host_addrs == 0)
                set_why(m, "%s", "the meta host did not resolve");
        else
                r = setup_transfer(m, cfg);
        /* Without a transfer to run, answer from the loop all the same. */
        if (r == 0 && m->why)
                r = loop_set_timer(l, m, 0, finish_from_loop, m);
        if (r < 0) {
                meta_fetch_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

void meta_fetch_free(struct meta_fetch *m) {
        if (!m)
                return;
        loop_cancel_timer(m->loop, m);
        if (m->multi && m->easy)
                curl_multi_remove_handle(m->multi, m->easy);
        if (m->easy)
                curl_easy_cleanup(m->easy);
        if (m->multi)
                curl_multi_cleanup(m->multi);
        curl_slist_free_all(m->resolve);
        free(m->body);
        free(m->why);
        free(m->snapshot_path);
        free(m);
}
