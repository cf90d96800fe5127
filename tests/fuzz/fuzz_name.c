/*
 * fuzz_name.c: the validators of names, org slugs, aliases, UUIDs, roles and file paths, which
 * see every path segment, query value and body field naming something. Input: one candidate.
 * Invariants: each predicate agrees with an independent oracle (API.md's regular expressions,
 * and for paths a separate UTF-8 decoder and segment walk); a valid path gives a format and
 * media type without fault; resource kinds match their pattern; a Content-Disposition made
 * from any name stays inside its quotes and its RFC 8187 value.
 */
#include <regex.h>

#include "core/formats.h"
#include "core/name.h"
#include "core/path.h"
#include "core/semver.h"
#include "fuzz.h"

static regex_t re_name, re_slug, re_uuid, re_kind;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (regcomp(&re_name, "^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$", REG_EXTENDED | REG_NOSUB) ||
        regcomp(&re_slug, "^[a-z0-9][a-z0-9-]{1,38}$", REG_EXTENDED | REG_NOSUB) ||
        regcomp(&re_uuid,
                "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                REG_EXTENDED | REG_NOSUB) ||
        regcomp(&re_kind, "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", REG_EXTENDED | REG_NOSUB))
        abort();
    return 0;
}

static bool matches(const regex_t *re, const char *s, bool has_nul)
{
    return !has_nul && regexec(re, s, 0, NULL, 0) == 0;
}

static bool eq(const char *s, size_t n, const char *w)
{
    return n == strlen(w) && memcmp(s, w, n) == 0;
}

/* API.md §6's path rule, written independently of core/path.c. */
static bool path_oracle(const char *p, size_t n)
{
    if (n < 1 || n > PATH_MAX_LEN || !fuzz_utf8_ok((const unsigned char *)p, n))
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n) {
            unsigned char c = (unsigned char)p[i];
            if (c < 0x20 || c == 0x7f || c == '\\')
                return false;
            if (c != '/')
                continue;
        }
        size_t len = i - start;
        if (len < 1 || len > PATH_SEGMENT_MAX)
            return false;
        if ((len == 1 && p[start] == '.') || (len == 2 && p[start] == '.' && p[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = fuzz_strndup(data, size);
    bool nul = memchr(s, '\0', size) != NULL;

    bool name = name_is_valid(s, size);
    FUZZ_CHECK(name == matches(&re_name, s, nul));
    /* the route words are reserved; anything else reserved must at least be UUID-shaped */
    bool word = eq(s, size, "facets") || eq(s, size, "bulk") || eq(s, size, "export.csv");
    bool reserved = name_is_reserved(s, size);
    FUZZ_CHECK(!word || reserved);
    FUZZ_CHECK(!reserved || word || matches(&re_uuid, s, nul));
    bool upper = false;
    for (size_t i = 0; i < size; i++)
        upper |= s[i] >= 'A' && s[i] <= 'Z';
    FUZZ_CHECK(name_is_slug_shaped(s, size) == (name && !upper));
    FUZZ_CHECK(slug_is_valid(s, size) == matches(&re_slug, s, nul));
    bool uuid = uuid_is_valid(s, size);
    FUZZ_CHECK(uuid == matches(&re_uuid, s, nul));
    FUZZ_CHECK(alias_is_valid(s, size) ==
               (name && !semver_is_valid(s, size) && !eq(s, size, "latest") && !uuid));
    int rank = role_rank(s, size);
    FUZZ_CHECK(rank == (eq(s, size, "reader") ? 1 : eq(s, size, "writer") ? 2
                        : eq(s, size, "admin")  ? 3
                                                : 0));

    FUZZ_CHECK(resource_kind_is_valid(s, size) == matches(&re_kind, s, nul));

    /* Content-Disposition of a download: the quoted fallback holds only [A-Za-z0-9._-], the
     * RFC 8187 value only attr-chars and %XX, and the whole value is exactly as long as
     * promised; nothing in it can end the quoted string or start another parameter */
    {
        char *cd = malloc(PATH_DISPOSITION_SIZE(size));
        path_disposition(cd, PATH_DISPOSITION_SIZE(size), s, size);
        const char *head = "attachment; filename=\"", *mid = "\"; filename*=UTF-8''";
        FUZZ_CHECK(strncmp(cd, head, strlen(head)) == 0);
        const char *f = cd + strlen(head);
        for (size_t i = 0; i < size; i++)
            FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
                              f[i]) && f[i]);
        FUZZ_CHECK(strncmp(f + size, mid, strlen(mid)) == 0);
        for (const char *q = f + size + strlen(mid); *q; q++)
            FUZZ_CHECK(!strchr("\"\\;, \t\r\n", *q) && (unsigned char)*q > 0x20 &&
                       (unsigned char)*q < 0x7f);
        FUZZ_CHECK(strlen(cd) < PATH_DISPOSITION_SIZE(size));
        free(cd);
    }

    bool path = path_is_valid(s, size);
    FUZZ_CHECK(path == path_oracle(s, size));
    if (path) {
        char buf[32];
        const char *f = format_of_path(s, buf, sizeof(buf));
        FUZZ_CHECK(f && *f && strlen(f) < sizeof(buf));
        for (const char *q = f; *q; q++)
            FUZZ_CHECK((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_' ||
                       *q == '-');
        const char *m = media_type_of_path(s);
        FUZZ_CHECK(m && strchr(m, '/'));
    }
    free(s);
    return 0;
}
