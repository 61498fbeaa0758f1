/* SPDX-License-Identifier: MIT */
#include "meta_http.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "config.h"
#include "macro.h"
#include "policy.h"
#include "prefix.h"
#include "timeouts.h"

/* The libcurl entry points we use, looked up once in the fetching process.
 * Calling through these pointers also bypasses curl.h's type-checking
 * macros, so each option below passes exactly the type curl expects. */
static struct {
        CURLcode (*global_init)(long);
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
        CURLcode (*easy_perform)(CURL *);
        CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
        const char *(*easy_strerror)(CURLcode);
        void (*easy_cleanup)(CURL *);
        struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
        void (*slist_free_all)(struct curl_slist *);
} curl;

static int load_curl(char **ret_why) {
        static const struct {
                const char *name;
                size_t offset;
        } symbols[] = {
#define SYM(field, name) { name, offsetof(__typeof__(curl), field) }
                SYM(global_init, "curl_global_init"),
                SYM(easy_init, "curl_easy_init"),
                SYM(easy_setopt, "curl_easy_setopt"),
                SYM(easy_perform, "curl_easy_perform"),
                SYM(easy_getinfo, "curl_easy_getinfo"),
                SYM(easy_strerror, "curl_easy_strerror"),
                SYM(easy_cleanup, "curl_easy_cleanup"),
                SYM(slist_append, "curl_slist_append"),
                SYM(slist_free_all, "curl_slist_free_all"),
#undef SYM
        };
        if (curl.easy_init)
                return 0;
        void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
                if (asprintf(ret_why, "libcurl cannot be loaded (%s); install libcurl4", dlerror()) < 0)
                        *ret_why = NULL;
                return -ENOENT;
        }
        for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
                void *fn = dlsym(lib, symbols[i].name);
                if (!fn) {
                        if (asprintf(ret_why, "libcurl lacks %s; it is too old", symbols[i].name) < 0)
                                *ret_why = NULL;
                        return -ENOENT;
                }
                memcpy((char *) &curl + symbols[i].offset, &fn, sizeof(fn));
        }
        if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                *ret_why = strdup("libcurl could not be initialised");
                curl.easy_init = NULL;
                return -ENOMEM;
        }
        return 0;
}

int meta_resolve_entry(const char *url, const struct ip_prefix *addrs, size_t n, char *buf, size_t len) {
        struct policy_url u;
        if (policy_url_parse(url, &u, NULL) < 0)
                return -EINVAL;
        /* curl reads an IPv6 host of the entry in brackets, as in the URL. */
        int w = snprintf(buf, len, "%s%s%s:%u:", u.host_is_ipv6 ? "[" : "", u.host, u.host_is_ipv6 ? "]" : "",
                         u.port);
        for (size_t i = 0; i < n && w >= 0 && (size_t) w < len; i++) {
                char a[IP_PREFIX_STRLEN];
                ip_prefix_format(&addrs[i], a);
                *strchr(a, '/') = '\0';
                bool v6 = addrs[i].family == AF_INET6;
                w += snprintf(buf + w, len - (size_t) w, "%s%s%s%s", i ? "," : "", v6 ? "[" : "", a, v6 ? "]" : "");
        }
        return w < 0 || (size_t) w >= len ? -ENOBUFS : 0;
}

struct body {
        char *data;
        size_t len;
        bool too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        struct body *b = userdata;
        size_t n = size * nmemb;
        if (b->len + n > META_MAX_BODY) {
                b->too_big = true;
                return 0;       /* makes curl stop with CURLE_WRITE_ERROR */
        }
        char *grown = realloc(b->data, b->len + n + 1);
        if (!grown)
                return 0;
        memcpy(grown + b->len, data, n);
        grown[b->len + n] = '\0';
        b->data = grown;
        b->len += n;
        return n;
}

__attribute__((format(printf, 2, 3)))
static int fail(char **ret_why, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret_why, fmt, ap) < 0)
                *ret_why = NULL;
        va_end(ap);
        return -EIO;
}

/* CURLOPT_OPENSOCKETFUNCTION: one of the prepared sockets, each once. */
static curl_socket_t open_prepared_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *addr) {
        const struct meta_http_request *req = userdata;
        if (purpose != CURLSOCKTYPE_IPCXN || addr->socktype != SOCK_STREAM)
                return CURL_SOCKET_BAD;
        for (size_t i = 0; i < req->n_sockets; i++)
                if (req->sockets[i].fd >= 0 && req->sockets[i].family == addr->family) {
                        int fd = req->sockets[i].fd;
                        req->sockets[i].fd = -1;
                        return fd;
                }
        return CURL_SOCKET_BAD;
}

int meta_http_get(const struct meta_http_request *req, char **ret_body, size_t *ret_len, char **ret_why) {
        *ret_why = NULL;
        int r = load_curl(ret_why);
        if (r < 0)
                return r;
        CURL *e = curl.easy_init();
        if (!e)
                return fail(ret_why, "libcurl could not start a transfer");
        struct curl_slist *resolve = req->resolve ? curl.slist_append(NULL, req->resolve) : NULL;
        if (req->resolve && !resolve) {
                curl.easy_cleanup(e);
                return fail(ret_why, "%s", "out of memory");
        }
        char errbuf[CURL_ERROR_SIZE] = "";
        struct body b = {};
        struct curl_blob ca = { .data = (void *) req->ca_pem, .len = req->ca_pem_len, .flags = CURL_BLOB_COPY };

        curl.easy_setopt(e, CURLOPT_URL, req->url);
        /* Without the pinned addresses curl would resolve by itself, past
         * the rebinding guard: then no transfer at all. */
        if (resolve && curl.easy_setopt(e, CURLOPT_RESOLVE, resolve) != CURLE_OK) {
                curl.easy_cleanup(e);
                curl.slist_free_all(resolve);
                return fail(ret_why, "%s", "libcurl refused the pinned addresses (CURLOPT_RESOLVE)");
        }
        if (req->sockets) {
                curl_opensocket_callback open_socket = open_prepared_socket;
                curl.easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
                curl.easy_setopt(e, CURLOPT_OPENSOCKETDATA, (void *) req);
        }
        curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
        curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl.easy_setopt(e, CURLOPT_FAILONERROR, 1L);
        curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) (req->timeout_ms ? req->timeout_ms : TIMEOUT_META_FETCH_MS));
        curl.easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) META_MAX_BODY);
        curl.easy_setopt(e, CURLOPT_USERAGENT, "agent-sandbox-init/" AGENT_SANDBOX_VERSION);
        curl.easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
        curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl.easy_setopt(e, CURLOPT_WRITEDATA, &b);
        /* Only the URL decides where we connect: no proxy from the
         * environment, no connection left over from anything else. */
        curl.easy_setopt(e, CURLOPT_PROXY, "");
        curl.easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        if (req->ca_pem) {
                /* The configured CA alone, not the system store besides. */
                curl.easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
                curl.easy_setopt(e, CURLOPT_CAPATH, (char *) NULL);
                curl.easy_setopt(e, CURLOPT_CAINFO, (char *) NULL);
        }

        CURLcode code = curl.easy_perform(e);
        long status = 0;
        curl.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (b.too_big || code == CURLE_FILESIZE_EXCEEDED)
                r = fail(ret_why, "%s", "the answer is larger than 4 MiB");
        else if (code == CURLE_HTTP_RETURNED_ERROR)
                r = fail(ret_why, "the server answered HTTP %ld", status);
        else if (code != CURLE_OK)
                r = fail(ret_why, "%s", errbuf[0] ? errbuf : curl.easy_strerror(code));
        curl.easy_cleanup(e);
        curl.slist_free_all(resolve);
        if (r < 0) {
                free(b.data);
                return r;
        }
        *ret_len = b.len;
        *ret_body = b.data ? b.data : strdup("");
        return *ret_body ? 0 : -ENOMEM;
}

int meta_read_ca_file(const char *path, char **ret, size_t *ret_len, char **ret_why) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
                if (asprintf(ret_why, "the CA file %s cannot be used: %s", path,
                             fd < 0 ? strerror(errno) : "not a regular file of at most 1 MiB") < 0)
                        *ret_why = NULL;
                return -EINVAL;
        }
        char *buf = malloc((size_t) st.st_size + 1);
        size_t got = 0;
        while (buf && got < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        if (!buf || got != (size_t) st.st_size) {
                free(buf);
                if (asprintf(ret_why, "the CA file %s could not be read", path) < 0)
                        *ret_why = NULL;
                return -EIO;
        }
        buf[got] = '\0';
        *ret = buf;
        *ret_len = got;
        return 0;
}

