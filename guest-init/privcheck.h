#pragma once
/* Returns 0 if this process can program nftables (CAP_NET_ADMIN effective);
 * else logs why not and how to fix it, and returns -EPERM. */
int privcheck_firewall_capable(void);
