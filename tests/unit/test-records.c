/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The packed records codec (lib/devbg-records.h): what devbgd writes reads
 * back field for field, and every malformed page is refused by name.
 */
#include <string.h>

#include "devbg-error.h"
#include "devbg-records.h"

static void
test_round_trip (void)
{
  g_autoptr(GByteArray) page = g_byte_array_new ();
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GError) error = NULL;
  const char *in[] = { "id-1", "name", "Entry.Point", "use", "id-2", "", "É.ü", "servicing" };

  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    devbg_records_add (page, in[i]);
  fields = devbg_records_parse (page->data, page->len, 4, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fields->len, ==, G_N_ELEMENTS (in));
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    g_assert_cmpstr (g_ptr_array_index (fields, i), ==, in[i]);
}

static void
test_empty (void)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GError) error = NULL;

  fields = devbg_records_parse ((const guint8 *) "", 0, 4, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fields->len, ==, 0);
}

static void
test_malformed (void)
{
  static const struct {
    const char *page;
    gsize       size;
    const char *why;
  } cases[] = {
    { "a\0b\0c\0d", 7, "does not end with a NUL" },
    { "a\0b\0c\0", 6, "3 fields are not whole records of 4" },
    { "a\0b\0c\0d\0e\0", 10, "5 fields are not whole records of 4" },
    { "a\0\xff\xfe\0c\0d\0", 9, "field 1 is not UTF-8" },
    { "\xc3\0b\0c\0d\0", 8, "field 0 is not UTF-8" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) fields = devbg_records_parse ((const guint8 *) cases[i].page,
                                                         cases[i].size, 4, &error);

      g_assert_null (fields);
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, cases[i].why));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/records/round-trip", test_round_trip);
  g_test_add_func ("/records/empty", test_empty);
  g_test_add_func ("/records/malformed", test_malformed);
  return g_test_run ();
}
