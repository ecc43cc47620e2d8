/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "devbg-records.h"
#include "devbg-error.h"
#include "devbg-names.h"

GPtrArray *
devbg_records_parse (const guint8 *page, gsize size, guint n_fields, GError **error)
{
  g_autoptr(GPtrArray) fields = g_ptr_array_new ();
  const char *p = (const char *) page;
  const char *end = p + size;

  g_return_val_if_fail (n_fields > 0, NULL);
  if (size > 0 && page[size - 1] != '\0')
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "packed records: the page does not end with a NUL");
      return NULL;
    }
  while (p < end)
    {
      const char *nul = memchr (p, '\0', (size_t) (end - p));

      /* Checked above: the last byte is a NUL. */
      if (!g_utf8_validate (p, nul - p, NULL))
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                       "packed records: field %u is not UTF-8", fields->len);
          return NULL;
        }
      g_ptr_array_add (fields, (gpointer) p);
      p = nul + 1;
    }
  if (fields->len % n_fields != 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "packed records: %u fields are not whole records of %u", fields->len,
                   n_fields);
      return NULL;
    }
  return g_steal_pointer (&fields);
}

GPtrArray *
devbg_records_parse_variant (GVariant *page, guint n_fields, gsize *size, GError **error)
{
  gsize n;
  const guint8 *data = g_variant_get_fixed_array (page, &n, 1);

  if (size != NULL)
    *size = n;
  return devbg_records_parse (data, n, n_fields, error);
}

/* A decimal number from @min to @max, as devbgd writes it: digits only,
 * a leading '-' for a negative one. */
static gboolean
decode_number (const char *list, const char *const *fields, guint index, guint field,
               const char *what, gint64 min, gint64 max, gint64 *out, GError **error)
{
  const char *text = fields[field];
  const char *digit = text + (text[0] == '-' && min < 0);
  gboolean digits = *digit != '\0';

  /* Strict, where g_ascii_string_to_signed() takes a '+' and a "-0". */
  for (; digits && *digit != '\0'; digit++)
    digits = g_ascii_isdigit (*digit);
  if (!digits || !g_ascii_string_to_signed (text, 10, min, max, out, NULL))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "%s record %u: %s '%.32s' is not a number from %" G_GINT64_FORMAT
                   " to %" G_GINT64_FORMAT, list, index, what, text, min, max);
      return FALSE;
    }
  return TRUE;
}

/* "0" or "1", nothing else. */
static gboolean
decode_boolean (const char *list, const char *const *fields, guint index, guint field,
                const char *what, gboolean *out, GError **error)
{
  const char *text = fields[field];

  if ((text[0] != '0' && text[0] != '1') || text[1] != '\0')
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "%s record %u: %s '%.32s' is neither 0 nor 1", list, index, what, text);
      return FALSE;
    }
  *out = text[0] == '1';
  return TRUE;
}

gboolean
devbg_records_decode_history (const char *const *f, guint index, DevbgHistoryRecord *r,
                              GError **error)
{
  gint64 uid;

  G_STATIC_ASSERT (DEVBG_HISTORY_FIELDS == 13);
  if (!devbg_trigger_type_from_string (f[5], &r->trigger))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "History record %u: unknown trigger '%.32s'", index, f[5]);
      return FALSE;
    }
  if (!decode_number ("History", f, index, 7, "uid", 0, G_MAXUINT32, &uid, error) ||
      !decode_number ("History", f, index, 8, "started-us", G_MININT64, G_MAXINT64,
                      &r->started_us, error) ||
      !decode_number ("History", f, index, 9, "finished-us", G_MININT64, G_MAXINT64,
                      &r->finished_us, error) ||
      !decode_boolean ("History", f, index, 10, "success", &r->success, error))
    return FALSE;
  r->instance_id = f[0];
  r->task_id = f[1];
  r->app_id = f[2];
  r->name = f[3];
  r->entry_point = f[4];
  r->device_id = f[6];
  r->uid = (guint32) uid;
  r->error = f[11];
  r->cancel_reason = f[12];
  return TRUE;
}

gboolean
devbg_records_decode_event (const char *const *f, guint index, DevbgEventEntry *e,
                            GError **error)
{
  G_STATIC_ASSERT (DEVBG_EVENT_FIELDS == 7);
  if (!decode_boolean ("Event", f, index, 3, "success", &e->success, error) ||
      !decode_number ("Event", f, index, 6, "finished-us", G_MININT64, G_MAXINT64,
                      &e->finished_us, error))
    return FALSE;
  e->event_id = f[0];
  e->task_id = f[1];
  e->instance_id = f[2];
  e->error = f[4];
  e->cancel_reason = f[5];
  return TRUE;
}

/* ---- encoding: what devbgd stores and serves ---- */

/* Appends @value in decimal, as decode_number() reads it back: the one
 * format of the numbers of every record (no printf: a page has thousands). */
static void
add_number (GByteArray *page, gint64 value)
{
  char text[24];
  char *p = text + sizeof text;
  /* Negated as unsigned: -G_MININT64 does not fit a gint64. */
  guint64 magnitude = value < 0 ? (guint64) 0 - (guint64) value : (guint64) value;

  *--p = '\0';
  do
    {
      *--p = (char) ('0' + magnitude % 10);
      magnitude /= 10;
    }
  while (magnitude != 0);
  if (value < 0)
    *--p = '-';
  g_byte_array_append (page, (const guint8 *) p, (guint) (text + sizeof text - p));
}

void
devbg_records_add_history (GByteArray *page, const DevbgHistoryRecord *r)
{
  G_STATIC_ASSERT (DEVBG_HISTORY_FIELDS == 13);
  devbg_records_add (page, r->instance_id);
  devbg_records_add (page, r->task_id);
  devbg_records_add (page, r->app_id);
  devbg_records_add (page, r->name);
  devbg_records_add (page, r->entry_point);
  devbg_records_add (page, devbg_trigger_type_to_string (r->trigger));
  devbg_records_add (page, r->device_id);
  add_number (page, r->uid);
  add_number (page, r->started_us);
  add_number (page, r->finished_us);
  devbg_records_add (page, r->success ? "1" : "0");
  devbg_records_add (page, r->error);
  devbg_records_add (page, r->cancel_reason);
}

void
devbg_records_add_event (GByteArray *page, const DevbgEventEntry *e)
{
  G_STATIC_ASSERT (DEVBG_EVENT_FIELDS == 7);
  devbg_records_add (page, e->event_id);
  devbg_records_add (page, e->task_id);
  devbg_records_add (page, e->instance_id);
  devbg_records_add (page, e->success ? "1" : "0");
  devbg_records_add (page, e->error);
  devbg_records_add (page, e->cancel_reason);
  add_number (page, e->finished_us);
}
