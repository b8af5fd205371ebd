/* Unisoc PAC package parser (protocols/unisoc.md §5, §8): header, FILE_T table, both
 * CRC-16/ARC checks, the embedded BMAConfig XML (expat). Pure: bytes in, description out.
 * A Quectel "_merge.pac" is an ordinary PAC.
 */
#ifndef FLASHRACK_UNISOC_PKG_H
#define FLASHRACK_UNISOC_PKG_H

#include "package/pkg_types.h"

#include <stddef.h>
#include <stdint.h>

#define UNISOC_PAC_HEADER_SIZE 0x84C
#define UNISOC_PAC_FILE_SIZE   0xA14
#define UNISOC_PAC_MAGIC       0xFFFAFFFAu
#define UNISOC_PAC_MAX_FILES   512

struct unisoc_pac_file {
    char id[64];    /* szFileID: HOST_FDL, FDL2, PS, ... ("" for the XML) */
    char name[128]; /* szFileName */
    uint64_t size;
    uint64_t offset; /* absolute offset of the data in the PAC */
    uint32_t flag;   /* 0 operation only, 1 file, 2 XML (0x101 seen for FDLs) */
    uint32_t check;  /* nCheckFlag */
    uint32_t can_omit;
    uint32_t addr_num;
    uint32_t addr[5];
};

/* One <File> of the XML scheme, in download order. */
struct unisoc_xml_file {
    char id[64];
    char type[32];     /* HOST_FDL, FDL2, CODE, NV, EraseFlash, ... */
    char block_id[64]; /* <Block id="..."> partition name, "" when by address */
    uint64_t base;     /* PKG_ADDR_NONE when absent or not a number */
    uint64_t size;
    int flag;  /* <Flag>: 1 = needs a file */
    int check; /* <CheckFlag> */
};

struct unisoc_pac {
    int v2;                    /* BP_R2.0.1 */
    char version[32];          /* BP_R1.0.0 / BP_R2.0.1 */
    char product[128];         /* szPrdName: UIX8910_MODEM */
    char product_version[128]; /* szPrdVersion */
    char alias[128];           /* szPrdAlias: 8915DM_cat1_open */
    uint64_t pac_size;
    int crc_checked; /* magic present, both CRCs verified */
    uint16_t crc1, crc2;
    struct unisoc_pac_file *files;
    size_t nfiles;
    int xml_index;    /* index in files of the XML, -1 if none */
    char scheme[128]; /* Scheme name / Product name from the XML */
    struct unisoc_xml_file *xml;
    size_t nxml;
    struct pkg_image_list images; /* data files with their addresses, offsets into the PAC */
    struct pkg_warnings warnings;
};

/* Nonzero when the bytes start like a PAC (version string "BP_R" in UTF-16LE). */
int unisoc_pac_sniff(const uint8_t *data, size_t len);
int unisoc_pac_parse(const uint8_t *data, size_t len, struct unisoc_pac **ret, char *err,
                     size_t errlen);
void unisoc_pac_free(struct unisoc_pac *pac);

/* CRC-16/ARC (poly 0xA001 reflected, init 0): the PAC header and body CRCs. */
uint16_t unisoc_crc16_arc(uint16_t crc, const uint8_t *p, size_t n);

/* struct proto parse hook: any package form -> struct pkg (package/pkg.h) of this platform;
 * free with unisoc_pkg_hook_free. */
int unisoc_pkg_hook_parse(const uint8_t *data, size_t len, void **ret_package, char *err,
                          size_t errlen);
void unisoc_pkg_hook_free(void *package);

#endif
