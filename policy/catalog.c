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

/* Sorted by name: error messages list them in this order. */
static const struct policy_catalog_service *const all[] = {
        &anthropic, &github, &google, &npm, &openai, &opencode, &pypi, &vscode, NULL,
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
