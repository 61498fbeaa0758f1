/* SPDX-License-Identifier: MIT */
/* How long the init waits, by default, for each thing it waits on. One
 * place, so that PID 1's start, `apply`, and each component's default for
 * a setting left at 0 cannot drift apart. The launcher waits on none of
 * these (its own wait for readiness is host/sandbox.h's). */
#pragma once

/* A DNS query to the upstream servers, per try, and the tries: PID 1's
 * resolver and the sandbox's DNS resolver ask the same servers. */
#define TIMEOUT_DNS_TRY_MS 2000u
#define DNS_TRIES 2u

/* GitHub's meta document over HTTPS, the whole transfer; at startup and at
 * each refresh, so a sandbox is never held up longer than this by it. */
#define TIMEOUT_META_FETCH_MS 5000u
/* The same fetch at image build time (fetch-meta), where nothing waits on
 * it but the build. */
#define TIMEOUT_META_FETCH_BUILD_MS 10000u

/* The sandbox's DNS resolver: how long it holds an answer for PID 1 to
 * allow its addresses, and how long an idle TCP client may stay. */
#define TIMEOUT_DNS_ALLOW_MS 2000u
#define TIMEOUT_DNS_TCP_IDLE_MS 10000u

/* The self-checks: an allowed host must answer within the first; a blocked
 * one must be refused within the second (a refusal is local and prompt). */
#define TIMEOUT_SELFCHECK_ALLOWED_MS 3000u
#define TIMEOUT_SELFCHECK_BLOCKED_MS 1000u

/* The name gate: how long a check may wait for the rest of a ClientHello
 * or request head (from its first part, or the last check that passed),
 * and how long a connection whose first check has not passed may stay
 * silent before it is forgotten. */
#define TIMEOUT_GATE_CHECK_MS 10000u
#define TIMEOUT_GATE_IDLE_MS (30u * 60u * 1000u)
