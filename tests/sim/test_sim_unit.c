/* A module's identity across re-enumerations and the firmware revision marker (sim_unit.c). */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

static void feed_in_pieces(struct sim_fwrev *s, const char *data, size_t len, size_t piece)
{
    for (size_t pos = 0; pos < len; pos += piece)
        sim_fwrev_feed(s, (const uint8_t *)data + pos, len - pos < piece ? len - pos : piece);
}

static void test_marker_found_across_writes(void **state)
{
    (void)state;
    static const char img[] =
        "\x01\x02QUECTQUECTEL_REVISION=EC200UCNAAR03A14M08_OCPU_QPY_V0001\0tail";
    for (size_t piece = 1; piece <= sizeof(img); piece++) {
        struct sim_fwrev s;
        memset(&s, 0, sizeof(s));
        feed_in_pieces(&s, img, sizeof(img) - 1, piece);
        assert_string_equal(s.found, "EC200UCNAAR03A14M08_OCPU_QPY_V0001");
    }
}

static void test_marker_needs_its_terminator(void **state)
{
    (void)state;
    struct sim_fwrev s;
    memset(&s, 0, sizeof(s));
    /* Corrupted right after the value: not a revision. */
    static const char bad[] = "QUECTEL_REVISION=EC200UCNAAR03A14M08\xff";
    sim_fwrev_feed(&s, (const uint8_t *)bad, sizeof(bad) - 1);
    assert_string_equal(s.found, "");
    /* Cut short by the end of the data: still nothing. */
    static const char cut[] = "QUECTEL_REVISION=EC200U";
    sim_fwrev_feed(&s, (const uint8_t *)cut, sizeof(cut) - 1);
    assert_string_equal(s.found, "");
    /* Empty value. */
    sim_fwrev_feed(&s, (const uint8_t *)"QUECTEL_REVISION=\0", 18);
    assert_string_equal(s.found, "");
    /* The last complete one wins. */
    static const char two[] = "QUECTEL_REVISION=A1\0xxQUECTEL_REVISION=B2\0";
    sim_fwrev_feed(&s, (const uint8_t *)two, sizeof(two) - 1);
    assert_string_equal(s.found, "B2");
    /* Too long for a revision: dropped, the earlier one stays. */
    char longer[200] = "QUECTEL_REVISION=";
    memset(longer + 17, 'A', 100);
    sim_fwrev_feed(&s, (const uint8_t *)longer, 17 + 100 + 1);
    assert_string_equal(s.found, "B2");
}

static void test_unit_check_and_replug_args(void **state)
{
    (void)state;
    char err[SIM_ERR_MAX];
    assert_int_equal(sim_unit_check("EC200U.CNAA.866123050000010.-", err, sizeof(err)), 0);
    assert_int_equal(sim_unit_check("EC200U.CNAA.866123050000010", err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_unit_check("EC200U..866123050000010.-", err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_unit_check("EC200U.CNAA.8661 23.-", err, sizeof(err)), -EINVAL);
    assert_int_equal(sim_unit_check("", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "SERIES.SUBMODEL.IMEI.ICCID"));
    char buf[SIM_ACTION_MAX] = "replug x";
    struct sim_fwrev rev;
    memset(&rev, 0, sizeof(rev));
    sim_unit_replug_args(buf, sizeof(buf), "A.B.1.-", &rev);
    assert_string_equal(buf, "replug x unit=A.B.1.-");
    strcpy(rev.found, "R1");
    sim_unit_replug_args(buf, sizeof(buf), "", &rev);
    assert_string_equal(buf, "replug x unit=A.B.1.- revision=R1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marker_found_across_writes),
        cmocka_unit_test(test_marker_needs_its_terminator),
        cmocka_unit_test(test_unit_check_and_replug_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
