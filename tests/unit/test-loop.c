/* SPDX-License-Identifier: MIT */
/* PID 1's event loop (guest-init/loop.c): deadlines fire when due and not
 * before, one timer per owner, cancelled timers stay silent, a callback may
 * re-arm its own timer, errors and loop_quit() end loop_run(). Real epoll
 * and CLOCK_MONOTONIC; the deadlines are tens of milliseconds. */
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "tap.h"

#define MS 1000u

struct counter {
        int fired;
        uint64_t at_usec;
        int rearm;              /* how many more times to re-arm itself */
        int quit_after;         /* loop_quit(l, 7) on this firing, 0: never */
        int error;              /* returned from the callback */
};

static int on_timer(struct loop *l, void *userdata) {
        struct counter *c = userdata;
        c->fired++;
        c->at_usec = loop_now_usec();
        if (c->rearm > 0) {
                c->rearm--;
                int r = loop_set_timer(l, c, loop_now_usec() + 5 * MS, on_timer, c);
                if (r < 0)
                        return r;
        }
        if (c->quit_after && c->fired == c->quit_after)
                loop_quit(l, 7);
        return c->error;
}

static void fires_when_due_and_not_before(void) {
        struct loop *l = NULL;
        struct counter late = {0}, early = {0};
        TAP_CHECK(loop_new(&l) == 0, "loop_new");
        uint64_t start = loop_now_usec();
        TAP_CHECK(loop_set_timer(l, &late, start + 60 * MS, on_timer, &late) == 0, "arm the later timer");
        TAP_CHECK(loop_set_timer(l, &early, start + 20 * MS, on_timer, &early) == 0, "arm the earlier timer");
        TAP_CHECK(loop_run_once(l) == 0, "first wait");
        TAP_CHECK(early.fired == 1 && late.fired == 0, "the earlier deadline fires alone (early %d, late %d)",
                  early.fired, late.fired);
        TAP_CHECK(early.at_usec >= start + 20 * MS, "not before its deadline (%llu us early)",
                  (unsigned long long) (early.at_usec < start + 20 * MS ? start + 20 * MS - early.at_usec : 0));
        while (late.fired == 0)
                TAP_CHECK(loop_run_once(l) == 0, "wait for the later timer");
        TAP_CHECK(late.at_usec >= start + 60 * MS, "the later one not before its deadline either");
        TAP_CHECK(early.fired == 1, "a timer fires once: it is disarmed before its callback");
        loop_free(l);
}

static void setting_again_moves_the_deadline(void) {
        struct loop *l = NULL;
        struct counter c = {0};
        TAP_CHECK(loop_new(&l) == 0, "loop_new");
        uint64_t start = loop_now_usec();
        loop_set_timer(l, &c, start + 10 * MS, on_timer, &c);
        loop_set_timer(l, &c, start + 50 * MS, on_timer, &c);
        while (c.fired == 0)
                TAP_CHECK(loop_run_once(l) == 0, "wait");
        TAP_CHECK(c.at_usec >= start + 50 * MS, "the owner's second deadline replaced the first");
        TAP_CHECK(c.fired == 1, "one timer per owner");
        loop_free(l);
}

static void cancelled_timers_stay_silent(void) {
        struct loop *l = NULL;
        struct counter cancelled = {0}, sentinel = {0};
        TAP_CHECK(loop_new(&l) == 0, "loop_new");
        uint64_t start = loop_now_usec();
        loop_set_timer(l, &cancelled, start + 5 * MS, on_timer, &cancelled);
        loop_set_timer(l, &sentinel, start + 30 * MS, on_timer, &sentinel);
        loop_cancel_timer(l, &cancelled);
        while (sentinel.fired == 0)
                TAP_CHECK(loop_run_once(l) == 0, "wait");
        TAP_CHECK(cancelled.fired == 0, "a cancelled timer never fires");
        loop_cancel_timer(l, &cancelled);       /* twice, or never armed: no effect */
        loop_free(l);
}

static void callbacks_rearm_and_quit(void) {
        struct loop *l = NULL;
        struct counter c = {.rearm = 3, .quit_after = 4};
        TAP_CHECK(loop_new(&l) == 0, "loop_new");
        loop_set_timer(l, &c, loop_now_usec(), on_timer, &c);
        TAP_CHECK(loop_run(l) == 7, "loop_run returns the code given to loop_quit");
        TAP_CHECK(c.fired == 4, "a callback re-armed its own timer 3 times (fired %d)", c.fired);
        TAP_CHECK(loop_quitting(l), "loop_quitting");
        loop_free(l);

        struct counter failing = {.error = -EIO};
        TAP_CHECK(loop_new(&l) == 0, "loop_new");
        loop_set_timer(l, &failing, loop_now_usec() + 1 * MS, on_timer, &failing);
        TAP_CHECK(loop_run(l) == -EIO, "a callback's error ends loop_run and is returned");
        loop_free(l);
}

static void the_timer_table_is_bounded(void) {
        struct loop *l = NULL;
        static char owners[33];
        struct counter c = {0};
        TAP_CHECK(loop_new(&l) == 0, "loop_new");
        int r = 0;
        size_t armed = 0;
        for (size_t i = 0; i < sizeof(owners) && r == 0; i++)
                if ((r = loop_set_timer(l, &owners[i], UINT64_MAX - 1, on_timer, &c)) == 0)
                        armed++;
        TAP_CHECK(r == -ENOSPC && armed == 32, "32 timers, then -ENOSPC (armed %zu, r %d)", armed, r);
        TAP_CHECK(loop_set_timer(l, &owners[0], UINT64_MAX - 1, on_timer, &c) == 0,
                  "a full table still moves an armed owner's deadline");
        loop_cancel_timer(l, &owners[5]);
        TAP_CHECK(loop_set_timer(l, &owners[32], UINT64_MAX - 1, on_timer, &c) == 0, "a cancelled slot is reused");
        loop_free(l);
}

struct io_state {
        int fd_seen;
        uint32_t events;
};

static int on_io(struct loop *l, int fd, uint32_t events, void *userdata) {
        struct io_state *s = userdata;
        char buf[8];
        s->fd_seen = fd;
        s->events = events;
        if (read(fd, buf, sizeof(buf)) < 0)
                return -errno;
        return 0;
}

static void io_and_timers_together(void) {
        struct loop *l = NULL;
        struct counter c = {0};
        struct io_state s = {.fd_seen = -1};
        int p[2];
        TAP_CHECK(loop_new(&l) == 0, "loop_new");
        TAP_CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe");
        TAP_CHECK(loop_add_io(l, p[0], EPOLLIN, on_io, &s) == 0, "loop_add_io");
        TAP_CHECK(loop_add_io(l, p[0], EPOLLIN, on_io, &s) == -EEXIST, "an fd registers once");
        uint64_t start = loop_now_usec();
        loop_set_timer(l, &c, start + 200 * MS, on_timer, &c);
        TAP_CHECK(write(p[1], "x", 1) == 1, "write");
        TAP_CHECK(loop_run_once(l) == 0, "wait");
        TAP_CHECK(s.fd_seen == p[0] && c.fired == 0, "a ready fd wakes the loop before the deadline");
        TAP_CHECK(loop_remove_io(l, p[0]) == 0, "loop_remove_io");
        TAP_CHECK(loop_remove_io(l, p[0]) == -ENOENT, "removed once");
        close(p[0]);
        close(p[1]);
        loop_free(l);
}

int main(void) {
        fires_when_due_and_not_before();
        setting_again_moves_the_deadline();
        cancelled_timers_stay_silent();
        callbacks_rearm_and_quit();
        the_timer_table_is_bounded();
        io_and_timers_together();
        return tap_done();
}
