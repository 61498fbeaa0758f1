/* SPDX-License-Identifier: MIT */
#include "log_budget.h"

bool log_budget_take(struct log_budget *b, uint64_t now_usec, unsigned long *ret_skipped) {
        if (b->refill_usec == 0) {              /* first use: a full burst */
                b->tokens = LOG_BUDGET_BURST;
                b->refill_usec = now_usec + LOG_BUDGET_INTERVAL_USEC;
        }
        while (b->tokens < LOG_BUDGET_BURST && now_usec >= b->refill_usec) {
                b->tokens++;
                b->refill_usec += LOG_BUDGET_INTERVAL_USEC;
        }
        if (b->tokens == LOG_BUDGET_BURST && now_usec >= b->refill_usec)
                b->refill_usec = now_usec + LOG_BUDGET_INTERVAL_USEC;
        if (b->tokens == 0) {
                b->skipped++;
                return false;
        }
        b->tokens--;
        *ret_skipped = b->skipped;
        b->skipped = 0;
        return true;
}
