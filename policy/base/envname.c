/* SPDX-License-Identifier: MIT */
#include "envname.h"

bool base_env_name_valid(const char *name) {
        if (!name[0] || (name[0] >= '0' && name[0] <= '9'))
                return false;
        for (const char *c = name; *c; c++)
                if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
                        return false;
        return true;
}
