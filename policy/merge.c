/* SPDX-License-Identifier: MIT */
/* Layering: an override on a base. Lists are unions; ports and scalars the
 * override sets replace the base's (docs/policy.md, "Layering"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

/* Positions of src refer to src->sources; map them into dst's. */
static int remap(struct policy *dst, const struct policy *src, const struct policy_pos *in, struct policy_pos *out) {
        *out = *in;
        if (in->source == POLICY_SOURCE_CATALOG || in->source >= src->n_sources)
                return 0;
        return policy_add_source(dst, src->sources[in->source], &out->source);
}

static int append_lists(struct policy *dst, const struct policy *src, bool with_ports) {
        struct policy_pos pos;
        int r;
        for (size_t i = 0; i < src->n_services; i++)
                if ((r = remap(dst, src, &src->services[i].pos, &pos)) < 0 ||
                    !policy_add_service(dst, src->services[i].name, pos))
                        return r < 0 ? r : -ENOMEM;
        for (size_t i = 0; i < src->n_domains; i++) {
                const struct policy_domain *d = &src->domains[i];
                if ((r = remap(dst, src, &d->pos, &pos)) < 0 || !policy_add_domain(dst, d->name, d->wildcard, pos, d->service))
                        return r < 0 ? r : -ENOMEM;
        }
        for (size_t i = 0; i < src->n_cidrs; i++) {
                const struct policy_cidr *c = &src->cidrs[i];
                if ((r = remap(dst, src, &c->pos, &pos)) < 0 || !policy_add_cidr(dst, &c->prefix, pos, c->service))
                        return r < 0 ? r : -ENOMEM;
        }
        for (size_t i = 0; with_ports && i < src->n_ports; i++) {
                const struct policy_port *x = &src->ports[i];
                if ((r = remap(dst, src, &x->pos, &pos)) < 0 || !policy_add_port(dst, x->port, pos, x->service))
                        return r < 0 ? r : -ENOMEM;
        }
        return 0;
}

int policy_merge(const struct policy *base, const struct policy *override, struct policy **ret,
                 struct policy_diags *diags) {
        _cleanup_policy_ struct policy *p = NULL;
        int r = policy_new(&p);
        if (r < 0)
                return r;
        /* The override's ports replace the base's only when it gives ports:. */
        if ((r = append_lists(p, base, !override->ports_set)) < 0 ||
            (r = append_lists(p, override, true)) < 0 ||
            (r = policy_copy_scalars(p, base)) < 0 ||
            (r = policy_copy_scalars(p, override)) < 0)
                return r;
        p->ports_set = base->ports_set || override->ports_set;
        p->needs_github_meta = base->needs_github_meta || override->needs_github_meta;
        if (base->any_name || override->any_name) {
                p->any_name = true;
                p->any_name_match = base->any_name ? base->any_name_match : override->any_name_match;
        }
        /* Repeating an entry in another layer is normal (each file stays
         * valid alone), so across layers duplicates fold silently. */
        r = policy_fold_duplicates(p, diags, false);
        if (r < 0)
                return r;
        *ret = p;
        p = NULL;
        return 0;
}
