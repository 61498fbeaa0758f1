/* SPDX-License-Identifier: MIT */
/* c-ares driven from our loop, with no thread: its socket-state callback
 * puts its sockets on the loop, and one timer follows ares_timeout(). PID 1's
 * resolver (resolve.c) and the sandbox's DNS resolver (dnsproxy.c) each own
 * one. */
#pragma once

#include <ares.h>

#include "loop.h"

struct aresloop {
        struct loop *loop;
        ares_channel channel;
};

/* Makes a->channel on l: servers from resolv_conf, timeout_ms per try,
 * tries tries. The channel's callback data is a, so a must stay where it
 * is until aresloop_done(). Returns ARES_SUCCESS or c-ares' status, for the
 * caller to report. */
int aresloop_init(struct aresloop *a, struct loop *l, const char *resolv_conf, unsigned timeout_ms,
                  unsigned tries);

/* After starting a query: sets the timer to c-ares' earliest deadline. */
void aresloop_arm_timer(struct aresloop *a);

/* Cancels the timer and destroys the channel, which runs every outstanding
 * callback with ARES_EDESTRUCTION. Safe on a channel never made. */
void aresloop_done(struct aresloop *a);
