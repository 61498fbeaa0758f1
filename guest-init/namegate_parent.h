/* SPDX-License-Identifier: MIT */
/* PID 1's side of the name gate (namegate.h): the kernel's queue, bound
 * for the life of the sandbox; the child, forked under its own user
 * without any capability and restarted with backoff when it dies; every
 * queued packet handed to it and its verdict given to the kernel, checked
 * first; its refusals put into the denial stream by name. While there is
 * no child, queued packets are refused: checked traffic fails closed,
 * never open. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

/* The queue nftables sends name-checked flows to. */
#define NAMEGATE_QUEUE 1054

struct policy;
struct denials;

struct namegate_parent_config {
        uint16_t queue;
        uid_t uid;                      /* the gate's own user */
        gid_t gid;
        struct denials *denials;        /* refusals go there; NULL: only counted */
};

struct namegate_parent;

/* Binds the queue; the child starts with namegate_parent_use(). -errno,
 * logged. */
int namegate_parent_new(struct loop *l, const struct namegate_parent_config *cfg, struct namegate_parent **ret);

/* (Re)starts the child for this policy (expanded; it must outlive its use
 * here, until the next call or the free). The flows the previous child
 * was still checking are refused: the new one cannot know where their
 * streams stand. */
int namegate_parent_use(struct namegate_parent *s, const struct policy *policy);

/* Whether pid is the child: a process of ours, not of the user's. */
bool namegate_parent_owns(pid_t pid);

void namegate_parent_free(struct namegate_parent *s);
