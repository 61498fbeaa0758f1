/* SPDX-License-Identifier: MIT */
/* The loopback sockets PID 1 opens for its children (the resolver's port)
 * before they drop their privileges: bound on
 * 127.0.0.1 or ::1 only, so nothing outside the sandbox's namespace reaches
 * them. */
#pragma once

#include <stdint.h>

/* A socket of family (AF_INET, AF_INET6: IPv6 only) and type (SOCK_DGRAM,
 * SOCK_STREAM: listening with backlog) bound to the loopback address and
 * port, non-blocking, close-on-exec, in *ret. A stream socket gets
 * SO_REUSEADDR: an init started again in the same namespace (split mode's
 * firewall container, restarted by the engine) must bind again while its
 * predecessor's connections linger in TIME_WAIT; that and no more (the
 * kernel still refuses a second socket on a port somebody listens on). No
 * SO_REUSEPORT: with it, a process of the same uid could join the port and
 * take part of its traffic. -errno of the call that failed. */
int loopback_listen(int family, int type, uint16_t port, int backlog, int *ret);
