/* SPDX-License-Identifier: MIT */
/* "Is the sandbox ready?", for the engine's health check (compose's
 * `depends_on: service_healthy`, `docker compose up --wait`).
 *
 * PID 1 listens on an abstract unix socket of the container's network
 * namespace once its rules are in and have passed their self-checks. The
 * check connects and asks the kernel who listens (SO_PEERCRED): only PID 1
 * counts, so a process of the sandbox user that took the name first cannot
 * make the sandbox look ready. Nothing is read from or written to the
 * socket; PID 1 accepts and closes. */
#pragma once

#include <stdbool.h>

#include "loop.h"

/* Takes the name at start, before anything of the user's can run, so that
 * nobody else can hold it; connections are refused until announced. The
 * agent role of split mode has a name of its own (the firewall's container
 * holds the other in the same network namespace). Logs and returns -errno
 * when the name is taken. */
int readiness_reserve(bool agent);

/* Starts answering on the reserved socket. */
int readiness_announce(struct loop *l);

/* 1 when PID 1 of this pid namespace answers on either name, 0 when
 * nothing or something else does (why in *ret_why, static), -errno on
 * other errors. */
int readiness_check(const char **ret_why);

/* For the agent role: 1 when the firewall's name is answered by a root
 * process (the firewall's init, in the other container: its pid reads as
 * 0 here), 0 when not (why in *ret_why), -errno. A gate only: the agent's
 * own probes are the proof. */
int readiness_firewall_check(const char **ret_why);
