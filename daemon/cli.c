/* flashrack: the command-line tool.
 *
 *   flashrack inspect PATH [--json]                 what a package is and what gets flashed
 *   flashrack check PACKAGE --module CODE [--json]  may this package go on this module?
 *   flashrack udev-rules [--config PATH] [--group NAME]  udev rules from the id tables
 *
 * Exit status: 0 success (check: compatible), 1 not compatible, 2 usage, 3 the package is
 * not usable (the message names the problem). More subcommands (status, ...) are added to
 * the table in main. */
#include "pkg_load.h"
#include "udev_rules.h"

#include "package/pkg_compat.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_INCOMPATIBLE = 1, EXIT_USAGE = 2, EXIT_PACKAGE = 3 };

static void usage(FILE *f)
{
    fprintf(f, "usage: flashrack inspect PATH [--json]\n"
               "       flashrack check PACKAGE --module ORDERING_CODE_OR_REVISION [--json]\n"
               "       flashrack udev-rules [--config PATH] [--group NAME]\n"
               "       flashrack --version\n");
}

static int open_package(const char *path, struct pkg_source **ret_src, struct pkg **ret_pkg)
{
    char err[512] = "";
    struct pkg_source *src = NULL;
    int r = pkg_load_path(path, NULL, &src, err, sizeof(err));
    if (r == 0)
        r = pkg_load_open(src, NULL, ret_pkg, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "flashrack: %s\n", err[0] ? err : strerror(-r));
        pkg_source_free(src);
        return r;
    }
    *ret_src = src;
    return 0;
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *hex_or_null(uint64_t v)
{
    if (v == PKG_ADDR_NONE)
        return json_null();
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
    return json_string(buf);
}

static json_t *describe(const struct pkg_source *src, const struct pkg *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(src->path));
    json_object_set_new(o, "platform", json_string(pkg_platform_to_string(p->platform)));
    json_object_set_new(o, "series", str_or_null(p->ident.series));
    json_object_set_new(o, "submodel", str_or_null(p->ident.submodel));
    json_object_set_new(o, "version", str_or_null(p->ident.version));
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "name_kind", json_string(pkg_name_kind_to_string(p->ident.kind)));
    json_object_set_new(o, "layout", json_string(p->layout));
    json_object_set_new(o, "flash_file", json_string(p->flash_file));
    json_object_set_new(o, "payload_file", json_string(p->payload_file));
    json_object_set_new(o, "platform_config", str_or_null(p->choice.platform_config));
    json_object_set_new(o, "sha256", json_string(src->sha256));
    json_object_set_new(o, "flash_sha256", str_or_null(p->flash_sha256));
    json_object_set_new(o, "flash_size",
                        p->flash_data ? json_integer((json_int_t)p->flash_len) : json_null());
    json_t *imgs = json_array();
    uint64_t total = 0;
    for (size_t i = 0; i < p->images.count; i++) {
        const struct pkg_image *img = &p->images.items[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(img->name));
        json_object_set_new(j, "file", str_or_null(img->file));
        json_object_set_new(j, "type", str_or_null(img->type));
        json_object_set_new(j, "partition", str_or_null(img->partition));
        json_object_set_new(j, "address", hex_or_null(img->address));
        json_object_set_new(j, "size", json_integer((json_int_t)img->size));
        json_object_set_new(j, "offset",
                            img->offset == PKG_OFFSET_NONE ? json_null()
                                                           : json_integer((json_int_t)img->offset));
        json_array_append_new(imgs, j);
        total += img->size;
    }
    json_object_set_new(o, "images", imgs);
    json_object_set_new(o, "images_bytes", json_integer((json_int_t)total));
    json_t *warn = json_array();
    for (unsigned i = 0; i < p->warnings.count; i++)
        json_array_append_new(warn, json_string(p->warnings.text[i]));
    if (p->warnings.dropped) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%u more warnings not shown", p->warnings.dropped);
        json_array_append_new(warn, json_string(buf));
    }
    json_object_set_new(o, "warnings", warn);
    return o;
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    if (s)
        printf("%s\n", s);
    free(s);
}

static void print_human(const struct pkg_source *src, const struct pkg *p)
{
    printf("package:      %s\n", src->path);
    printf("sha256:       %s\n", src->sha256);
    printf("platform:     %s\n", pkg_platform_to_string(p->platform));
    printf("module:       %s %s\n", p->ident.series[0] ? p->ident.series : "(unknown)",
           p->ident.submodel[0] ? p->ident.submodel : "(no sub-model)");
    printf("version:      %s\n", p->ident.version[0] ? p->ident.version : "(none)");
    printf("name:         %s\n", p->name);
    printf("layout:       %s\n", p->layout);
    printf("flash file:   %s\n", p->flash_file);
    if (strcmp(p->payload_file, p->flash_file) != 0)
        printf("firmware in:  %s\n", p->payload_file);
    if (p->flash_sha256[0])
        printf("flash sha256: %s\n", p->flash_sha256);
    printf("images:       %zu\n", p->images.count);
    for (size_t i = 0; i < p->images.count; i++) {
        const struct pkg_image *img = &p->images.items[i];
        char where[80] = "";
        if (img->address != PKG_ADDR_NONE)
            snprintf(where, sizeof(where), "@0x%llx", (unsigned long long)img->address);
        printf("  %-20s %10llu bytes %-12s %-14s %s\n", img->name, (unsigned long long)img->size,
               img->partition[0] ? img->partition : "-", where, img->file);
    }
    for (unsigned i = 0; i < p->warnings.count; i++)
        printf("warning: %s\n", p->warnings.text[i]);
}

static int has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

static int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            continue;
        if (argv[i][0] == '-' || path) {
            usage(stderr);
            return EXIT_USAGE;
        }
        path = argv[i];
    }
    if (!path) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct pkg_source *src;
    struct pkg *p;
    if (open_package(path, &src, &p) < 0)
        return EXIT_PACKAGE;
    if (has_flag(argc, argv, "--json")) {
        json_t *o = describe(src, p);
        print_json(o);
        json_decref(o);
    } else {
        print_human(src, p);
    }
    pkg_free(p);
    pkg_source_free(src);
    return EXIT_OK;
}

static int cmd_check(int argc, char **argv)
{
    const char *path = NULL, *module = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            continue;
        if (strcmp(argv[i], "--module") == 0 && i + 1 < argc) {
            module = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--module=", 9) == 0) {
            module = argv[i] + 9;
            continue;
        }
        if (argv[i][0] == '-' || path) {
            usage(stderr);
            return EXIT_USAGE;
        }
        path = argv[i];
    }
    if (!path || !module) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct pkg_source *src;
    struct pkg *p;
    if (open_package(path, &src, &p) < 0)
        return EXIT_PACKAGE;
    struct pkg_check_result res;
    int r = pkg_check(p->platform, &p->ident, module, &res);
    if (has_flag(argc, argv, "--json")) {
        json_t *o = json_object();
        json_object_set_new(o, "compatible", json_boolean(r == 0 && res.compatible));
        json_object_set_new(o, "rule", json_string(res.rule));
        json_object_set_new(o, "reason", json_string(res.reason));
        json_t *m = json_object();
        json_object_set_new(m, "input", json_string(module));
        json_object_set_new(m, "series", str_or_null(res.module.series));
        json_object_set_new(m, "submodel", str_or_null(res.module.submodel));
        json_object_set_new(m, "revision", str_or_null(res.module.revision));
        json_object_set_new(m, "platform",
                            json_string(pkg_platform_to_string(res.module.platform)));
        json_object_set_new(o, "module", m);
        json_object_set_new(o, "package", describe(src, p));
        print_json(o);
        json_decref(o);
    } else {
        printf("%s: %s\n", res.compatible ? "compatible" : "NOT compatible", res.reason);
    }
    int code = r < 0 ? EXIT_USAGE : res.compatible ? EXIT_OK : EXIT_INCOMPATIBLE;
    if (r < 0)
        fprintf(stderr, "flashrack: %s\n", res.reason);
    pkg_free(p);
    pkg_source_free(src);
    return code;
}

/* A POSIX-portable group name: it ends up inside the rules file. */
static int group_name_ok(const char *g)
{
    if (!*g || strlen(g) > 32 || !((*g >= 'a' && *g <= 'z') || *g == '_'))
        return 0;
    for (const char *p = g; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static int cmd_udev_rules(int argc, char **argv)
{
    const char *config_path = NULL, *group = UDEV_RULES_GROUP;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config_path = argv[++i];
        else if (!strcmp(argv[i], "--group") && i + 1 < argc)
            group = argv[++i];
        else {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!group_name_ok(group)) {
        fprintf(stderr, "flashrack: '%s' is not a group name\n", group);
        return EXIT_USAGE;
    }
    static struct config cfg;
    if (config_path) {
        char err[512];
        if (config_load_file(config_path, &cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "flashrack: %s\n", err);
            return EXIT_USAGE;
        }
    }
    int r = udev_rules_write(stdout, config_path ? &cfg : NULL, group);
    if (r < 0) {
        fprintf(stderr, "flashrack: writing the rules: %s\n", strerror(-r));
        return 1;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } cmds[] = {{"inspect", cmd_inspect}, {"check", cmd_check}, {"udev-rules", cmd_udev_rules}};
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("flashrack %s\n", FLASHRACK_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].run(argc - 2, argv + 2);
    fprintf(stderr, "flashrack: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
