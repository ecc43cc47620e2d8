/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-read-ahead"

#include "devbg-read-ahead.h"

typedef struct {
  char              *key;
  guint64            generation;
  gint64             kept_us;
  DevbgReadAheadPage page;
} KeptPage;

struct _DevbgReadAhead {
  GQueue pages;   /* of KeptPage, oldest first: at most max_pages, max_bytes */
  guint  max_pages;
  gsize  max_bytes;
  gsize  bytes;   /* of the pages kept */
  gint64 keep_us;
  guint  expiry_id;
};

static void
kept_page_free (KeptPage *kept)
{
  g_free (kept->key);
  g_bytes_unref (kept->page.bytes);
  g_free (kept);
}

DevbgReadAhead *
devbg_read_ahead_new (guint max_pages, gsize max_bytes, guint keep_ms)
{
  DevbgReadAhead *self = g_new0 (DevbgReadAhead, 1);

  g_queue_init (&self->pages);
  self->max_pages = max_pages;
  self->max_bytes = max_bytes;
  self->keep_us = (gint64) keep_ms * 1000;
  return self;
}

void
devbg_read_ahead_free (DevbgReadAhead *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->expiry_id, g_source_remove);
  g_queue_clear_full (&self->pages, (GDestroyNotify) kept_page_free);
  g_free (self);
}

/* Takes @link's page out, its bytes no longer counted. */
static KeptPage *
unlink_page (DevbgReadAhead *self, GList *link)
{
  KeptPage *kept = link->data;

  self->bytes -= g_bytes_get_size (kept->page.bytes);
  g_queue_delete_link (&self->pages, link);
  return kept;
}

static void schedule_expiry (DevbgReadAhead *self);

/* Drops the pages kept too long: the oldest are at the head. */
static gboolean
on_expiry (gpointer data)
{
  DevbgReadAhead *self = data;
  gint64 now = g_get_monotonic_time ();
  KeptPage *oldest;

  self->expiry_id = 0;
  while ((oldest = g_queue_peek_head (&self->pages)) != NULL &&
         now - oldest->kept_us >= self->keep_us)
    kept_page_free (unlink_page (self, self->pages.head));
  schedule_expiry (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_expiry (DevbgReadAhead *self)
{
  KeptPage *oldest = g_queue_peek_head (&self->pages);
  gint64 wait_us;

  if (oldest == NULL || self->expiry_id != 0)
    return;
  wait_us = MAX (0, oldest->kept_us + self->keep_us - g_get_monotonic_time ());
  self->expiry_id = g_timeout_add ((guint) (wait_us / 1000) + 1, on_expiry, self);
}

static GList *
find (DevbgReadAhead *self, const char *key)
{
  for (GList *l = self->pages.head; l != NULL; l = l->next)
    if (g_str_equal (((KeptPage *) l->data)->key, key))
      return l;
  return NULL;
}

void
devbg_read_ahead_put (DevbgReadAhead *self, const char *key, guint64 generation,
                      const DevbgReadAheadPage *page)
{
  GList *same = find (self, key);
  gsize size = g_bytes_get_size (page->bytes);
  KeptPage *kept;

  if (same != NULL)
    kept_page_free (unlink_page (self, same));
  if (self->max_pages == 0 || size > self->max_bytes)
    return;
  while (self->pages.length >= self->max_pages || self->bytes + size > self->max_bytes)
    kept_page_free (unlink_page (self, self->pages.head));
  kept = g_new0 (KeptPage, 1);
  kept->key = g_strdup (key);
  kept->generation = generation;
  kept->kept_us = g_get_monotonic_time ();
  kept->page = *page;
  kept->page.bytes = g_bytes_ref (page->bytes);
  g_queue_push_tail (&self->pages, kept);
  self->bytes += size;
  schedule_expiry (self);
}

gboolean
devbg_read_ahead_take (DevbgReadAhead *self, const char *key, guint64 generation,
                       DevbgReadAheadPage *page)
{
  GList *link = find (self, key);
  KeptPage *kept;
  gboolean valid;

  if (link == NULL)
    return FALSE;
  kept = unlink_page (self, link);
  valid = kept->generation == generation;
  if (valid)
    {
      *page = kept->page;
      kept->page.bytes = NULL;
    }
  else
    g_bytes_unref (g_steal_pointer (&kept->page.bytes));
  g_free (kept->key);
  g_free (kept);
  return valid;
}

void
devbg_read_ahead_forget_sender (DevbgReadAhead *self, const char *sender)
{
  g_autofree char *prefix = g_strconcat (sender, "\n", NULL);
  GList *l = self->pages.head;

  while (l != NULL)
    {
      GList *next = l->next;

      if (g_str_has_prefix (((KeptPage *) l->data)->key, prefix))
        kept_page_free (unlink_page (self, l));
      l = next;
    }
}

guint
devbg_read_ahead_count (DevbgReadAhead *self)
{
  return self->pages.length;
}
