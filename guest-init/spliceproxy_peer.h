/* SPDX-License-Identifier: MIT */
/* Facts about a redirected connection that the proxy learns from the
 * kernel, not from the client: where it was going, and whose it is. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* The destination the client connected to before nftables redirected it
 * (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST). -ENOENT when the connection
 * was not redirected (a client that connected to the proxy's port
 * itself); -EPERM for a destination that is a loopback or unspecified
 * address (the proxy, or another listener of the sandbox, by a detour).
 * family: the listening socket's, which the accepted one shares. */
int spliceproxy_original_dst(int fd, int family, struct sockaddr_storage *ret, socklen_t *ret_len);

/* The uid owning the client's end of the accepted connection fd, asked of
 * the kernel's socket diagnostics (NETLINK_SOCK_DIAG) by the client's
 * address and the original destination: the socket's own four-tuple, which
 * the redirect did not change. -errno when it is gone or unknown. */
int spliceproxy_client_uid(int fd, const struct sockaddr_storage *dst, uint32_t *ret);

/* The port of a sockaddr_in/_in6, host order. */
uint16_t spliceproxy_port_of(const struct sockaddr_storage *ss);
