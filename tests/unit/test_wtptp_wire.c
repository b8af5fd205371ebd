/* WTPTP wire format (protocols/asr1803/wtptp_wire.c) against golden bytes worked out by hand
 * from protocols/asr.md §3.1-3.3: command headers, the preamble, status decoding in any
 * pieces, the GETVERSION and MESSAGE payloads, and the bounds of the decoder. */
#include "asr1803/wtptp_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_preamble_bytes(void **state)
{
    (void)state;
    static const uint8_t want[] = {0x00, 0xD3, 0x02, 0x2B};
    assert_memory_equal(wtptp_preamble, want, 4);
}

static void test_encode_commands(void **state)
{
    (void)state;
    uint8_t out[64];
    /* GETVERSION: CMD 0x20, SEQ 0, CID 0, FLAGS 0, LEN 0 */
    static const uint8_t getversion[] = {0x20, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(wtptp_encode(out, sizeof(out), WTPTP_GETVERSION, 0, 0, 0, NULL, 0), 8);
    assert_memory_equal(out, getversion, 8);
    /* VERIFYIMAGE(ACK): LEN 1, data 00 */
    static const uint8_t verify[] = {0x27, 0, 0, 0, 1, 0, 0, 0, 0};
    uint8_t ack = 0;
    assert_int_equal(wtptp_encode(out, sizeof(out), WTPTP_VERIFYIMAGE, 0, 0, 0, &ack, 1), 9);
    assert_memory_equal(out, verify, 9);
    /* DATAHEADER seq 1, FLAGS 4 (fast), remaining 0x00012345 */
    static const uint8_t dh[] = {0x2A, 1, 0, 4, 4, 0, 0, 0, 0x45, 0x23, 0x01, 0x00};
    static const uint8_t rem[] = {0x45, 0x23, 0x01, 0x00};
    assert_int_equal(wtptp_encode(out, sizeof(out), WTPTP_DATAHEADER, 1, 0, 4, rem, 4), 12);
    assert_memory_equal(out, dh, 12);
    /* DATA seq 2 "abc" */
    static const uint8_t data[] = {0x22, 2, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c'};
    assert_int_equal(wtptp_encode(out, sizeof(out), WTPTP_DATA, 2, 0, 0, (const uint8_t *)"abc", 3),
                     11);
    assert_memory_equal(out, data, 11);
    /* DONE, DISCONNECT, MESSAGE, SELECTIMAGE codes */
    wtptp_encode(out, sizeof(out), WTPTP_DONE, 0, 0, 0, NULL, 0);
    assert_int_equal(out[0], 0x30);
    wtptp_encode(out, sizeof(out), WTPTP_DISCONNECT, 0, 0, 0, NULL, 0);
    assert_int_equal(out[0], 0x31);
    wtptp_encode(out, sizeof(out), WTPTP_MESSAGE, 0, 0, 0, NULL, 0);
    assert_int_equal(out[0], 0x2B);
    wtptp_encode(out, sizeof(out), WTPTP_SELECTIMAGE, 0, 0, 0, NULL, 0);
    assert_int_equal(out[0], 0x26);
}

static void test_encode_bounds(void **state)
{
    (void)state;
    uint8_t out[16];
    assert_int_equal(wtptp_encode(out, 7, WTPTP_DONE, 0, 0, 0, NULL, 0), 0);
    assert_int_equal(wtptp_encode(out, sizeof(out), WTPTP_DATA, 1, 0, 0, out, 9), 0);
    assert_int_equal(wtptp_encode(out, sizeof(out), WTPTP_DATA, 1, 0, 0, out, 8), 16);
    assert_int_equal(wtptp_encode(out, sizeof(out), WTPTP_DATA, 1, 0, 0, NULL, 1), 0);
    assert_int_equal(wtptp_encode(out, sizeof(out), WTPTP_DATA, 1, 0, 0, out, 0xFFFFFFFFu), 0);
}

static void test_decode_selectimage_reply_in_pieces(void **state)
{
    (void)state;
    /* SELECTIMAGE status: 26 00 00 00(ACK) 00(flags) 04(dlen) 48 4D 49 54 = "TIMH" LE */
    static const uint8_t wire[] = {0x26, 0, 0, 0, 0, 4, 0x48, 0x4D, 0x49, 0x54};
    struct wtptp_dec d;
    struct wtptp_status st;
    size_t used;
    for (size_t split = 0; split <= sizeof(wire); split++) {
        wtptp_dec_init(&d, 0);
        assert_int_equal(wtptp_dec_feed(&d, wire, split, &used, &st),
                         split == sizeof(wire) ? WTPTP_DEC_STATUS : WTPTP_DEC_MORE);
        if (split == sizeof(wire))
            break;
        assert_int_equal(used, split);
        assert_int_equal(wtptp_dec_partial(&d), split);
        assert_int_equal(wtptp_dec_feed(&d, wire + split, sizeof(wire) - split, &used, &st),
                         WTPTP_DEC_STATUS);
        assert_int_equal(used, sizeof(wire) - split);
        assert_int_equal(st.cmd, WTPTP_SELECTIMAGE);
        assert_int_equal(st.status, WTPTP_ACK);
        assert_int_equal(st.dlen, 4);
        assert_int_equal(wtptp_le32(st.data), 0x54494D48u);
        char t[16];
        wtptp_id_text(wtptp_le32(st.data), t);
        assert_string_equal(t, "TIMH");
        assert_int_equal(wtptp_dec_partial(&d), 0);
    }
}

static void test_decode_two_statuses_and_flags(void **state)
{
    (void)state;
    /* DATAHEADER ack seq 5 flags 4 (fast granted) buf 0x4000, then DATA ack seq 6 */
    static const uint8_t wire[] = {0x2A, 5, 0, 0, 4, 4, 0x00, 0x40, 0, 0, 0x22, 6, 0, 0, 0, 0};
    struct wtptp_dec d;
    struct wtptp_status st;
    size_t used;
    wtptp_dec_init(&d, 0);
    assert_int_equal(wtptp_dec_feed(&d, wire, sizeof(wire), &used, &st), WTPTP_DEC_STATUS);
    assert_int_equal(used, 10);
    assert_int_equal(st.seq, 5);
    assert_true(st.flags & WTPTP_FLAG_FAST);
    assert_int_equal(wtptp_le32(st.data), 0x4000);
    assert_int_equal(wtptp_dec_feed(&d, wire + used, sizeof(wire) - used, &used, &st),
                     WTPTP_DEC_STATUS);
    assert_int_equal(used, 6);
    assert_int_equal(st.cmd, WTPTP_DATA);
    assert_int_equal(st.seq, 6);
    assert_int_equal(st.dlen, 0);
}

static void test_decode_preamble_reply(void **state)
{
    (void)state;
    static const uint8_t wire[] = {0, 0, 0, 0};
    struct wtptp_dec d;
    struct wtptp_status st;
    size_t used;
    wtptp_dec_init(&d, 1);
    assert_int_equal(wtptp_dec_feed(&d, wire, 3, &used, &st), WTPTP_DEC_MORE);
    assert_int_equal(wtptp_dec_feed(&d, wire + 3, 1, &used, &st), WTPTP_DEC_STATUS);
    assert_int_equal(st.status, WTPTP_ACK);
    assert_int_equal(st.dlen, 0);
}

static void test_decode_largest_status(void **state)
{
    (void)state;
    uint8_t wire[WTPTP_STATUS_MAX + 3];
    memset(wire, 0xEE, sizeof(wire));
    wire[0] = WTPTP_MESSAGE, wire[1] = 0, wire[2] = 0, wire[3] = 0, wire[4] = 1, wire[5] = 255;
    struct wtptp_dec d;
    struct wtptp_status st;
    size_t used;
    wtptp_dec_init(&d, 0);
    assert_int_equal(wtptp_dec_feed(&d, wire, sizeof(wire), &used, &st), WTPTP_DEC_STATUS);
    assert_int_equal(used, WTPTP_STATUS_MAX);
    assert_int_equal(st.dlen, 255);
    assert_int_equal(st.data[254], 0xEE);
}

static void test_version_and_message(void **state)
{
    (void)state;
    /* DKB GETVERSION: "3311", 0x06012014, "NZA3" as LE u32s, DDR vendor "0808", 128 MiB,
     * flash id 0x001840C8 */
    static const uint8_t v[24] = {'1', '1', '3', '3', 0x14, 0x20, 0x01, 0x06, '3',  'A',  'Z',  'N',
                                  '8', '0', '8', '0', 0,    0,    0,    0x08, 0xC8, 0x40, 0x18, 0};
    struct wtptp_version ver;
    assert_int_equal(wtptp_parse_version(v, 11, &ver), -22);
    assert_int_equal(wtptp_parse_version(v, 12, &ver), 0);
    assert_false(ver.extended);
    assert_int_equal(wtptp_parse_version(v, 24, &ver), 0);
    assert_string_equal(ver.version, "3311");
    assert_string_equal(ver.version_raw, "1133");
    assert_int_equal(ver.date, 0x06012014);
    assert_string_equal(ver.processor, "NZA3");
    assert_string_equal(ver.ddr_vendor, "0808");
    assert_int_equal(ver.ddr_size, 0x08000000);
    assert_int_equal(ver.flash_id, 0x001840C8);
    assert_true(ver.extended);
    /* MESSAGE: notification (0), pad, code 2 = ready */
    static const uint8_t m[6] = {0, 0, 2, 0, 0, 0};
    uint8_t type;
    uint32_t code;
    assert_int_equal(wtptp_parse_message(m, 6, &type, &code), 0);
    assert_int_equal(type, WTPTP_MSG_NOTIFY);
    assert_int_equal(code, WTPTP_NOTIFY_READY);
    assert_string_equal(wtptp_notify_name(code), "ready");
    assert_int_equal(wtptp_parse_message(m, 5, &type, &code), -22);
    assert_string_equal(wtptp_error_name(0x71), "CRC failed");
    assert_string_equal(wtptp_msg_type_name(WTPTP_MSG_BURNT_SIZE), "burnt size");
    char t[16];
    wtptp_id_text(0x00000808, t);
    assert_string_equal(t, "0x00000808");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preamble_bytes),
        cmocka_unit_test(test_encode_commands),
        cmocka_unit_test(test_encode_bounds),
        cmocka_unit_test(test_decode_selectimage_reply_in_pieces),
        cmocka_unit_test(test_decode_two_statuses_and_flags),
        cmocka_unit_test(test_decode_preamble_reply),
        cmocka_unit_test(test_decode_largest_status),
        cmocka_unit_test(test_version_and_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
