/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-log-limit"

#include "devbg-log-limit.h"

typedef struct {
  gint64 since_us;  /* the start of the key's interval */
  guint  logged;    /* lines logged in it */
  guint  left_out;  /* lines left out since the last one logged */
} KeyState;

struct _DevbgLogLimit {
  guint       burst;
  gint64      interval_us;
  guint       max_keys;
  GHashTable *keys; /* key -> KeyState */
};

DevbgLogLimit *
devbg_log_limit_new (guint burst, gint64 interval_us, guint max_keys)
{
  DevbgLogLimit *limit = g_new0 (DevbgLogLimit, 1);

  limit->burst = MAX (burst, 1);
  limit->interval_us = interval_us;
  limit->max_keys = MAX (max_keys, 1);
  limit->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return limit;
}

void
devbg_log_limit_free (DevbgLogLimit *limit)
{
  if (limit == NULL)
    return;
  g_hash_table_unref (limit->keys);
  g_free (limit);
}

/* Room for one more key: the keys whose interval is over go first (they
 * would start afresh anyway, losing only their count of lines left out),
 * then, if every key is in its interval, the one that started earliest. */
static void
make_room (DevbgLogLimit *limit, gint64 now_us)
{
  GHashTableIter iter;
  gpointer key, value;
  const char *oldest = NULL;
  gint64 oldest_us = G_MAXINT64;

  g_hash_table_iter_init (&iter, limit->keys);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      KeyState *s = value;

      if (now_us - s->since_us >= limit->interval_us && s->left_out == 0)
        g_hash_table_iter_remove (&iter);
      else if (s->since_us < oldest_us)
        {
          oldest = key;
          oldest_us = s->since_us;
        }
    }
  if (g_hash_table_size (limit->keys) >= limit->max_keys && oldest != NULL)
    g_hash_table_remove (limit->keys, oldest);
}

gboolean
devbg_log_limit_allow (DevbgLogLimit *limit, const char *key, gint64 now_us, guint *left_out)
{
  KeyState *s = g_hash_table_lookup (limit->keys, key);

  if (s == NULL)
    {
      if (g_hash_table_size (limit->keys) >= limit->max_keys)
        make_room (limit, now_us);
      s = g_new0 (KeyState, 1);
      s->since_us = now_us;
      g_hash_table_insert (limit->keys, g_strdup (key), s);
    }
  if (now_us - s->since_us >= limit->interval_us)
    {
      s->since_us = now_us;
      s->logged = 0;
    }
  if (s->logged >= limit->burst)
    {
      s->left_out++;
      return FALSE;
    }
  s->logged++;
  *left_out = s->left_out;
  s->left_out = 0;
  return TRUE;
}
