/* SPDX-License-Identifier: MIT */
/* PID 1 proper: wait for the sandbox to be ready, start CMD as the
 * unprivileged user, forward signals to it, reap every process that ends
 * up ours, and shut down in order. Before CMD starts we may die; after it,
 * PID 1 only logs, because if PID 1 dies the container dies. */
#pragma once

int supervise_main(int argc, char **argv);
