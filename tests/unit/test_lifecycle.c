/*
 * test_lifecycle.c: the version lifecycle rules of core/lifecycle.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/lifecycle.h"

static void publish_only_from_draft(void **state)
{
    (void)state;
    err e = {0};
    const char *next = NULL;
    assert_int_equal(lifecycle_next(&next, "draft", LIFECYCLE_PUBLISH, &e), 0);
    assert_string_equal(next, "published");
    assert_int_equal(lifecycle_next(&next, "published", LIFECYCLE_PUBLISH, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    err_clear(&e);
    assert_int_equal(lifecycle_next(&next, "deprecated", LIFECYCLE_PUBLISH, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
}

static void deprecate_only_from_published(void **state)
{
    (void)state;
    err e = {0};
    const char *next = NULL;
    assert_int_equal(lifecycle_next(&next, "published", LIFECYCLE_DEPRECATE, &e), 0);
    assert_string_equal(next, "deprecated");
    assert_int_equal(lifecycle_next(&next, "draft", LIFECYCLE_DEPRECATE, &e), -1);
    assert_int_equal(e.kind, ERR_CONFLICT);
    err_clear(&e);
    assert_int_equal(lifecycle_next(&next, "deprecated", LIFECYCLE_DEPRECATE, &e), -1);
}

static void published_content_is_immutable(void **state)
{
    (void)state;
    assert_true(lifecycle_field_mutable("draft", "framework"));
    assert_true(lifecycle_field_mutable("draft", "summary"));
    assert_false(lifecycle_field_mutable("draft", "version"));
    assert_true(lifecycle_field_mutable("published", "summary"));
    assert_true(lifecycle_field_mutable("published", "changelog"));
    assert_false(lifecycle_field_mutable("published", "metadata"));
    assert_false(lifecycle_field_mutable("deprecated", "framework"));
}

static void publish_needs_verified_files(void **state)
{
    (void)state;
    err e = {0};
    assert_int_equal(lifecycle_check_publishable(0, 0, &e), -1);
    assert_int_equal(e.kind, ERR_VALIDATION);
    assert_int_equal(e.nfields, 1);
    err_clear(&e);
    assert_int_equal(lifecycle_check_publishable(3, 1, &e), -1);
    assert_int_equal(e.kind, ERR_VALIDATION);
    err_clear(&e);
    assert_int_equal(lifecycle_check_publishable(2, 0, &e), 0);
    assert_int_equal(e.kind, ERR_NONE);
}

static void lifecycle_names(void **state)
{
    (void)state;
    assert_true(lifecycle_is_valid("draft"));
    assert_true(lifecycle_is_valid("published"));
    assert_true(lifecycle_is_valid("deprecated"));
    assert_false(lifecycle_is_valid("Draft"));
    assert_false(lifecycle_is_valid(""));
    assert_false(lifecycle_is_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_only_from_draft),
        cmocka_unit_test(deprecate_only_from_published),
        cmocka_unit_test(published_content_is_immutable),
        cmocka_unit_test(publish_needs_verified_files),
        cmocka_unit_test(lifecycle_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
