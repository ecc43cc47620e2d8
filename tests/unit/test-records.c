/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The packed records codec (lib/devbg-records.h): what devbgd writes reads
 * back field for field, and every malformed page is refused by name.
 */
#include <string.h>

#include "devbg-error.h"
#include "devbg-names.h"
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

/* @n ASCII records of 4 fields ("r<i>", "", "x", "yyyyyyy"): long enough
 * that a fast path scanning words has a head, a body and a tail. */
static GByteArray *
ascii_page (guint n)
{
  GByteArray *page = g_byte_array_new ();

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("r%u", i);

      devbg_records_add (page, id);
      devbg_records_add (page, "");
      devbg_records_add (page, "x");
      devbg_records_add (page, "yyyyyyy");
    }
  return page;
}

/* The fields of @page parsed from each of the 8 alignments of its start, so
 * that a word-at-a-time scan meets every position of every byte. */
static void
check_all_alignments (GByteArray *page, guint n_fields, const char *message,
                      const char *const *expected, guint n_expected)
{
  for (guint shift = 0; shift < 8; shift++)
    {
      g_autofree guint8 *copy = g_malloc (page->len + 8);
      g_autoptr(GPtrArray) fields = NULL;
      g_autoptr(GError) error = NULL;

      memcpy (copy + shift, page->data, page->len);
      fields = devbg_records_parse (copy + shift, page->len, n_fields, &error);
      if (message != NULL)
        {
          g_assert_null (fields);
          g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
          g_assert_cmpstr (error->message, ==, message);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpuint (fields->len, ==, n_expected);
      for (guint i = 0; i < n_expected; i++)
        g_assert_cmpstr (g_ptr_array_index (fields, i), ==, expected[i]);
    }
}

/* Non-ASCII UTF-8 (2, 3 and 4 bytes a character) anywhere in the page,
 * after many ASCII fields too, is taken as it is. */
static void
test_non_ascii (void)
{
  static const char *const utf8[] = { "É", "日本語", "\xf0\x9f\x98\x80", "a\xc3\xa9z",
                                      "\xf4\x8f\xbf\xbf", "", "\xef\xbf\xbf", "ü" };
  g_autoptr(GByteArray) page = ascii_page (100);
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < 100; i++)
    {
      g_ptr_array_add (expected, g_strdup_printf ("r%u", i));
      g_ptr_array_add (expected, g_strdup (""));
      g_ptr_array_add (expected, g_strdup ("x"));
      g_ptr_array_add (expected, g_strdup ("yyyyyyy"));
    }
  for (guint i = 0; i < G_N_ELEMENTS (utf8); i++)
    {
      devbg_records_add (page, utf8[i]);
      g_ptr_array_add (expected, g_strdup (utf8[i]));
    }
  check_all_alignments (page, 4, NULL, (const char *const *) expected->pdata, expected->len);
}

/* Invalid UTF-8 late in a page, after 4000 ASCII fields (and after valid
 * non-ASCII ones), is refused naming its field. */
static void
test_late_invalid_utf8 (void)
{
  static const char *const invalid[] = {
    "a\xff", "\xff\xff", "\x80", "ab\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80",
    "abcdefghijklmno\xfe",
  };

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr(GByteArray) page = ascii_page (1000);
      g_autoptr(GByteArray) mixed = ascii_page (1000);

      /* Field 4000 is bad, and so is the count: the first error found wins. */
      devbg_records_add (page, invalid[i]);
      check_all_alignments (page, 4, "packed records: field 4000 is not UTF-8", NULL, 0);
      devbg_records_add (mixed, "É");
      devbg_records_add (mixed, "ok");
      devbg_records_add (mixed, invalid[i]);
      devbg_records_add (mixed, "日本");
      check_all_alignments (mixed, 4, "packed records: field 4002 is not UTF-8", NULL, 0);
    }
}

/* A field count that is not whole records is refused after the UTF-8
 * check passed, and a page without its final NUL before anything else. */
static void
test_malformed_order (void)
{
  g_autoptr(GByteArray) page = ascii_page (1000);

  devbg_records_add (page, "é");
  check_all_alignments (page, 4, "packed records: 4001 fields are not whole records of 4",
                        NULL, 0);
  g_byte_array_append (page, (const guint8 *) "\xff", 1);
  check_all_alignments (page, 4, "packed records: the page does not end with a NUL", NULL, 0);
}

/* A field that is the byte 0xFF alone stands for the field above it, over
 * marks too, anywhere in the page; every other 0xFF is refused, naming its
 * field, and so is a mark with no record above it. */
static void
test_repeat_marks (void)
{
  static const char *const expected[] = {
    "id-1", "name", "", "x", "id-2", "name", "", "x", "id-3", "name", "", "y", "É", "name", "", "y",
  };
  static const char page[] = "id-1\0name\0\0x\0"
                             "id-2\0\xff\0\xff\0\xff\0"
                             "id-3\0\xff\0\0y\0"
                             "É\0\xff\0\xff\0\xff\0";
  static const struct {
    const char *page;
    gsize       size;
    const char *message;
  } malformed[] = {
    { "\xff\0b\0c\0d\0", 8, "packed records: field 0 repeats a field of no record before it" },
    { "a\0b\0c\0\xff\0", 8, "packed records: field 3 repeats a field of no record before it" },
    { "a\0b\0c\0d\0e\0f\0g\xff\0h\0", 17, "packed records: field 6 is not UTF-8" },
    { "a\0b\0c\0d\0\xff\xff\0f\0g\0h\0", 17, "packed records: field 4 is not UTF-8" },
    { "a\0b\0c\0d\0\xff\0\xff\0\xff\0\xff\xff\0", 17, "packed records: field 7 is not UTF-8" },
    { "a\0b\0c\0d\0\xff\0\xffÉ\0g\0h\0", 18, "packed records: field 5 is not UTF-8" },
  };
  g_autoptr(GByteArray) bytes = g_byte_array_new ();

  g_byte_array_append (bytes, (const guint8 *) page, sizeof page - 1);
  check_all_alignments (bytes, 4, NULL, expected, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++)
    {
      g_autoptr(GByteArray) bad = g_byte_array_new ();

      g_byte_array_append (bad, (const guint8 *) malformed[i].page, (guint) malformed[i].size);
      check_all_alignments (bad, 4, malformed[i].message, NULL, 0);
    }
}

/* Records through the writer read back as they were written; a field
 * repeating the one above it is marked when that is shorter (two bytes
 * or more), and a record that is not whole is refused, the page as it
 * was. */
static void
test_writer (void)
{
  static const char *const in[] = {
    "id-1", "org.example.App", "", "1", "a",
    "id-2", "org.example.App", "", "1", "a",
    "id-3", "org.example.App", "", "0", "bb",
    "id-4", "org.example.Ap", "", "0", "bb",
    "id-5", "org.example.Ap", "x", "0", "bb",
  };
  g_autoptr(GByteArray) page = g_byte_array_new ();
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GError) error = NULL;
  DevbgRecordsWriter writer;
  gsize whole = 0;

  devbg_records_writer_init (&writer, page, 5);
  for (guint r = 0; r < G_N_ELEMENTS (in) / 5; r++)
    {
      g_autoptr(GByteArray) record = g_byte_array_new ();

      for (guint f = 0; f < 5; f++)
        devbg_records_add (record, in[r * 5 + f]);
      whole += record->len;
      g_assert_true (devbg_records_writer_add (&writer, record->data, record->len));
    }
  /* Marked: each app ID where it repeats, "bb" twice, not the short
   * ones (a mark is 2 bytes). */
  g_assert_cmpuint (page->len, ==, whole - 2 * (15 - 1) - (14 - 1) - 2 * (2 - 1));
  fields = devbg_records_parse (page->data, page->len, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fields->len, ==, G_N_ELEMENTS (in));
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    g_assert_cmpstr (g_ptr_array_index (fields, i), ==, in[i]);

  {
    static const struct {
      const char *record;
      gsize       size;
    } torn[] = {
      { "a\0b\0c\0d\0", 8 },              /* 4 fields of 5 */
      { "a\0b\0c\0d\0e\0f\0", 12 },       /* 6 */
      { "a\0b\0c\0d\0e", 9 },             /* no final NUL */
      { "", 0 },
    };
    guint len = page->len;

    for (guint i = 0; i < G_N_ELEMENTS (torn); i++)
      {
        g_assert_false (devbg_records_writer_add (&writer, (const guint8 *) torn[i].record,
                                                  torn[i].size));
        g_assert_cmpuint (page->len, ==, len);
      }
  }
}

/* Decodes @text as the finished-us of an event record (an int64). */
static gboolean
event_finished_us (const char *text, gint64 *out, GError **error)
{
  const char *f[DEVBG_EVENT_FIELDS] = { "ev", "t", "i", "1", "", "", text };
  DevbgEventEntry e;

  if (!devbg_records_decode_event (f, 3, &e, error))
    return FALSE;
  *out = e.finished_us;
  return TRUE;
}

/* Decodes @text as the uid of a History record (0 to G_MAXUINT32). */
static gboolean
history_uid (const char *text, guint32 *out, GError **error)
{
  const char *f[DEVBG_HISTORY_FIELDS] = { "i", "t", "a", "n", "e", "use", "d", text,
                                          "1", "2", "1", "", "" };
  DevbgHistoryRecord r;

  if (!devbg_records_decode_history (f, 2, &r, error))
    return FALSE;
  *out = r.uid;
  return TRUE;
}

/* The numbers devbgd writes, and the limits, read back; leading zeros and
 * "-0" are taken (as g_ascii_string_to_signed() took them). */
static void
test_numbers (void)
{
  static const struct {
    const char *text;
    gint64      value;
  } good[] = {
    { "0", 0 }, { "-0", 0 }, { "007", 7 }, { "-007", -7 }, { "1700000000000000", 1700000000000000 },
    { "9223372036854775807", G_MAXINT64 }, { "-9223372036854775808", G_MININT64 },
    { "9223372036854775806", G_MAXINT64 - 1 }, { "-9223372036854775807", -G_MAXINT64 },
    { "000000000000000000000000009223372036854775807", G_MAXINT64 },
    { "-000000000000000000000000009223372036854775808", G_MININT64 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 value = 12345;

      g_assert_true (event_finished_us (good[i].text, &value, &error));
      g_assert_no_error (error);
      g_assert_cmpint (value, ==, good[i].value);
    }
}

/* Everything else is refused, with the text (cut to 32 bytes) and the range. */
static void
test_numbers_malformed (void)
{
  static const char *const bad[] = {
    "", "-", "+1", "+0", "1a", "a1", " 1", "1 ", "--1", "-+1", "1-", "0x10", "1e3", "1.0",
    "9223372036854775808", "-9223372036854775809", "18446744073709551615",
    "18446744073709551616", "18446744073709551617", "99999999999999999999999",
    "-99999999999999999999999", "92233720368547758070", "\xd9\xa1", "１",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *message = NULL;
      gint64 value = 12345;

      g_assert_false (event_finished_us (bad[i], &value, &error));
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
      message = g_strdup_printf ("Event record 3: finished-us '%s' is not a number from "
                                 "-9223372036854775808 to 9223372036854775807", bad[i]);
      g_assert_cmpstr (error->message, ==, message);
      g_assert_cmpint (value, ==, 12345);
    }
  {
    g_autoptr(GError) error = NULL;
    gint64 value;

    g_assert_false (event_finished_us ("1234567890123456789012345678901234567890", &value,
                                       &error));
    g_assert_cmpstr (error->message, ==, "Event record 3: finished-us "
                     "'12345678901234567890123456789012' is not a number from "
                     "-9223372036854775808 to 9223372036854775807");
  }
}

/* A range that starts at 0: no sign at all, and the upper limit holds. */
static void
test_numbers_unsigned (void)
{
  static const struct {
    const char *text;
    guint32     value;
  } good[] = { { "0", 0 }, { "000", 0 }, { "1000", 1000 }, { "4294967295", G_MAXUINT32 },
               { "04294967295", G_MAXUINT32 } };
  static const char *const bad[] = { "4294967296", "-0", "-1", "+0", "", "-",
                                     "9223372036854775808", "18446744073709551616" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      guint32 value = 12345;

      g_assert_true (history_uid (good[i].text, &value, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (value, ==, good[i].value);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *message = NULL;
      guint32 value;

      g_assert_false (history_uid (bad[i], &value, &error));
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
      message = g_strdup_printf ("History record 2: uid '%s' is not a number from 0 to "
                                 "4294967295", bad[i]);
      g_assert_cmpstr (error->message, ==, message);
    }
}

/* The NUL count, eight bytes at a time, against one byte at a time: every
 * length and start offset around a word, NULs beside 0x01 and 0x80 bytes
 * (which a "has a zero byte" shortcut miscounts). */
static void
test_count_nuls (void)
{
  static const guint8 bytes[] = { 0, 1, 0x80, 'a', 0xff, 0, 0, 0x7f, 1, 0, 0x81, 0, 0, 0, 1, 0,
                                  0x80, 0, 'z', 0, 0, 1, 1, 0, 0xfe, 0 };

  for (gsize start = 0; start < 9; start++)
    for (gsize size = 0; start + size <= sizeof bytes; size++)
      {
        gsize expected = 0;

        for (gsize i = 0; i < size; i++)
          expected += bytes[start + i] == 0;
        g_assert_cmpuint (devbg_records_count_nuls (bytes + start, size), ==, expected);
      }
}

/* What devbgd writes for a History entry and an event decodes back to
 * the same values, numbers at their limits included. */
static void
test_encode (void)
{
  static const char history_record[] =
    "i\0t\0org.a.B\0n\0e\0servicing\0d\0" "4294967295\0-9223372036854775808\0"
    "9223372036854775807\0" "1\0\xc3\xa9\0";
  static const char event_record[] = "ev\0t\0i\0" "0\0x\0abort\0" "0";
  const DevbgHistoryRecord h = {
    "i", "t", "org.a.B", "n", "e", DEVBG_TRIGGER_SERVICING, "d", G_MAXUINT32, G_MININT64,
    G_MAXINT64, TRUE, "é", "",
  };
  const DevbgEventEntry e = { "ev", "t", "i", FALSE, "x", "abort", 0 };
  g_autoptr(GByteArray) page = g_byte_array_new ();
  g_autoptr(GPtrArray) fields = NULL;
  DevbgHistoryRecord h2;
  DevbgEventEntry e2;

  devbg_records_add_history (page, &h);
  /* Each literal ends with the last field's NUL. */
  g_assert_cmpmem (page->data, page->len, history_record, sizeof history_record);
  fields = devbg_records_parse (page->data, page->len, DEVBG_HISTORY_FIELDS, NULL);
  g_assert_nonnull (fields);
  g_assert_true (devbg_records_decode_history ((const char *const *) fields->pdata, 0, &h2, NULL));
  g_assert_cmpuint (h2.uid, ==, G_MAXUINT32);
  g_assert_cmpint (h2.started_us, ==, G_MININT64);
  g_assert_cmpint (h2.finished_us, ==, G_MAXINT64);
  g_assert_cmpstr (h2.error, ==, "é");
  g_clear_pointer (&fields, g_ptr_array_unref);
  g_byte_array_set_size (page, 0);
  devbg_records_add_event (page, &e);
  g_assert_cmpmem (page->data, page->len, event_record, sizeof event_record);
  fields = devbg_records_parse (page->data, page->len, DEVBG_EVENT_FIELDS, NULL);
  g_assert_nonnull (fields);
  g_assert_true (devbg_records_decode_event ((const char *const *) fields->pdata, 0, &e2, NULL));
  g_assert_false (e2.success);
  g_assert_cmpint (e2.finished_us, ==, 0);
}

/* A ListPermissions record: written as decoded, numbers at their limits;
 * a uid past 32 bits, a created-us that is no number and an empty app ID
 * are refused by record and field. */
static void
test_permission (void)
{
  static const char record[] = "4294967295\0org.a.B\0\0" "-9223372036854775808";
  static const struct {
    const char *fields[DEVBG_PERMISSION_FIELDS];
    const char *message;
  } bad[] = {
    { { "4294967296", "org.a.B", "m", "1" },
      "Permission record 2: uid '4294967296' is not a number from 0 to 4294967295" },
    { { "-1", "org.a.B", "m", "1" },
      "Permission record 2: uid '-1' is not a number from 0 to 4294967295" },
    { { "0", "org.a.B", "m", "1x" },
      "Permission record 2: created-us '1x' is not a number from -9223372036854775808 to "
      "9223372036854775807" },
    { { "0", "", "m", "1" }, "Permission record 2: the app ID is empty" },
  };
  const DevbgPermissionEntry p = { G_MAXUINT32, "org.a.B", "", G_MININT64 };
  g_autoptr(GByteArray) page = g_byte_array_new ();
  g_autoptr(GPtrArray) fields = NULL;
  DevbgPermissionEntry back;

  devbg_records_add_permission (page, &p);
  g_assert_cmpmem (page->data, page->len, record, sizeof record);
  fields = devbg_records_parse (page->data, page->len, DEVBG_PERMISSION_FIELDS, NULL);
  g_assert_nonnull (fields);
  g_assert_true (devbg_records_decode_permission ((const char *const *) fields->pdata, 0, &back,
                                                  NULL));
  g_assert_cmpuint (back.uid, ==, G_MAXUINT32);
  g_assert_cmpstr (back.app_id, ==, "org.a.B");
  g_assert_cmpstr (back.model_id, ==, "");
  g_assert_cmpint (back.created_us, ==, G_MININT64);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (devbg_records_decode_permission (bad[i].fields, 2, &back, &error));
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (error->message, ==, bad[i].message);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/records/round-trip", test_round_trip);
  g_test_add_func ("/records/empty", test_empty);
  g_test_add_func ("/records/malformed", test_malformed);
  g_test_add_func ("/records/non-ascii", test_non_ascii);
  g_test_add_func ("/records/late-invalid-utf8", test_late_invalid_utf8);
  g_test_add_func ("/records/malformed-order", test_malformed_order);
  g_test_add_func ("/records/repeat-marks", test_repeat_marks);
  g_test_add_func ("/records/writer", test_writer);
  g_test_add_func ("/records/numbers", test_numbers);
  g_test_add_func ("/records/numbers-malformed", test_numbers_malformed);
  g_test_add_func ("/records/numbers-unsigned", test_numbers_unsigned);
  g_test_add_func ("/records/count-nuls", test_count_nuls);
  g_test_add_func ("/records/encode", test_encode);
  g_test_add_func ("/records/permission", test_permission);
  return g_test_run ();
}
