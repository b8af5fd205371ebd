/* Module identity from names: ordering codes, module revisions, official firmware names and
 * temporary build names (seed 003, "确认模块型号").
 *
 *   EC800MCNGA-I05-SGNSA                    ordering code: series EC800M, sub-model CNGA
 *   EC800MCNGAR06A01M08                     revision a module reports (AT+QGMR / ATI)
 *   QPY_OCPU_V0001_EC800M_CNGA_FW           official firmware, version V0001
 *   QPY_OCPU_BETA0002_EC800K_CNLC_FW        official beta, version BETA0002
 *   QPY_BETA0003_EC800E_CNLC_FW             older official naming (no OCPU)
 *   EC800KCNCCR07A01M02_OCPY_QPY_BETA1202   temporary build: revision + version
 *   8915DM_cat1_open_EC600UCNLBR03A01M08_BT_OCPU_QPY_BETA1107_merge   Unisoc build output
 */
#ifndef FLASHRACK_PKG_NAME_H
#define FLASHRACK_PKG_NAME_H

#include "package/pkg_types.h"

enum pkg_name_kind {
    PKG_NAME_NONE = 0,
    PKG_NAME_ORDERING_CODE, /* EC800MCNGA-I05-SGNSA or just EC800MCNGA */
    PKG_NAME_REVISION,      /* EC800MCNGAR06A01M08... */
    PKG_NAME_OFFICIAL,      /* QPY_[OCPU_]<version>_<series>[_<submodel>]_FW */
    PKG_NAME_TEMPORARY,     /* <revision>_..._<version> */
};
const char *pkg_name_kind_to_string(enum pkg_name_kind k);

struct pkg_ident {
    enum pkg_name_kind kind;
    enum pkg_platform platform; /* from the series table, UNKNOWN if the series is unknown */
    char series[16];            /* EC800M */
    char submodel[8];           /* CNGA, "" when the name carries none (BG95M3, FC41D) */
    char version[16];           /* V0001, BETA0002, BETA1202; "" for module codes */
    char revision[40];          /* R06A01M08 part of a revision, "" otherwise */
};

/* Parses a firmware or package name (file name with or without extension, no directory).
 * Returns 0 and fills ret, or -EINVAL when the name says nothing about the module. */
int pkg_name_parse(const char *name, struct pkg_ident *ret);

/* Parses what an operator types or a module reports: ordering code or revision string.
 * Leading/trailing blanks are ignored; case-insensitive. Returns 0 or -EINVAL. */
int pkg_module_parse(const char *code, struct pkg_ident *ret);

/* Platform of a module series (EC800M -> asr, EC200U -> unisoc, ...), or UNKNOWN. */
enum pkg_platform pkg_series_platform(const char *series);

#endif
