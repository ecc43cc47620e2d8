/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-registration-set"

#include "devbg-registration-set.h"

#include <string.h>

/* One registration in one allocation: its strings follow the header,
 * each ended by a NUL, in the order of its packed record (task ID, name,
 * entry point, trigger), so that a list copies each whole. */
typedef struct {
  gint64           cursor;
  gint64           created_us;
  DevbgTriggerType trigger;
  guint32          name_at;        /* offsets into strings */
  guint32          entry_point_at;
  guint32          size;           /* of strings, all four with their NULs */
  char             strings[];
} Kept;

struct _DevbgRegistrationSet {
  guint32     uid;
  char       *app_id;
  GPtrArray  *in_order; /* of Kept, by cursor ascending; owns them */
  GHashTable *by_task_id; /* task ID (a Kept's own string) -> Kept */
};

DevbgRegistrationSet *
devbg_registration_set_new (const DevbgOwner *owner)
{
  DevbgRegistrationSet *set = g_new0 (DevbgRegistrationSet, 1);

  set->uid = owner->uid;
  set->app_id = g_strdup (owner->app_id);
  set->in_order = g_ptr_array_new_with_free_func (g_free);
  set->by_task_id = g_hash_table_new (g_str_hash, g_str_equal);
  return set;
}

void
devbg_registration_set_free (DevbgRegistrationSet *set)
{
  if (set == NULL)
    return;
  g_hash_table_unref (set->by_task_id);
  g_ptr_array_unref (set->in_order);
  g_free (set->app_id);
  g_free (set);
}

/* The index of the first registration after @cursor (len when none). */
static guint
first_after (const DevbgRegistrationSet *set, gint64 cursor)
{
  guint lo = 0, hi = set->in_order->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const Kept *kept = g_ptr_array_index (set->in_order, mid);

      if (kept->cursor <= cursor)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

void
devbg_registration_set_add (DevbgRegistrationSet *set, const DevbgRegistrationRecord *reg)
{
  gsize task_id_size = strlen (reg->task_id) + 1;
  gsize name_size = strlen (reg->name) + 1;
  gsize entry_point_size = strlen (reg->entry_point) + 1;
  const char *trigger = devbg_trigger_type_to_string (reg->trigger);
  gsize trigger_size = strlen (trigger) + 1;
  gsize size = task_id_size + name_size + entry_point_size + trigger_size;
  Kept *kept = g_malloc (sizeof (Kept) + size);

  kept->cursor = reg->cursor;
  kept->created_us = reg->created_us;
  kept->trigger = reg->trigger;
  kept->name_at = (guint32) task_id_size;
  kept->entry_point_at = (guint32) (task_id_size + name_size);
  kept->size = (guint32) size;
  memcpy (kept->strings, reg->task_id, task_id_size);
  memcpy (kept->strings + kept->name_at, reg->name, name_size);
  memcpy (kept->strings + kept->entry_point_at, reg->entry_point, entry_point_size);
  memcpy (kept->strings + kept->entry_point_at + entry_point_size, trigger, trigger_size);
  /* SQLite gives a new row a rowid above every other, so this appends;
   * the search keeps the order for any rowid all the same. */
  g_ptr_array_insert (set->in_order, (gint) first_after (set, kept->cursor), kept);
  g_hash_table_insert (set->by_task_id, kept->strings, kept);
}

gboolean
devbg_registration_set_remove (DevbgRegistrationSet *set, const char *task_id)
{
  Kept *kept = g_hash_table_lookup (set->by_task_id, task_id);
  guint index;

  if (kept == NULL)
    return FALSE;
  g_hash_table_remove (set->by_task_id, task_id);
  /* The one at this cursor is the last at or before it. */
  index = first_after (set, kept->cursor) - 1;
  g_assert (g_ptr_array_index (set->in_order, index) == kept);
  g_ptr_array_remove_index (set->in_order, index);
  return TRUE;
}

static void
borrow (const DevbgRegistrationSet *set, const Kept *kept, DevbgRegistrationRecord *reg)
{
  reg->task_id = (char *) kept->strings;
  reg->uid = set->uid;
  reg->app_id = set->app_id;
  reg->name = (char *) kept->strings + kept->name_at;
  reg->entry_point = (char *) kept->strings + kept->entry_point_at;
  reg->trigger = kept->trigger;
  reg->created_us = kept->created_us;
  reg->cursor = kept->cursor;
}

gboolean
devbg_registration_set_lookup (const DevbgRegistrationSet *set, const char *task_id,
                               DevbgRegistrationRecord *reg)
{
  const Kept *kept = g_hash_table_lookup (set->by_task_id, task_id);

  if (kept == NULL)
    return FALSE;
  borrow (set, kept, reg);
  return TRUE;
}

guint
devbg_registration_set_get_size (const DevbgRegistrationSet *set)
{
  return set->in_order->len;
}

void
devbg_registration_set_foreach (const DevbgRegistrationSet *set, gint64 cursor,
                                DevbgRegistrationVisitor visit, gpointer user_data)
{
  for (guint i = first_after (set, cursor); i < set->in_order->len; i++)
    {
      DevbgRegistrationRecord reg;

      borrow (set, g_ptr_array_index (set->in_order, i), &reg);
      if (!visit (&reg, user_data))
        return;
    }
}

GBytes *
devbg_registration_set_pack (const DevbgRegistrationSet *set, gint64 cursor, gsize max_bytes,
                             gint64 *last_cursor, gboolean *more)
{
  guint first = first_after (set, cursor), end = first;
  gsize size = 0;
  char *page, *at;

  /* Measured first, so that the page is allocated once at its size. */
  for (; end < set->in_order->len; end++)
    {
      const Kept *kept = g_ptr_array_index (set->in_order, end);

      if (end > first && size + kept->size > max_bytes)
        break;
      size += kept->size;
    }
  *more = end < set->in_order->len;
  *last_cursor = cursor;
  at = page = g_malloc (size);
  for (guint i = first; i < end; i++)
    {
      const Kept *kept = g_ptr_array_index (set->in_order, i);

      memcpy (at, kept->strings, kept->size);
      at += kept->size;
      *last_cursor = kept->cursor;
    }
  return g_bytes_new_take (page, size);
}
