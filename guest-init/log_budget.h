/* SPDX-License-Identifier: MIT */
/* A budget for one kind of log line that the sandbox's user can cause at
 * will (an answer the rebinding guard refuses, a full table): a burst of
 * lines, then one per interval, and the line that goes out after a quiet
 * spell says how many were left out. The engine's log is the record the
 * user cannot change from inside; a loop in the sandbox must not bury it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define LOG_BUDGET_BURST 10u
#define LOG_BUDGET_INTERVAL_USEC (6u * 1000000u)

struct log_budget {
        uint64_t refill_usec;           /* when the next line's worth comes; 0: full */
        unsigned tokens;
        unsigned long skipped;          /* lines left out since the last one that went out */
};

/* Whether a line may go out at now_usec. When it may, *ret_skipped is the
 * number left out before it (and the count starts again). */
bool log_budget_take(struct log_budget *b, uint64_t now_usec, unsigned long *ret_skipped);
