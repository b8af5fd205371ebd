/* The BSL command set of the Unisoc device model: ROM (8850, CRC-16), FDL1 and FDL2 (sum),
 * with the checks of notes §6. Replies go through unisoc_reply()/unisoc_nak(), which apply
 * the stage's framing and the reply faults. */
#include "unisoc/unisoc_model.h"

#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void ack(struct unisoc *u, uint64_t now_ms)
{
    unisoc_reply(u, UNISOC_REP_ACK, NULL, 0, now_ms, 0);
}

static const char *stage_name(enum unisoc_stage st)
{
    static const char *const names[] = {"pdl", "rom", "fdl1", "fdl2", "reset", "gone"};
    return names[st];
}

static bool ram_ok(const struct unisoc *u, uint32_t addr, uint64_t size)
{
    return addr >= u->cfg.ram_base && (uint64_t)addr - u->cfg.ram_base + size <= u->cfg.ram_size;
}

static void do_start(struct unisoc *u, const uint8_t *p, size_t len, uint64_t now_ms)
{
    if (len == 76 || len == 80) {
        /* Gap: the 8910/8850 path writes by address (notes §4.3); the model has no
         * partition table, so every name is unknown. */
        unisoc_nak(u, UNISOC_REP_DEST_ERROR, now_ms, "START by partition name: no partition table");
        return;
    }
    if (len != 8 && len != 12) {
        unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "START payload length %zu", len);
        return;
    }
    uint32_t addr = be32(p), size = be32(p + 4), cs = len == 12 ? be32(p + 8) : 0;
    struct unisoc_xfer *x = &u->xfer;
    if (x->open) {
        /* Gap: a repeated identical START before any data is a host retry after a lost ACK;
         * anything else is the documented DOWN_MULTI_START. */
        if (x->addr == addr && x->size == size && x->got == 0 && x->has_checksum == (len == 12) &&
            x->checksum == cs) {
            ack(u, now_ms);
            return;
        }
        unisoc_nak(u, UNISOC_REP_MULTI_START, now_ms, "START 0x%08x while 0x%08x is open", addr,
                   x->addr);
        return;
    }
    if (size == 0) {
        unisoc_nak(u, UNISOC_REP_SIZE_ERROR, now_ms, "START 0x%08x with size 0", addr);
        return;
    }
    enum unisoc_dest dest;
    uint64_t limit;
    if (u->stage != UNISOC_ST_FDL2) {
        if (!ram_ok(u, addr, 1)) {
            unisoc_nak(u, UNISOC_REP_DEST_ERROR, now_ms, "%s: START 0x%08x outside RAM",
                       stage_name(u->stage), addr);
            return;
        }
        dest = UNISOC_DEST_RAM;
        limit = (uint64_t)u->cfg.ram_base + u->cfg.ram_size - addr;
    } else if (sim_unisoc_flash_contains(&u->flash, addr, 1)) {
        dest = UNISOC_DEST_FLASH;
        limit = (uint64_t)u->flash.base + u->flash.size - addr;
    } else if (addr == UNISOC_LA_NV) {
        if (len != 12) {
            unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "NV START without checksum");
            return;
        }
        dest = UNISOC_DEST_NV;
        limit = u->flash.nv_cap;
    } else if (addr == UNISOC_LA_PHASECHECK || addr == UNISOC_LA_PREPACK) {
        dest = UNISOC_DEST_HASH;
        limit = addr == UNISOC_LA_PHASECHECK ? 0x100 : 0x1000000;
    } else {
        unisoc_nak(u, UNISOC_REP_DEST_ERROR, now_ms, "START to unknown address 0x%08x", addr);
        return;
    }
    if (size > limit) {
        unisoc_nak(u, UNISOC_REP_SIZE_ERROR, now_ms, "START 0x%08x size 0x%x exceeds 0x%llx", addr,
                   size, (unsigned long long)limit);
        return;
    }
    if (unisoc_xfer_open(u, dest, addr, size) < 0) {
        unisoc_nak(u, UNISOC_REP_NO_MEMORY, now_ms, "no memory for a transfer");
        return;
    }
    x->has_checksum = len == 12;
    x->checksum = cs;
    if (dest == UNISOC_DEST_FLASH)
        sim_unisoc_flash_erase(&u->flash, addr, size); /* FDL2 erases on START (notes §7) */
    ack(u, now_ms);
}

static void do_midst(struct unisoc *u, const uint8_t *p, size_t len, uint64_t now_ms)
{
    struct unisoc_xfer *x = &u->xfer;
    if (!x->open) {
        unisoc_nak(u, UNISOC_REP_NOT_START, now_ms, "MIDST without START");
        return;
    }
    if (unisoc_chunk_fault(u, now_ms, false))
        return;
    if (x->got + len > x->size) {
        unisoc_nak(u, UNISOC_REP_SIZE_ERROR, now_ms, "MIDST past the announced size 0x%llx",
                   (unsigned long long)x->size);
        return;
    }
    uint64_t delay = 0;
    if (x->dest == UNISOC_DEST_FLASH) {
        if (sim_unisoc_flash_write(&u->flash, (uint32_t)(x->addr + x->got), p, len) < 0) {
            unisoc_nak(u, UNISOC_REP_NO_MEMORY, now_ms, "flash model memory limit reached");
            return;
        }
        sim_fwrev_feed(&u->fwrev, p, len);
        if (u->cfg.flash_rate)
            delay = ((uint64_t)len * 1000 + u->cfg.flash_rate - 1) / u->cfg.flash_rate;
    } else if (x->dest == UNISOC_DEST_NV) {
        /* NV is kept whole until END, where its checksums decide whether it replaces NV. */
        memcpy(u->nv_scratch + x->got, p, len);
    }
    for (size_t i = 0; i < len; i++)
        x->sum32 += p[i];
    EVP_DigestUpdate(x->md, p, len);
    x->got += len;
    unisoc_reply(u, UNISOC_REP_ACK, NULL, 0, now_ms, delay);
}

static void do_end(struct unisoc *u, uint64_t now_ms)
{
    struct unisoc_xfer *x = &u->xfer;
    if (!x->open) {
        unisoc_nak(u, UNISOC_REP_NOT_START, now_ms, "END without START");
        return;
    }
    if (x->got != x->size) {
        unisoc_nak(u, UNISOC_REP_EARLY_END, now_ms, "END after 0x%llx of 0x%llx bytes",
                   (unsigned long long)x->got, (unsigned long long)x->size);
        unisoc_xfer_close(u);
        return;
    }
    if (x->has_checksum && x->sum32 != x->checksum) {
        unisoc_nak(u, UNISOC_REP_OPERATION_FAILED, now_ms,
                   "image byte sum 0x%08x, START announced 0x%08x", x->sum32, x->checksum);
        unisoc_xfer_close(u);
        return;
    }
    if (x->dest == UNISOC_DEST_NV &&
        sim_unisoc_nv_replace(&u->flash, u->nv_scratch, (size_t)x->size) < 0) {
        unisoc_nak(u, UNISOC_REP_OPERATION_FAILED, now_ms, "NV image CRC-16 mismatch");
        unisoc_xfer_close(u);
        return;
    }
    uint8_t sha[32];
    unsigned int sha_len = 0;
    EVP_DigestFinal_ex(x->md, sha, &sha_len);
    if (x->dest == UNISOC_DEST_RAM) {
        int which = u->stage == UNISOC_ST_FDL1 ? 1 : 0;
        memcpy(u->fdl_sha[which], sha, 32);
        u->have_fdl[which] = true;
        u->ram_loaded = true;
    } else if (sim_unisoc_region_record(&u->flash, x->addr, x->size, sha) < 0) {
        unisoc_nak(u, UNISOC_REP_NO_MEMORY, now_ms, "more than %d regions", UNISOC_MAX_REGION);
        unisoc_xfer_close(u);
        return;
    }
    unisoc_xfer_close(u);
    ack(u, now_ms);
}

static void do_exec(struct unisoc *u, uint64_t now_ms)
{
    if (u->stage == UNISOC_ST_FDL2) {
        /* "ExecNandInit": FDL2 answers again, optionally asking for a repartition. */
        unisoc_reply(u, u->cfg.incompatible ? UNISOC_REP_INCOMPATIBLE : UNISOC_REP_ACK, NULL, 0,
                     now_ms, 0);
        return;
    }
    if (!u->ram_loaded || u->xfer.open) {
        unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "%s: EXEC without a complete download",
                   stage_name(u->stage));
        return;
    }
    if (u->stage == UNISOC_ST_ROM) {
        ack(u, now_ms); /* still CRC-framed: the ROM answers, then jumps */
        unisoc_set_stage(u, UNISOC_ST_FDL1);
        return;
    }
    /* FDL1 jumps to FDL2, whose first words are the EXEC reply (notes §6). */
    unisoc_set_stage(u, UNISOC_ST_FDL2);
    unisoc_reply(u, u->cfg.incompatible ? UNISOC_REP_INCOMPATIBLE : UNISOC_REP_ACK, NULL, 0, now_ms,
                 u->cfg.exec_delay_ms);
}

static void do_read_flash(struct unisoc *u, const uint8_t *p, size_t len, uint64_t now_ms)
{
    if (len != 8 && len != 12) {
        unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "READ_FLASH payload length %zu", len);
        return;
    }
    uint32_t addr = be32(p), size = be32(p + 4), off = len == 12 ? be32(p + 8) : 0;
    if (size == 0 || size > UNISOC_READ_MAX) {
        unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "READ_FLASH size 0x%x", size);
        return;
    }
    uint8_t buf[UNISOC_READ_MAX];
    size_t n;
    if (addr == UNISOC_LA_NV) {
        n = off >= u->flash.nv_len ? 0 : u->flash.nv_len - off;
        if (n > size)
            n = size;
        memcpy(buf, u->flash.nv + (off < u->flash.nv_len ? off : 0), n);
    } else if (sim_unisoc_flash_contains(&u->flash, addr, (uint64_t)off + 1)) {
        uint64_t left = (uint64_t)u->flash.base + u->flash.size - addr - off;
        n = left < size ? (size_t)left : size;
        sim_unisoc_flash_read(&u->flash, addr + off, buf, n);
    } else {
        unisoc_nak(u, UNISOC_REP_DEST_ERROR, now_ms, "READ_FLASH 0x%08x+0x%x outside flash", addr,
                   off);
        return;
    }
    unisoc_reply(u, UNISOC_REP_READ_FLASH, buf, n, now_ms, 0);
}

static void do_erase(struct unisoc *u, const uint8_t *p, size_t len, uint64_t now_ms)
{
    if (len == 76) {
        unisoc_nak(u, UNISOC_REP_DEST_ERROR, now_ms, "ERASE by partition name: no partition table");
        return;
    }
    if (len != 8) {
        unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "ERASE payload length %zu", len);
        return;
    }
    uint32_t addr = be32(p), size = be32(p + 4);
    struct sim_unisoc_flash *f = &u->flash;
    if (addr == 0 && size == 0xFFFFFFFFu) {
        sim_unisoc_flash_erase_all(f);
    } else if (addr == UNISOC_LA_ERASE_NV) {
        f->nv_len = 0;
        f->erases++;
    } else if (addr == UNISOC_LA_FMT_FS || addr == UNISOC_LA_DEL_APPIMG ||
               addr == UNISOC_LA_PHASECHECK) {
        f->erases++; /* file-system operations the model does not keep state for */
    } else if (sim_unisoc_flash_contains(f, addr, 1)) {
        uint64_t n =
            size == 0xFFFFFFFFu ? (uint64_t)f->base + f->size - addr : (size + 1ull) & ~1ull;
        if (!sim_unisoc_flash_contains(f, addr, n)) {
            unisoc_nak(u, UNISOC_REP_SIZE_ERROR, now_ms, "ERASE 0x%08x+0x%x past the flash end",
                       addr, size);
            return;
        }
        sim_unisoc_flash_erase(f, addr, n);
    } else {
        unisoc_nak(u, UNISOC_REP_DEST_ERROR, now_ms, "ERASE of unknown address 0x%08x", addr);
        return;
    }
    ack(u, now_ms);
}

static void do_baud(struct unisoc *u, const uint8_t *p, size_t len, uint64_t now_ms)
{
    static const uint32_t rates[] = {9600,   19200,  38400,   57600,   115200,  230400,
                                     460800, 921600, 1000000, 2000000, 3000000, 4000000};
    if (len != 4) {
        unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "CHANGE_BAUD payload length %zu", len);
        return;
    }
    uint32_t baud = be32(p);
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        if (rates[i] == baud) {
            ack(u, now_ms);
            u->baud = baud; /* after the ACK: the reply still goes out at the old rate */
            return;
        }
    }
    unisoc_nak(u, UNISOC_REP_BAUD, now_ms, "unsupported baud rate %u", baud);
}

void unisoc_bsl_frame(struct unisoc *u, uint16_t type, const uint8_t *p, size_t len,
                      uint64_t now_ms)
{
    bool fdl2 = u->stage == UNISOC_ST_FDL2;
    bool empty_cmd = type == UNISOC_CMD_CONNECT || type == UNISOC_CMD_END ||
                     type == UNISOC_CMD_EXEC || type == UNISOC_CMD_RESET ||
                     type == UNISOC_CMD_POWER_OFF || type == UNISOC_CMD_READ_CHIP_TYPE ||
                     type == UNISOC_CMD_DISABLE_TRANSCODE || type == UNISOC_CMD_KEEP_CHARGE ||
                     type == UNISOC_CMD_ENABLE_WRITE;
    if (empty_cmd && len != 0) {
        unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "command 0x%02x with a %zu-byte payload",
                   type, len);
        return;
    }
    switch (type) {
    case UNISOC_CMD_CONNECT:
        ack(u, now_ms);
        return;
    case UNISOC_CMD_START:
        do_start(u, p, len, now_ms);
        return;
    case UNISOC_CMD_MIDST:
        do_midst(u, p, len, now_ms);
        return;
    case UNISOC_CMD_END:
        do_end(u, now_ms);
        return;
    case UNISOC_CMD_EXEC:
        do_exec(u, now_ms);
        return;
    case UNISOC_CMD_RESET:
    case UNISOC_CMD_POWER_OFF:
        ack(u, now_ms);
        unisoc_schedule_reset(u, now_ms);
        return;
    case UNISOC_CMD_READ_CHIP_TYPE: {
        uint8_t id[4] = {(uint8_t)(u->cfg.chip_id >> 24), (uint8_t)(u->cfg.chip_id >> 16),
                         (uint8_t)(u->cfg.chip_id >> 8), (uint8_t)u->cfg.chip_id};
        unisoc_reply(u, UNISOC_REP_CHIP_TYPE, id, 4, now_ms, 0);
        return;
    }
    case UNISOC_CMD_CHANGE_BAUD:
        do_baud(u, p, len, now_ms);
        return;
    default:
        break;
    }
    if (fdl2) {
        switch (type) {
        case UNISOC_CMD_READ_FLASH:
            do_read_flash(u, p, len, now_ms);
            return;
        case UNISOC_CMD_ERASE:
            do_erase(u, p, len, now_ms);
            return;
        case UNISOC_CMD_REPARTITION:
            if (len % 76 != 0)
                unisoc_nak(u, UNISOC_REP_INVALID_CMD, now_ms, "REPARTITION length %zu", len);
            else
                ack(u, now_ms);
            return;
        case UNISOC_CMD_KEEP_CHARGE:
        case UNISOC_CMD_ENABLE_WRITE:
            ack(u, now_ms);
            return;
        case UNISOC_CMD_DISABLE_TRANSCODE:
            ack(u, now_ms); /* escaped: the switch happens after this reply */
            u->dec.escape = false;
            return;
        default:
            break;
        }
    }
    unisoc_nak(u, UNISOC_REP_UNKNOWN_CMD, now_ms, "%s: unsupported command 0x%02x",
               stage_name(u->stage), type);
}
