/* SPDX-License-Identifier: MIT */
/* The built-in services. Each list is what the vendor documents (or, where
 * the vendor only documents it in its client's source, what the client's
 * defaults contact); docs/policy.md cites the page behind every entry. */
#include <strings.h>

#include "policy.h"

#define LIST(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NO_ALIASES ((const char *const[]) { NULL })
#define PORTS(...) ((const uint16_t[]) { __VA_ARGS__, 0 })
#define NO_PORTS ((const uint16_t[]) { 0 })

static const struct policy_catalog_service github = {
        .name = "github",
        .aliases = NO_ALIASES,
        .domains = LIST("github.com", "api.github.com", "codeload.github.com", "uploads.github.com",
                        "objects.githubusercontent.com", "raw.githubusercontent.com",
                        "release-assets.githubusercontent.com"),
        /* git over SSH; GitHub asks for 22, 80 and 443 to its ranges. */
        .ports = PORTS(22),
        .github_meta = true,
        .source_url = "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/about-githubs-ip-addresses",
};

static const struct policy_catalog_service anthropic = {
        .name = "anthropic",
        .aliases = LIST("claude"),
        .domains = LIST("api.anthropic.com", "claude.ai", "platform.claude.com", "console.anthropic.com",
                        "statsig.anthropic.com", "sentry.io"),
        .ports = NO_PORTS,
        .source_url = "https://code.claude.com/docs/en/network-config",
};

static const struct policy_catalog_service openai = {
        .name = "openai",
        .aliases = LIST("codex"),
        .domains = LIST("api.openai.com", "auth.openai.com", "chatgpt.com"),
        .ports = NO_PORTS,
        .source_url = "https://developers.openai.com/codex/auth",
};

static const struct policy_catalog_service google = {
        .name = "google",
        .aliases = LIST("gemini"),
        .domains = LIST("generativelanguage.googleapis.com", "cloudcode-pa.googleapis.com",
                        "oauth2.googleapis.com", "www.googleapis.com", "accounts.google.com"),
        .ports = NO_PORTS,
        .source_url = "https://github.com/google-gemini/gemini-cli/blob/main/docs/get-started/authentication.md",
};

static const struct policy_catalog_service opencode = {
        .name = "opencode",
        .aliases = NO_ALIASES,
        .domains = LIST("opencode.ai", "models.dev"),
        .ports = NO_PORTS,
        .source_url = "https://opencode.ai/docs/zen/",
};

static const struct policy_catalog_service npm = {
        .name = "npm",
        .aliases = NO_ALIASES,
        .domains = LIST("registry.npmjs.org"),
        .ports = NO_PORTS,
        .source_url = "https://docs.npmjs.com/cli/v10/using-npm/config#registry",
};

static const struct policy_catalog_service pypi = {
        .name = "pypi",
        .aliases = NO_ALIASES,
        .domains = LIST("pypi.org", "files.pythonhosted.org"),
        .ports = NO_PORTS,
        .source_url = "https://docs.pypi.org/api/",
};

static const struct policy_catalog_service vscode = {
        .name = "vscode",
        .aliases = NO_ALIASES,
        /* The wildcards are the page's own: "*.gallery.vsassets.io" and
         * "*.gallerycdn.vsassets.io" (Visual Studio Marketplace: extensions
         * come from PUBLISHER.gallerycdn.vsassets.io), "*.vscode-cdn.net"
         * (Visual Studio Code CDN) and "*.vscode-unpkg.net" (web extensions),
         * in "Common hostnames" of source_url. main.vscode-cdn.net stays
         * listed on its own: start-up resolution allows exact names only. */
        .domains = LIST("update.code.visualstudio.com", "code.visualstudio.com", "go.microsoft.com",
                        "marketplace.visualstudio.com", "*.gallery.vsassets.io", "*.gallerycdn.vsassets.io",
                        "vscode.blob.core.windows.net", "az764295.vo.msecnd.net", "*.vscode-cdn.net",
                        "main.vscode-cdn.net", "*.vscode-unpkg.net", "vscode.download.prss.microsoft.com",
                        "default.exp-tas.com", "mobile.events.data.microsoft.com"),
        .ports = NO_PORTS,
        .source_url = "https://code.visualstudio.com/docs/setup/network",
};

static const struct policy_catalog_service copilot = {
        .name = "copilot",
        .aliases = NO_ALIASES,
        /* "*.githubcopilot.com" is the page's own; api.githubcopilot.com and
         * the plan hosts stay listed as well (start-up resolution allows
         * exact names only). GitHub itself comes from the github service. */
        .domains = LIST("*.githubcopilot.com", "api.githubcopilot.com", "api.individual.githubcopilot.com",
                        "api.business.githubcopilot.com", "api.enterprise.githubcopilot.com",
                        "copilot-proxy.githubusercontent.com", "origin-tracker.githubusercontent.com",
                        "copilot-telemetry.githubusercontent.com", "collector.github.com", "default.exp-tas.com"),
        .ports = NO_PORTS,
        .source_url = "https://docs.github.com/en/copilot/reference/copilot-allowlist-reference",
};

static const struct policy_catalog_service pi = {
        .name = "pi",
        .aliases = NO_ALIASES,
        /* Pi talks to the provider a user picks; these are the default API
         * hosts of the providers its documentation sets up with an API key
         * (baseUrl in @mariozechner/pi-ai's models table). */
        .domains = LIST("api.anthropic.com", "api.openai.com", "generativelanguage.googleapis.com", "openrouter.ai"),
        .ports = NO_PORTS,
        .source_url = "https://github.com/badlogic/pi-mono/tree/main/packages/coding-agent#providers",
};

static const struct policy_catalog_service qwen = {
        .name = "qwen",
        .aliases = NO_ALIASES,
        /* Alibaba Cloud Model Studio (DashScope) in its regions, its coding
         * plan endpoints, and Qwen OAuth's chat.qwen.ai: the base URLs of
         * the client's authentication types. */
        .domains = LIST("dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com", "dashscope-us.aliyuncs.com",
                        "coding.dashscope.aliyuncs.com", "coding-intl.dashscope.aliyuncs.com", "chat.qwen.ai"),
        .ports = NO_PORTS,
        .source_url = "https://qwenlm.github.io/qwen-code-docs/en/users/configuration/auth/",
};

static const struct policy_catalog_service cline = {
        .name = "cline",
        .aliases = NO_ALIASES,
        /* The Cline provider's API, its sign-in app and site, as the CLI's
         * defaults name them. */
        .domains = LIST("api.cline.bot", "app.cline.bot", "cline.bot"),
        .ports = NO_PORTS,
        .source_url = "https://docs.cline.bot/cline-cli/overview",
};

static const struct policy_catalog_service augment = {
        .name = "augment",
        .aliases = LIST("auggie"),
        /* Each account's API lives at its tenant URL,
         * TENANT.api.augmentcode.com (the tenantURL of a session); sign-in is
         * auth.augmentcode.com. */
        .domains = LIST("api.augmentcode.com", "*.api.augmentcode.com", "auth.augmentcode.com", "app.augmentcode.com"),
        .ports = NO_PORTS,
        .source_url = "https://docs.augmentcode.com/cli/setup-auggie/authentication",
};

static const struct policy_catalog_service continue_ = {
        .name = "continue",
        .aliases = LIST("cn"),
        /* Continue Hub: its API (the CLI's default apiBase) and sign-in. */
        .domains = LIST("api.continue.dev", "continue.dev", "hub.continue.dev"),
        .ports = NO_PORTS,
        .source_url = "https://docs.continue.dev/guides/cli",
};

static const struct policy_catalog_service kilo = {
        .name = "kilo",
        .aliases = NO_ALIASES,
        /* The Kilo Gateway API, its sign-in app and configuration
         * (app.kilo.ai/config.json), and the models.dev catalog the CLI
         * reads, as its client names them. */
        .domains = LIST("api.kilo.ai", "app.kilo.ai", "kilo.ai", "models.dev"),
        .ports = NO_PORTS,
        .source_url = "https://kilo.ai/docs/cli",
};

static const struct policy_catalog_service amp = {
        .name = "amp",
        .aliases = NO_ALIASES,
        /* Amp's service, API and sign-in all live at ampcode.com (the
         * CLI's default amp.url). */
        .domains = LIST("ampcode.com"),
        .ports = NO_PORTS,
        .source_url = "https://ampcode.com/manual",
};

/* Every public unicast address, nothing of the machine's or anyone's
 * private side: the complement, in 0.0.0.0/0 and 2000::/3 (global
 * unicast), of the IANA special-purpose ranges that are not globally
 * reachable: 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10 (CGNAT), 127.0.0.0/8,
 * 169.254.0.0/16 (link-local, cloud metadata), 172.16.0.0/12,
 * 192.0.0.0/24, 192.0.2.0/24, 192.88.99.0/24, 192.168.0.0/16,
 * 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24, 224.0.0.0/4 (multicast)
 * and 240.0.0.0/4 (reserved, broadcast); 2001::/23, 2001:db8::/32,
 * 2002::/16 (6to4, which embeds IPv4 addresses) and 3fff::/20. IPv6
 * outside 2000::/3 (ULA, link-local, multicast, loopback, mapped) is not
 * in it. The container's own networks and gateways are cut out when the
 * firewall is built (struct policy_catalog_service.cidrs). */
static const struct policy_catalog_service internet = {
        .name = "internet",
        .aliases = NO_ALIASES,
        .domains = NO_ALIASES,
        .ports = NO_PORTS,
        .any_name = true,
        .cidrs = LIST(
                "1.0.0.0/8", "2.0.0.0/7", "4.0.0.0/6", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4",
                "32.0.0.0/3", "64.0.0.0/3", "96.0.0.0/6", "100.0.0.0/10", "100.128.0.0/9", "101.0.0.0/8",
                "102.0.0.0/7", "104.0.0.0/5", "112.0.0.0/5", "120.0.0.0/6", "124.0.0.0/7", "126.0.0.0/8",
                "128.0.0.0/3", "160.0.0.0/5", "168.0.0.0/8", "169.0.0.0/9", "169.128.0.0/10", "169.192.0.0/11",
                "169.224.0.0/12", "169.240.0.0/13", "169.248.0.0/14", "169.252.0.0/15", "169.255.0.0/16",
                "170.0.0.0/7", "172.0.0.0/12", "172.32.0.0/11", "172.64.0.0/10", "172.128.0.0/9", "173.0.0.0/8",
                "174.0.0.0/7", "176.0.0.0/4", "192.0.1.0/24", "192.0.3.0/24", "192.0.4.0/22", "192.0.8.0/21",
                "192.0.16.0/20", "192.0.32.0/19", "192.0.64.0/18", "192.0.128.0/17", "192.1.0.0/16",
                "192.2.0.0/15", "192.4.0.0/14", "192.8.0.0/13", "192.16.0.0/12", "192.32.0.0/11",
                "192.64.0.0/12", "192.80.0.0/13", "192.88.0.0/18", "192.88.64.0/19", "192.88.96.0/23",
                "192.88.98.0/24", "192.88.100.0/22", "192.88.104.0/21", "192.88.112.0/20", "192.88.128.0/17",
                "192.89.0.0/16", "192.90.0.0/15", "192.92.0.0/14", "192.96.0.0/11", "192.128.0.0/11",
                "192.160.0.0/13", "192.169.0.0/16", "192.170.0.0/15", "192.172.0.0/14", "192.176.0.0/12",
                "192.192.0.0/10", "193.0.0.0/8", "194.0.0.0/7", "196.0.0.0/7", "198.0.0.0/12", "198.16.0.0/15",
                "198.20.0.0/14", "198.24.0.0/13", "198.32.0.0/12", "198.48.0.0/15", "198.50.0.0/16",
                "198.51.0.0/18", "198.51.64.0/19", "198.51.96.0/22", "198.51.101.0/24", "198.51.102.0/23",
                "198.51.104.0/21", "198.51.112.0/20", "198.51.128.0/17", "198.52.0.0/14", "198.56.0.0/13",
                "198.64.0.0/10", "198.128.0.0/9", "199.0.0.0/8", "200.0.0.0/7", "202.0.0.0/8", "203.0.0.0/18",
                "203.0.64.0/19", "203.0.96.0/20", "203.0.112.0/24", "203.0.114.0/23", "203.0.116.0/22",
                "203.0.120.0/21", "203.0.128.0/17", "203.1.0.0/16", "203.2.0.0/15", "203.4.0.0/14",
                "203.8.0.0/13", "203.16.0.0/12", "203.32.0.0/11", "203.64.0.0/10", "203.128.0.0/9",
                "204.0.0.0/6", "208.0.0.0/4",
                "2000::/16", "2001:200::/23", "2001:400::/22", "2001:800::/22", "2001:c00::/24", "2001:d00::/25",
                "2001:d80::/27", "2001:da0::/28", "2001:db0::/29", "2001:db9::/32", "2001:dba::/31",
                "2001:dbc::/30", "2001:dc0::/26", "2001:e00::/23", "2001:1000::/20", "2001:2000::/19",
                "2001:4000::/18", "2001:8000::/17", "2003::/16", "2004::/14", "2008::/13", "2010::/12",
                "2020::/11", "2040::/10", "2080::/9", "2100::/8", "2200::/7", "2400::/6", "2800::/5", "3000::/5",
                "3800::/6", "3c00::/7", "3e00::/8", "3f00::/9", "3f80::/10", "3fc0::/11", "3fe0::/12",
                "3ff0::/13", "3ff8::/14", "3ffc::/15", "3ffe::/16", "3fff:1000::/20", "3fff:2000::/19",
                "3fff:4000::/18", "3fff:8000::/17"),
        .source_url = "https://www.iana.org/assignments/iana-ipv4-special-registry/",
};

/* Sorted by name: error messages list them in this order. */
static const struct policy_catalog_service *const all[] = {
        &amp, &anthropic, &augment, &cline, &continue_, &copilot, &github, &google, &internet, &kilo,
        &npm, &openai, &opencode, &pi, &pypi, &qwen, &vscode, NULL,
};

const struct policy_catalog_service *const *policy_catalog_all(void) {
        return all;
}

const struct policy_catalog_service *policy_catalog_find(const char *name) {
        for (size_t i = 0; all[i]; i++) {
                if (strcasecmp(all[i]->name, name) == 0)
                        return all[i];
                for (const char *const *a = all[i]->aliases; *a; a++)
                        if (strcasecmp(*a, name) == 0)
                                return all[i];
        }
        return NULL;
}
