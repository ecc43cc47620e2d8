/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the packed records decoder (a ListRegistrations,
 * History, WatchEvents or ListEvents page, which libdevbg decodes). The
 * first input byte picks the fields per record (1 to 8), or 'H' a History
 * page, 'E' a page of pending events or 'P' a ListPermissions page, whose
 * records are then decoded
 * too; the rest is the page. A page that decodes must encode back to the
 * same bytes when it has no repeat marks (then the format has one
 * encoding), and read back field for field once devbgd's writer has
 * marked its repeats. A record that decodes
 * must decode the same once devbgd's encoder has written it again.
 * 'D' feeds the rest to libdevbg's ListDevices page reader
 * (devbg-device-page.h), which must never crash and must take a page
 * exactly when GVariant finds it in normal form with its IDs in order
 * after the continuation asked with.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devbg-device-page.h"
#include "../common/device-page-glib.h"
#include "devbg-names.h"
#include "devbg-records.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The fields of the one record that @page holds. */
static GPtrArray *
reparse (GByteArray *page, guint n_fields)
{
  GPtrArray *fields = devbg_records_parse (page->data, page->len, n_fields, NULL);

  if (fields == NULL || fields->len != n_fields)
    abort ();
  return fields;
}

static void
check_event_encodes_back (const DevbgEventEntry *e)
{
  g_autoptr(GByteArray) page = g_byte_array_new ();
  g_autoptr(GPtrArray) fields = NULL;
  DevbgEventEntry back;

  devbg_records_add_event (page, e);
  fields = reparse (page, DEVBG_EVENT_FIELDS);
  if (!devbg_records_decode_event ((const char *const *) fields->pdata, 0, &back, NULL) ||
      strcmp (back.event_id, e->event_id) != 0 || strcmp (back.task_id, e->task_id) != 0 ||
      strcmp (back.instance_id, e->instance_id) != 0 || back.success != e->success ||
      strcmp (back.error, e->error) != 0 || strcmp (back.cancel_reason, e->cancel_reason) != 0 ||
      back.finished_us != e->finished_us)
    abort ();
}

static void
check_permission_encodes_back (const DevbgPermissionEntry *p)
{
  g_autoptr(GByteArray) page = g_byte_array_new ();
  g_autoptr(GPtrArray) fields = NULL;
  DevbgPermissionEntry back;

  devbg_records_add_permission (page, p);
  fields = reparse (page, DEVBG_PERMISSION_FIELDS);
  if (!devbg_records_decode_permission ((const char *const *) fields->pdata, 0, &back, NULL) ||
      back.uid != p->uid || strcmp (back.app_id, p->app_id) != 0 ||
      strcmp (back.model_id, p->model_id) != 0 || back.created_us != p->created_us)
    abort ();
}

static void
check_history_encodes_back (const DevbgHistoryRecord *r)
{
  g_autoptr(GByteArray) page = g_byte_array_new ();
  g_autoptr(GPtrArray) fields = NULL;
  DevbgHistoryRecord back;

  devbg_records_add_history (page, r);
  fields = reparse (page, DEVBG_HISTORY_FIELDS);
  if (!devbg_records_decode_history ((const char *const *) fields->pdata, 0, &back, NULL) ||
      strcmp (back.instance_id, r->instance_id) != 0 || strcmp (back.task_id, r->task_id) != 0 ||
      strcmp (back.app_id, r->app_id) != 0 || strcmp (back.name, r->name) != 0 ||
      strcmp (back.entry_point, r->entry_point) != 0 || back.trigger != r->trigger ||
      strcmp (back.device_id, r->device_id) != 0 || back.uid != r->uid ||
      back.started_us != r->started_us || back.finished_us != r->finished_us ||
      back.success != r->success || strcmp (back.error, r->error) != 0 ||
      strcmp (back.cancel_reason, r->cancel_reason) != 0)
    abort ();
}

static void
ignore_property (const char *key, const char *type, gsize type_length, DevbgSerialized value,
                 gpointer data)
{
  (void) key; (void) type; (void) type_length; (void) value; (void) data;
}

/* Reads each device's properties, and writes the device again in
 * @data, a DevbgSerializedWriter. */
static gboolean
read_device (const char *id, DevbgSerialized properties, gpointer data, GError **error)
{
  devbg_serialized_writer_add_pair (data, id, properties.data, properties.size);
  return devbg_device_properties_foreach (properties, ignore_property, NULL, error);
}

/* A ListDevices page: the first byte picks the continuation the reply
 * came with (none, or a given one, each asked after "" or after an ID).
 * libdevbg's in-place reader (devbg-serialized.h) must take exactly the
 * pages GVariant says are in normal form and in order, and devbgd's
 * writer write a page taken again byte for byte (normal form is one
 * encoding). */
static void
fuzz_devices_page (const uint8_t *data, size_t size)
{
  static const char *const afters[] = { "", "virtual-B0A1-0000" };
  static const char *const nexts[] = { "", "virtual-B0A1-0000", "virtual-D0C1-0000" };
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) written = NULL;
  g_autoptr(GError) error = NULL;
  DevbgSerializedWriter writer;
  const char *after, *next;
  gboolean taken;

  if (size < 1)
    return;
  after = afters[data[0] % G_N_ELEMENTS (afters)];
  next = nexts[(data[0] / G_N_ELEMENTS (afters)) % G_N_ELEMENTS (nexts)];
  bytes = g_bytes_new (data + 1, size - 1);
  devbg_serialized_writer_init (&writer);
  taken = devbg_device_page_foreach (bytes, after, next, read_device, &writer, &error);
  written = devbg_serialized_writer_end (&writer);
  if (taken == (error != NULL) || (taken && !g_bytes_equal (written, bytes)))
    abort ();
  if (taken != device_page_glib_takes (bytes, after, next))
    abort ();
}

/* The records of @plain (@fields, unmarked) written again through the
 * writer read back field for field, and are no longer. */
static void
check_writer_reads_back (GByteArray *plain, GPtrArray *fields, guint n_fields)
{
  g_autoptr(GByteArray) marked = g_byte_array_new ();
  g_autoptr(GPtrArray) back = NULL;
  DevbgRecordsWriter writer;
  gsize offset = 0;

  devbg_records_writer_init (&writer, marked, n_fields);
  for (guint i = 0; i < fields->len; i += n_fields)
    {
      gsize size = 0;

      for (guint f = 0; f < n_fields; f++)
        size += strlen (g_ptr_array_index (fields, i + f)) + 1;
      if (!devbg_records_writer_add (&writer, plain->data + offset, size))
        abort ();
      offset += size;
    }
  if (marked->len > plain->len)
    abort ();
  back = devbg_records_parse (marked->data, marked->len, n_fields, NULL);
  if (back == NULL || back->len != fields->len)
    abort ();
  for (guint i = 0; i < fields->len; i++)
    if (strcmp (g_ptr_array_index (back, i), g_ptr_array_index (fields, i)) != 0)
      abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GByteArray) again = NULL;
  guint n_fields;
  uint8_t kind;

  if (size < 1)
    return 0;
  kind = data[0];
  if (kind == 'D')
    {
      fuzz_devices_page (data + 1, size - 1);
      return 0;
    }
  n_fields = kind == 'H' ? DEVBG_HISTORY_FIELDS : kind == 'E' ? DEVBG_EVENT_FIELDS :
             kind == 'P' ? DEVBG_PERMISSION_FIELDS : 1 + kind % 8;
  data++;
  size--;
  fields = devbg_records_parse (data, size, n_fields, NULL);
  if (fields == NULL)
    return 0;
  if (fields->len % n_fields != 0)
    abort ();
  again = g_byte_array_new ();
  for (guint i = 0; i < fields->len; i++)
    {
      if (!g_utf8_validate (g_ptr_array_index (fields, i), -1, NULL))
        abort ();
      devbg_records_add (again, g_ptr_array_index (fields, i));
    }
  /* Without repeat marks, a page has one encoding. */
  if (memchr (data, DEVBG_RECORDS_REPEAT_MARK, size) == NULL &&
      (again->len != size || (size > 0 && memcmp (again->data, data, size) != 0)))
    abort ();
  check_writer_reads_back (again, fields, n_fields);
  for (guint i = 0; kind == 'P' && i < fields->len; i += n_fields)
    {
      const char *const *f = (const char *const *) &fields->pdata[i];
      DevbgPermissionEntry p;

      if (!devbg_records_decode_permission (f, i / n_fields, &p, NULL))
        continue;
      check_permission_encodes_back (&p);
    }
  for (guint i = 0; kind == 'E' && i < fields->len; i += n_fields)
    {
      const char *const *f = (const char *const *) &fields->pdata[i];
      DevbgEventEntry e;
      char finished[24];

      if (!devbg_records_decode_event (f, i / n_fields, &e, NULL))
        continue;
      /* What decodes is what the fields say, and the number is written
       * back as devbgd writes it. */
      g_snprintf (finished, sizeof finished, "%" G_GINT64_FORMAT, e.finished_us);
      if (e.success != (f[3][0] == '1') || e.event_id != f[0] || e.task_id != f[1] ||
          e.instance_id != f[2] || e.error != f[4] || e.cancel_reason != f[5] ||
          (f[6][f[6][0] == '-'] != '0' && strcmp (finished, f[6]) != 0))
        abort ();
      check_event_encodes_back (&e);
    }
  for (guint i = 0; n_fields == DEVBG_HISTORY_FIELDS && i < fields->len; i += n_fields)
    {
      const char *const *f = (const char *const *) &fields->pdata[i];
      DevbgHistoryRecord r;
      char uid[16];

      if (!devbg_records_decode_history (f, i / n_fields, &r, NULL))
        continue;
      /* What decodes is what the fields say. */
      g_snprintf (uid, sizeof uid, "%" G_GUINT32_FORMAT, r.uid);
      if (r.success != (f[10][0] == '1') || r.instance_id != f[0] || r.cancel_reason != f[12] ||
          (f[7][0] != '0' && strcmp (uid, f[7]) != 0))
        abort ();
      check_history_encodes_back (&r);
    }
  return 0;
}
