/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libdevbg's in-place reader of ListDevices pages and device properties
 * (devbg-device-page.h, devbg-serialized.h), and devbgd's writer of
 * them, held to GVariant's own: the same devices, properties and values
 * read from pages GVariant writes and the same bytes written, whatever
 * the width of their framing offsets, and the same verdict on every page
 * a byte away from one.
 */
#include <string.h>

#include "devbg-device-page.h"
#include "devbg-error.h"
#include "../common/device-page-glib.h"

/* What the reader saw: "id" then "key:type:size:<hash of the value>" per
 * property, one line each. */
typedef struct {
  GString *seen;
} Reading;

static void
note_value (GString *seen, const char *key, const char *type, gsize type_length,
            const guint8 *data, gsize size)
{
  guint32 hash = 2166136261u; /* FNV-1a */

  for (gsize i = 0; i < size; i++)
    hash = (hash ^ data[i]) * 16777619u;
  g_string_append_printf (seen, "%s:%.*s:%" G_GSIZE_FORMAT ":%08x\n", key, (int) type_length,
                          type, size, hash);
}

static void
note_property (const char *key, const char *type, gsize type_length, DevbgSerialized value,
               gpointer data)
{
  note_value (data, key, type, type_length, value.data, value.size);
}

static gboolean
note_device (const char *id, DevbgSerialized properties, gpointer data, GError **error)
{
  Reading *reading = data;

  g_string_append_printf (reading->seen, "%s\n", id);
  return devbg_device_properties_foreach (properties, note_property, reading->seen, error);
}

/* The same through GVariant's accessors. */
static char *
glib_reading (GVariant *page)
{
  GString *seen = g_string_new ("");
  GVariantIter devices;
  const char *id;
  GVariant *properties;

  g_variant_iter_init (&devices, page);
  while (g_variant_iter_next (&devices, "(&s@a{sv})", &id, &properties))
    {
      GVariantIter entries;
      const char *key;
      GVariant *value;

      g_string_append_printf (seen, "%s\n", id);
      g_variant_iter_init (&entries, properties);
      while (g_variant_iter_next (&entries, "{&sv}", &key, &value))
        {
          const char *type = g_variant_get_type_string (value);

          note_value (seen, key, type, strlen (type), g_variant_get_data (value),
                      g_variant_get_size (value));
          g_variant_unref (value);
        }
      g_variant_unref (properties);
    }
  return g_string_free (seen, FALSE);
}

static char *
reader_reading (GBytes *bytes, GError **error)
{
  Reading reading = { g_string_new ("") };

  if (!devbg_device_page_foreach (bytes, "", "", note_device, &reading, error))
    {
      g_string_free (reading.seen, TRUE);
      return NULL;
    }
  return g_string_free (reading.seen, FALSE);
}

/* A page of @n devices; device i's name is @name_length bytes long. */
static GVariant *
make_page (guint n, gsize name_length)
{
  static const char *const hardware_ids[] = { "USB\\VID_1209&PID_0001", "USB\\VID_1209", NULL };
  GVariantBuilder page;
  g_autofree char *name = g_strnfill (name_length, 'n');

  g_variant_builder_init (&page, G_VARIANT_TYPE (DEVBG_DEVICES_PAGE_TYPE));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("virtual-%05u", i);
      GVariantBuilder props;

      g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
      /* Every shape: the three types devbgd sends, empty ones, and types
       * this library does not know (kept in the properties). */
      if (i % 4 != 3)
        {
          g_variant_builder_add (&props, "{sv}", "name", g_variant_new_string (name));
          g_variant_builder_add (&props, "{sv}", "protocol", g_variant_new_string ("usb"));
          g_variant_builder_add (&props, "{sv}", "hardware-ids",
                                 g_variant_new_strv (hardware_ids, i % 2 == 0 ? -1 : 0));
          g_variant_builder_add (&props, "{sv}", "serial", g_variant_new_string (""));
          g_variant_builder_add (&props, "{sv}", "attached", g_variant_new_boolean (i % 2));
          g_variant_builder_add (&props, "{sv}", "future-count", g_variant_new_uint32 (i));
          g_variant_builder_add (&props, "{sv}", "future-map",
                                 g_variant_new_parsed ("{'a': 'b', 'é': ''}"));
          g_variant_builder_add (&props, "{sv}", "future-pair",
                                 g_variant_new ("(ts)", (guint64) i, "x"));
        }
      g_variant_builder_add (&page, "(s@a{sv})", id, g_variant_builder_end (&props));
    }
  return g_variant_ref_sink (g_variant_builder_end (&page));
}

/* @page written again by devbgd's writer, from its devices' IDs and
 * serialized properties. */
static GBytes *
writer_bytes (GVariant *page)
{
  DevbgSerializedWriter writer;
  GVariantIter devices;
  const char *id;
  GVariant *properties;

  devbg_serialized_writer_init (&writer);
  g_variant_iter_init (&devices, page);
  while (g_variant_iter_next (&devices, "(&s@a{sv})", &id, &properties))
    {
      devbg_serialized_writer_add_pair (&writer, id, g_variant_get_data (properties),
                                        g_variant_get_size (properties));
      g_variant_unref (properties);
    }
  return devbg_serialized_writer_end (&writer);
}

/* The reader reads @page as GVariant does, and the writer writes it byte
 * for byte as GVariant did. */
static void
assert_matches_glib (GVariant *page)
{
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (page);
  g_autoptr(GBytes) written = writer_bytes (page);
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = glib_reading (page);
  g_autofree char *read = reader_reading (bytes, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (read, ==, expected);
  g_assert_true (g_bytes_equal (written, bytes));
}

static void
test_read_back (void)
{
  static const guint counts[] = { 0, 1, 2, 3, 4, 9, 200 };

  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      g_autoptr(GVariant) page = make_page (counts[i], 20);

      assert_matches_glib (page);
    }
}

/* Framing offsets are 1, 2, 4 bytes wide by the container's size: pages
 * and properties on each side of 256 and 65,536 bytes. */
static void
test_offset_widths (void)
{
  static const struct { gsize from, to; } names[] = { { 0, 300 }, { 65200, 65600 } };

  for (guint r = 0; r < G_N_ELEMENTS (names); r++)
    for (gsize length = names[r].from; length <= names[r].to; length++)
      {
        g_autoptr(GVariant) page = make_page (1, length);

        assert_matches_glib (page);
      }
}

static gboolean
reader_takes (GBytes *bytes)
{
  Reading reading = { g_string_new ("") };
  g_autoptr(GError) error = NULL;
  gboolean taken = devbg_device_page_foreach (bytes, "", "", note_device, &reading, &error);

  g_string_free (reading.seen, TRUE);
  g_assert_true (taken == (error == NULL));
  if (!taken)
    g_assert_true (g_error_matches (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT));
  return taken;
}

/* Every page one byte off a good one (each byte set to a few values) or
 * cut short: the reader takes it exactly when GVariant says it is in
 * normal form, in order. */
static void
test_mutations (void)
{
  g_autoptr(GVariant) page = make_page (3, 5);
  gsize size = g_variant_get_size (page);
  const guint8 *good = g_variant_get_data (page);
  g_autofree guint8 *data = g_memdup2 (good, size);
  guint taken = 0, refused = 0;

  for (gsize at = 0; at < size; at++)
    {
      const guint8 values[] = { 0x00, 0x01, 0x07, 0x80, 0xff, good[at] + 1, good[at] - 1,
                                good[at] ^ 0x40 };

      for (guint v = 0; v < G_N_ELEMENTS (values); v++)
        {
          g_autoptr(GBytes) bytes = NULL;
          gboolean glib;

          data[at] = values[v];
          bytes = g_bytes_new (data, size);
          glib = device_page_glib_takes (bytes, "", "");
          g_assert_cmpint (reader_takes (bytes), ==, glib);
          glib ? taken++ : refused++;
        }
      data[at] = good[at];
    }
  for (gsize length = 0; length < size; length++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (good, length);

      g_assert_cmpint (reader_takes (bytes), ==, device_page_glib_takes (bytes, "", ""));
    }
  /* Both verdicts were met: the mutations reach the checks. */
  g_assert_cmpuint (taken, >, 100);
  g_assert_cmpuint (refused, >, 100);
}

/* Named errors for a broken page and for a broken property. */
static void
test_errors (void)
{
  static const guint8 not_framed[] = { 'a', 0, 0, 0, 0, 0, 0, 0, 9 };
  g_autoptr(GVariant) page = make_page (1, 5);
  gsize size = g_variant_get_size (page);
  g_autofree guint8 *data = g_memdup2 (g_variant_get_data (page), size);
  g_autoptr(GBytes) bytes = g_bytes_new_static (not_framed, sizeof not_framed);
  g_autoptr(GError) error = NULL;
  g_autofree char *read = reader_reading (bytes, &error);
  guint8 *name;

  g_assert_null (read);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "devices page: 9 bytes are not an a(sa{sv}) in normal form");
  g_clear_error (&error);
  /* The name's value "nnnnn" with a byte that is not UTF-8. */
  name = memmem (data, size, "nnnnn", 5);
  g_assert_nonnull (name);
  name[2] = 0xc3;
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = g_bytes_new (data, size);
  g_assert_null (reader_reading (bytes, &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==,
                   "devices page: device 'virtual-00000': its property 0 ('name') is not an {sv} "
                   "in normal form");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/device-page/read-back", test_read_back);
  g_test_add_func ("/device-page/offset-widths", test_offset_widths);
  g_test_add_func ("/device-page/mutations", test_mutations);
  g_test_add_func ("/device-page/errors", test_errors);
  return g_test_run ();
}
