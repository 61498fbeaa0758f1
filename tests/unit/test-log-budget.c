/* SPDX-License-Identifier: MIT */
/* The budget of log lines the sandbox's user can cause: a burst, then one
 * per interval, and a count of what was left out. */
#include <stdint.h>

#include "log_budget.h"
#include "tap.h"

#define S 1000000ull

int main(void) {
        struct log_budget b = {0};
        unsigned long skipped = 99;
        uint64_t t = 1000 * S;
        unsigned went = 0;
        for (int i = 0; i < 1000; i++)
                went += log_budget_take(&b, t, &skipped);
        TAP_CHECK(went == LOG_BUDGET_BURST, "a burst of %u at once (%u)", LOG_BUDGET_BURST, went);
        TAP_CHECK(!log_budget_take(&b, t + LOG_BUDGET_INTERVAL_USEC - 1, &skipped), "nothing before the interval");
        TAP_CHECK(log_budget_take(&b, t + LOG_BUDGET_INTERVAL_USEC, &skipped) && skipped == 991,
                  "one after it, saying how many were left out (%lu)", skipped);
        TAP_CHECK(!log_budget_take(&b, t + LOG_BUDGET_INTERVAL_USEC + 1, &skipped), "then nothing again");

        went = 0;
        for (uint64_t s = 0; s < 600; s++)
                for (int i = 0; i < 100; i++)
                        went += log_budget_take(&b, t + 10 * S + s * S, &skipped);
        TAP_CHECK(went <= 100 + 2, "a steady flood for 10 min: one line per interval (%u)", went);

        /* A quiet hour fills the burst again, and no more than that. */
        uint64_t later = t + 3600 * S;
        went = 0;
        for (int i = 0; i < 1000; i++)
                went += log_budget_take(&b, later, &skipped);
        TAP_CHECK(went == LOG_BUDGET_BURST, "after a quiet spell, the burst again (%u)", went);
        return tap_done();
}
