/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libFuzzer target for the packed records decoder (a ListRegistrations,
 * History, WatchEvents or ListEvents page, which libdevbg decodes). The
 * first input byte picks the fields per record (1 to 8), or 'H' a History
 * page or 'E' a page of pending events whose records are then decoded
 * too; the rest is the page. A page that decodes must encode back to the
 * same bytes: the format has one encoding per list. A record that decodes
 * must decode the same once devbgd's encoder has written it again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
  n_fields = kind == 'H' ? DEVBG_HISTORY_FIELDS : kind == 'E' ? DEVBG_EVENT_FIELDS : 1 + kind % 8;
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
  if (again->len != size || (size > 0 && memcmp (again->data, data, size) != 0))
    abort ();
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
