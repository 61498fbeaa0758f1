/* SPDX-License-Identifier: MIT */
/* base_write_all and base_write_file_atomic against the kernel: short
 * writes made by a signal landing in a blocking write to a pipe, failures
 * whose errno must be the failing call's, and no temporary file left. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "tap.h"

#define BIG (4u << 20)

static unsigned char pattern(size_t i) {
        return (unsigned char) (i * 7 + i / 251);
}

static void on_alarm(int sig) {
        (void) sig;
}

/* Interrupt blocking calls every 200 µs; no SA_RESTART, so a write that
 * had copied some bytes returns that count, and one that had not, EINTR.
 * The handler is in place before the timer starts and until it has
 * stopped: a SIGALRM meeting the default action ends the test. */
static void interrupt_often(bool on) {
        struct sigaction sa = { .sa_handler = on ? on_alarm : SIG_DFL };
        struct itimerval it = { .it_interval = { 0, on ? 200 : 0 }, .it_value = { 0, on ? 200 : 0 } };
        if (on)
                sigaction(SIGALRM, &sa, NULL);
        setitimer(ITIMER_REAL, &it, NULL);
        if (!on)
                sigaction(SIGALRM, &sa, NULL);
}

/* A child that reads the pipe slowly, in small pieces, and exits 0 when it
 * got exactly BIG bytes of the pattern. */
static pid_t slow_reader(const int p[2]) {
        pid_t pid = fork();
        if (pid != 0) {
                close(p[0]);
                return pid;
        }
        close(p[1]);
        int rfd = p[0];
        unsigned char buf[1000];
        size_t got = 0;
        for (;;) {
                ssize_t n = read(rfd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n; i++)
                        if (buf[i] != pattern(got + (size_t) i))
                                _exit(2);
                got += (size_t) n;
                if (got % 65536 < sizeof(buf))
                        usleep(1000);
        }
        _exit(got == BIG ? 0 : 3);
}

static int reader_status(pid_t pid) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_write_all(const unsigned char *data) {
        /* First show that the set-up does make short writes ... */
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                abort();
        (void) fcntl(p[1], F_SETPIPE_SZ, 4096);
        pid_t pid = slow_reader(p);
        interrupt_often(true);
        ssize_t n;
        do
                n = write(p[1], data, BIG);
        while (n < 0 && errno == EINTR);
        interrupt_often(false);
        TAP_CHECK(n > 0 && (size_t) n < BIG, "the set-up: a plain write() returns short (%zd of %u)", n, BIG);
        close(p[1]);
        (void) reader_status(pid);

        /* ... then that base_write_all delivers every byte, in order. */
        if (pipe2(p, O_CLOEXEC) < 0)
                abort();
        (void) fcntl(p[1], F_SETPIPE_SZ, 4096);
        pid = slow_reader(p);
        interrupt_often(true);
        int r = base_write_all(p[1], data, BIG);
        interrupt_often(false);
        close(p[1]);
        TAP_CHECK(r == 0, "base_write_all through short writes and EINTR returns 0 (%d)", r);
        TAP_CHECK(reader_status(pid) == 0, "the reader got all %u bytes, in order", BIG);

        /* Failures are the write's own errno. */
        if (pipe2(p, O_CLOEXEC) < 0)
                abort();
        close(p[0]);
        signal(SIGPIPE, SIG_IGN);
        r = base_write_all(p[1], "x", 1);
        TAP_CHECK(r == -EPIPE, "no reader: -EPIPE (%d)", r);
        close(p[1]);
        int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
        errno = ENOENT;
        r = base_write_all(ro, "x", 1);
        TAP_CHECK(r == -EBADF, "a read-only fd: -EBADF (%d)", r);
        close(ro);
        TAP_CHECK(base_write_all(-1, "", 0) == 0, "nothing to write: 0, no call");
}

/* How many names dir holds besides . and .. */
static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        size_t n = 0;
        for (struct dirent *e; d && (e = readdir(d));)
                n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        if (d)
                closedir(d);
        return n;
}

static char *slurp(const char *path, size_t *len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        char *buf = malloc(BIG + 1);
        size_t got = 0;
        for (ssize_t n; buf && (n = read(fd, buf + got, BIG + 1 - got)) > 0;)
                got += (size_t) n;
        close(fd);
        *len = got;
        return buf;
}

static void test_write_file_atomic(const unsigned char *data) {
        char dir[] = "/tmp/test-base-fileio-XXXXXX";
        if (!mkdtemp(dir))
                abort();
        char path[256], sub[256];
        snprintf(path, sizeof(path), "%s/file", dir);
        snprintf(sub, sizeof(sub), "%s/sub", dir);
        struct stat st, st2;
        size_t len;

        int r = base_write_file_atomic(path, "hello\n", 6, 0640);
        char *got = slurp(path, &len);
        TAP_CHECK(r == 0 && got && len == 6 && memcmp(got, "hello\n", 6) == 0, "a new file has the bytes");
        free(got);
        TAP_CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640, "and the mode asked for, not the umask's");
        TAP_CHECK(count_entries(dir) == 1, "and no temporary file is left");

        r = base_write_file_atomic(path, data, BIG, 0644);
        got = slurp(path, &len);
        TAP_CHECK(r == 0 && got && len == BIG && memcmp(got, data, BIG) == 0, "an existing file is replaced whole");
        free(got);
        TAP_CHECK(stat(path, &st2) == 0 && st2.st_ino != st.st_ino && (st2.st_mode & 07777) == 0644,
                  "by another inode (renamed over, not rewritten), mode 0644");
        TAP_CHECK(count_entries(dir) == 1, "no temporary file is left");

        /* rename() fails: a directory (not empty) at the path. */
        char inner[300];
        snprintf(inner, sizeof(inner), "%s/x", sub);
        if (mkdir(sub, 0755) < 0 || mkdir(inner, 0755) < 0)
                abort();
        errno = ENOSPC;
        r = base_write_file_atomic(sub, "x", 1, 0644);
        TAP_CHECK(r == -EISDIR, "rename over a directory: -EISDIR, not a stale errno (%d)", r);
        TAP_CHECK(count_entries(dir) == 2 && count_entries(sub) == 1, "the temporary file is removed");

        /* A short write, then a failing one: the file size limit cuts the
         * first write at 4096 bytes and fails the next with EFBIG. The old
         * file stays as it was. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit old, small = { .rlim_cur = 4096 };
        getrlimit(RLIMIT_FSIZE, &old);
        small.rlim_max = old.rlim_max;
        setrlimit(RLIMIT_FSIZE, &small);
        errno = ENOENT;
        static char too_big[8192];
        r = base_write_file_atomic(path, too_big, sizeof(too_big), 0644);
        setrlimit(RLIMIT_FSIZE, &old);
        TAP_CHECK(r == -EFBIG, "a write cut short then refused: -EFBIG, the failing call's (%d)", r);
        got = slurp(path, &len);
        TAP_CHECK(got && len == BIG && memcmp(got, data, BIG) == 0, "the file is as it was");
        free(got);
        TAP_CHECK(count_entries(dir) == 2, "and the temporary file is removed");

        snprintf(path, sizeof(path), "%s/missing/file", dir);
        r = base_write_file_atomic(path, "x", 1, 0644);
        TAP_CHECK(r == -ENOENT, "no such directory: -ENOENT (%d)", r);

        snprintf(path, sizeof(path), "%s/file", dir);
        unlink(path);
        rmdir(inner);
        rmdir(sub);
        rmdir(dir);
}

int main(void) {
        unsigned char *data = malloc(BIG);
        if (!data)
                abort();
        for (size_t i = 0; i < BIG; i++)
                data[i] = pattern(i);
        test_write_all(data);
        test_write_file_atomic(data);
        free(data);
        return tap_done();
}
