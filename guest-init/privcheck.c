#include "privcheck.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

int privcheck_firewall_capable(void) {
        struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[2] = {};
        if (syscall(SYS_capget, &header, data) < 0)
                return log_error_errno(-errno, "Failed to read our capabilities: %m");
        if (data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN))
                return 0;
        log_error("CAP_NET_ADMIN missing: run the container with --cap-add NET_ADMIN --cap-add SETPCAP");
        return -EPERM;
}
