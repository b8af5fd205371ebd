/* Ordering codes, revisions and firmware names (see pkg_name.h). */
#include "package/pkg_name.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* Module series per platform (product.md platform table, seed 003 "适用范围"). Data, so a new
 * module is one line. Longest prefix wins (BG95M3 before a generic BG95). */
static const struct {
    const char *series;
    enum pkg_platform platform;
} series_table[] = {
    {"EC100Y", PKG_PLATFORM_ASR},       {"EC600S", PKG_PLATFORM_ASR},
    {"EC200S", PKG_PLATFORM_ASR},       {"EC600N", PKG_PLATFORM_ASR},
    {"EC800N", PKG_PLATFORM_ASR},       {"EC200N", PKG_PLATFORM_ASR},
    {"EC600M", PKG_PLATFORM_ASR},       {"EC800M", PKG_PLATFORM_ASR},
    {"EG810M", PKG_PLATFORM_ASR},       {"EC600K", PKG_PLATFORM_ASR},
    {"EC800K", PKG_PLATFORM_ASR},       {"EG800K", PKG_PLATFORM_ASR},
    {"EG800P", PKG_PLATFORM_ASR},       {"EG912N", PKG_PLATFORM_ASR},
    {"EG915N", PKG_PLATFORM_ASR},       {"EC200A", PKG_PLATFORM_ASR1803},
    {"EC200T", PKG_PLATFORM_ASR1803},   {"EC200U", PKG_PLATFORM_UNISOC},
    {"EC600U", PKG_PLATFORM_UNISOC},    {"EG915U", PKG_PLATFORM_UNISOC},
    {"EG912U", PKG_PLATFORM_UNISOC},    {"EC600G", PKG_PLATFORM_UNISOC},
    {"EC800G", PKG_PLATFORM_UNISOC},    {"EC600E", PKG_PLATFORM_EIGENCOMM},
    {"EC800E", PKG_PLATFORM_EIGENCOMM}, {"BG95M1", PKG_PLATFORM_QUALCOMM},
    {"BG95M2", PKG_PLATFORM_QUALCOMM},  {"BG95M3", PKG_PLATFORM_QUALCOMM},
    {"BG95M4", PKG_PLATFORM_QUALCOMM},  {"BG95M5", PKG_PLATFORM_QUALCOMM},
    {"BG95M6", PKG_PLATFORM_QUALCOMM},  {"BG95M8", PKG_PLATFORM_QUALCOMM},
    {"BG95M9", PKG_PLATFORM_QUALCOMM},  {"BG95", PKG_PLATFORM_QUALCOMM},
    {"FC41D", PKG_PLATFORM_BEKEN},      {"FCM360W", PKG_PLATFORM_ESWIN},
};

static const char *const kind_names[] = {"none", "ordering_code", "revision", "official",
                                         "temporary"};

const char *pkg_name_kind_to_string(enum pkg_name_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "none";
}

enum pkg_platform pkg_series_platform(const char *series)
{
    for (size_t i = 0; i < sizeof(series_table) / sizeof(series_table[0]); i++)
        if (strcasecmp(series_table[i].series, series) == 0)
            return series_table[i].platform;
    return PKG_PLATFORM_UNKNOWN;
}

/* Length of the series at the start of s (known table first, then the generic shape
 * 2-3 letters + 2-3 digits + one letter), 0 if none. */
static size_t series_len(const char *s, size_t n)
{
    size_t best = 0;
    for (size_t i = 0; i < sizeof(series_table) / sizeof(series_table[0]); i++) {
        size_t l = strlen(series_table[i].series);
        if (l <= n && l > best && strncasecmp(s, series_table[i].series, l) == 0)
            best = l;
    }
    if (best)
        return best;
    size_t i = 0, letters, digits;
    while (i < n && isalpha((unsigned char)s[i]))
        i++;
    letters = i;
    while (i < n && isdigit((unsigned char)s[i]))
        i++;
    digits = i - letters;
    if (letters < 2 || letters > 3 || digits < 2 || digits > 3 || i >= n ||
        !isalpha((unsigned char)s[i]))
        return 0;
    return i + 1;
}

static void upcopy(char *dst, size_t dstlen, const char *src, size_t n)
{
    if (n >= dstlen)
        n = dstlen - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[n] = '\0';
}

static int is_alnum_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return n > 0;
}

/* "R06A01M08": R, two digits, then more of [A-Z0-9]. */
static int is_revision_tail(const char *s, size_t n)
{
    return n >= 3 && toupper((unsigned char)s[0]) == 'R' && isdigit((unsigned char)s[1]) &&
           isdigit((unsigned char)s[2]) && is_alnum_run(s, n);
}

/* Version token: V0001, BETA0002, BETA1202. */
static int is_version(const char *s, size_t n)
{
    size_t p = 0;
    if (n > 4 && strncasecmp(s, "BETA", 4) == 0)
        p = 4;
    else if (n > 1 && toupper((unsigned char)s[0]) == 'V')
        p = 1;
    else
        return 0;
    for (size_t i = p; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return n - p >= 2 && n - p <= 8;
}

/* Module code without separators: <series><submodel>[R..revision]. Returns 0 on success. */
static int parse_code(const char *s, size_t n, struct pkg_ident *id)
{
    size_t sl = series_len(s, n);
    if (!sl)
        return -EINVAL;
    const char *rest = s + sl;
    size_t rn = n - sl;
    memset(id, 0, sizeof(*id));
    upcopy(id->series, sizeof(id->series), s, sl);
    id->platform = pkg_series_platform(id->series);
    if (rn == 0) {
        id->kind = PKG_NAME_ORDERING_CODE;
        return 0;
    }
    /* Revision: 4-character sub-model (2 for BG95 codes such as BG95M3LA) then R<digits>. */
    for (size_t sub = 4; sub >= 2; sub -= 2) {
        if (rn > sub && is_alnum_run(rest, sub) && is_revision_tail(rest + sub, rn - sub)) {
            upcopy(id->submodel, sizeof(id->submodel), rest, sub);
            upcopy(id->revision, sizeof(id->revision), rest + sub, rn - sub);
            id->kind = PKG_NAME_REVISION;
            return 0;
        }
    }
    if (rn < 2 || rn > 4 || !is_alnum_run(rest, rn))
        return -EINVAL;
    upcopy(id->submodel, sizeof(id->submodel), rest, rn);
    id->kind = PKG_NAME_ORDERING_CODE;
    return 0;
}

#define MAX_TOKENS 24

struct token {
    const char *s;
    size_t n;
};

static size_t tokenize(const char *name, struct token *t, size_t max)
{
    size_t count = 0;
    const char *p = name;
    while (*p && count < max) {
        while (*p == '_' || *p == '-' || *p == ' ')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != '_' && *p != '-' && *p != ' ')
            p++;
        t[count].s = start;
        t[count].n = (size_t)(p - start);
        count++;
    }
    return count;
}

static int tok_is(const struct token *t, const char *word)
{
    return t->n == strlen(word) && strncasecmp(t->s, word, t->n) == 0;
}

static int parse_official(const struct token *t, size_t nt, struct pkg_ident *id)
{
    /* QPY [OCPU] [<version>] <series> [<submodel>] [FW] ... in that order. */
    size_t i = 1;
    char version[16] = "";
    if (i < nt && tok_is(&t[i], "OCPU"))
        i++;
    if (i < nt && is_version(t[i].s, t[i].n)) {
        upcopy(version, sizeof(version), t[i].s, t[i].n);
        i++;
    }
    if (i >= nt || series_len(t[i].s, t[i].n) != t[i].n)
        return -EINVAL;
    memset(id, 0, sizeof(*id));
    upcopy(id->series, sizeof(id->series), t[i].s, t[i].n);
    id->platform = pkg_series_platform(id->series);
    i++;
    if (i < nt && !tok_is(&t[i], "FW") && t[i].n >= 2 && t[i].n <= 4 &&
        is_alnum_run(t[i].s, t[i].n) && !is_version(t[i].s, t[i].n)) {
        upcopy(id->submodel, sizeof(id->submodel), t[i].s, t[i].n);
        i++;
    }
    /* Some releases put the version after the model: QPY_OCPU_EC800M_CNGA_FW_V0001. */
    for (; !*version && i < nt; i++)
        if (is_version(t[i].s, t[i].n))
            upcopy(version, sizeof(version), t[i].s, t[i].n);
    memcpy(id->version, version, sizeof(version));
    id->kind = PKG_NAME_OFFICIAL;
    return 0;
}

int pkg_name_parse(const char *name, struct pkg_ident *ret)
{
    char buf[256];
    pkg_strlcpy(buf, pkg_basename(name), sizeof(buf));
    /* Drop one extension (.zip .bin .pac .binpkg .blf .mbn), never a version dot. */
    char *dot = strrchr(buf, '.');
    if (dot && strlen(dot) <= 7 && !isdigit((unsigned char)dot[1]))
        *dot = '\0';
    struct token t[MAX_TOKENS];
    size_t nt = tokenize(buf, t, MAX_TOKENS);
    if (nt == 0)
        return -EINVAL;
    struct pkg_ident id;
    if (tok_is(&t[0], "QPY") && parse_official(t, nt, &id) == 0) {
        *ret = id;
        return 0;
    }
    /* Temporary build: a revision token somewhere (8915DM_cat1_open_<revision>_...). */
    for (size_t i = 0; i < nt; i++) {
        if (parse_code(t[i].s, t[i].n, &id) == 0 && id.kind == PKG_NAME_REVISION) {
            for (size_t k = i + 1; k < nt; k++)
                if (is_version(t[k].s, t[k].n)) {
                    upcopy(id.version, sizeof(id.version), t[k].s, t[k].n);
                    break;
                }
            id.kind = PKG_NAME_TEMPORARY;
            *ret = id;
            return 0;
        }
    }
    return -EINVAL;
}

int pkg_module_parse(const char *code, struct pkg_ident *ret)
{
    char buf[128];
    while (*code == ' ' || *code == '\t')
        code++;
    pkg_strlcpy(buf, code, sizeof(buf));
    size_t n = strlen(buf);
    while (n &&
           (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r' || buf[n - 1] == '\n'))
        buf[--n] = '\0';
    /* The first '-' or '_' ends the part that names the module: EC800MCNGA-I05-SGNSA,
     * EC800MCNGAR06A01M08_OCPU_QPY_... */
    size_t head = strcspn(buf, "-_ ");
    struct pkg_ident id;
    struct token t[MAX_TOKENS];
    size_t nt = tokenize(buf, t, MAX_TOKENS);
    if (parse_code(buf, head, &id) == 0 && (id.submodel[0] || nt < 2)) {
        *ret = id;
        return 0;
    }
    /* "EC800M_CNGA" or "EC800M-CNGA" as people also write it. */
    if (nt == 2 && series_len(t[0].s, t[0].n) == t[0].n && t[1].n >= 2 && t[1].n <= 4 &&
        is_alnum_run(t[1].s, t[1].n)) {
        memset(&id, 0, sizeof(id));
        upcopy(id.series, sizeof(id.series), t[0].s, t[0].n);
        upcopy(id.submodel, sizeof(id.submodel), t[1].s, t[1].n);
        id.platform = pkg_series_platform(id.series);
        id.kind = PKG_NAME_ORDERING_CODE;
        *ret = id;
        return 0;
    }
    if (parse_code(buf, head, &id) == 0) {
        *ret = id; /* a bare series: the check will ask for the sub-model */
        return 0;
    }
    return -EINVAL;
}
