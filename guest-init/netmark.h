/* SPDX-License-Identifier: MIT */
/* The marks that tell the init's own traffic from the sandbox user's.
 *
 * Under Docker PID 1 runs as the sandbox user's uid (its privilege is a
 * file capability), so `meta skuid` cannot tell them apart. A socket mark
 * can: setting SO_MARK takes CAP_NET_ADMIN, which only PID 1 (and, before
 * it drops privileges, the meta fetch child it forks) holds. The firewall
 * accepts the init's marked DNS and meta traffic even before the policy is
 * known, and refuses anything unmarked that poses as a DNS server. */
#pragma once

#include <stdint.h>

/* SO_MARK of the init's own sockets: "ASBI". */
#define NETMARK_INIT_SOCKET UINT32_C(0x41534249)

/* SO_MARK of the self-check's probes: they must meet the rules the
 * sandbox user meets, so the exceptions for unmarked traffic of uid 0
 * (Docker's embedded DNS forwarding upstream) do not apply to them when
 * the init runs as root. */
#define NETMARK_PROBE_SOCKET UINT32_C(0x41534250)

/* ct marks of the flows an accept rule let out, "AS" "B" and a letter
 * saying which rule. Only flows carrying one count as established, so
 * nothing opened before the rules were in (or past them in any other way)
 * survives their arrival. */
#define NETMARK_CT_MASK UINT32_C(0xffffff00)
#define NETMARK_CT_FAMILY UINT32_C(0x41534200)
#define NETMARK_CT_ALLOWED UINT32_C(0x41534241)         /* the policy's rules */
#define NETMARK_CT_INIT UINT32_C(0x41534249)            /* the init's own DNS and meta fetch */
#define NETMARK_CT_RESOLVER UINT32_C(0x41534252)        /* the resolver's upstream queries */
#define NETMARK_CT_ROOT_DNS UINT32_C(0x41534244)        /* uid 0's DNS: Docker's embedded DNS forwarding */

/* Sets mark on fd: 0, or -errno (EPERM without CAP_NET_ADMIN). */
int netmark_socket(int fd, uint32_t mark);
