#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The baseline for the boot-to-ready benchmark: what the shell firewalls of
# this field do at container start. Each name is resolved in turn with dig,
# each address goes into an ipset with its own `ipset add`, then iptables
# rules let DNS, loopback, established traffic and the set through and
# reject the rest.
#   baseline-firewall.sh RESOLVER NAME...
set -euo pipefail
resolver=$1
shift

ipset create allowed-domains hash:net
for name in "$@"; do
  for ip in $(dig +short +time=2 +tries=1 "@$resolver" A "$name"); do
    ipset add allowed-domains "$ip" -exist
  done
done

iptables -F OUTPUT
iptables -A OUTPUT -o lo -j ACCEPT
iptables -A OUTPUT -p udp --dport 53 -d "$resolver" -j ACCEPT
iptables -A OUTPUT -p tcp --dport 53 -d "$resolver" -j ACCEPT
iptables -A OUTPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
iptables -A OUTPUT -m set --match-set allowed-domains dst -j ACCEPT
iptables -A OUTPUT -j REJECT --reject-with icmp-admin-prohibited
iptables -P OUTPUT DROP
