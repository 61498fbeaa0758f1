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

/* The name gate's flows (namegate.h). Both sides go through the gate until
 * the server's first record; a plain HTTP flow's client side for as long
 * as it lasts (every request is checked); a flow the gate passed for good
 * no longer does. Refused is outside the family: nothing of such a flow
 * counts as established. */
#define NETMARK_CT_GATE_BOTH UINT32_C(0x41534251)       /* "Q": both sides queued */
#define NETMARK_CT_GATE_CLIENT UINT32_C(0x41534248)     /* "H": the client's side queued */
#define NETMARK_CT_GATE_PASSED UINT32_C(0x4153424e)     /* "N": the name passed, nothing queued */
#define NETMARK_CT_GATE_REFUSED UINT32_C(0x52454655)    /* "REFU" */

/* Packet marks of the gate's verdicts: the packet goes through the chain
 * again (NF_REPEAT) and a rule at its top turns the mark into the flow's
 * ct mark (the kernel sets no ct mark from a verdict without
 * CONFIG_NETFILTER_NETLINK_GLUE_CT, which kernels often lack). Only
 * CAP_NET_ADMIN sets a packet's mark, so no user of the sandbox can. */
#define NETMARK_GATE_PASS UINT32_C(0x41534750)          /* "ASGP": the flow passed */
#define NETMARK_GATE_CLIENT UINT32_C(0x41534743)        /* "ASGC": its server's side goes free */
#define NETMARK_GATE_REFUSE UINT32_C(0x41534752)        /* "ASGR": refused */

/* Sets mark on fd: 0, or -errno (EPERM without CAP_NET_ADMIN). */
int netmark_socket(int fd, uint32_t mark);
