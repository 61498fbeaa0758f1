/* SPDX-License-Identifier: MIT */
/* What every helper child of PID 1 does first (the meta fetch, the DNS
 * resolver): leave PID 1's session and signal setup, keep only the
 * descriptors it was given, and wipe the environment it inherited. In the
 * child only, before it drops privileges. */
#pragma once

#include <stddef.h>

/* setsid, no job-control stops, nothing blocked, the name `ps` shows. */
void childproc_detach(const char *name);

/* Moves fds[0..n) to 3, 4, ... (updating fds) and closes every other
 * descriptor above 2: nothing of PID 1's (netlink, resolver sockets, epoll,
 * signalfd, the other children's pipes) stays open. -errno. */
int childproc_keep_fds(int *fds, size_t n);

/* PID 1's environment holds what the launcher passed for CMD (API keys with
 * --pass-env): none of it belongs in a process that parses the network's
 * bytes. The strings are wiped, including what the loader dropped from
 * environ but left in memory, then the list emptied. */
void childproc_scrub_environment(void);
