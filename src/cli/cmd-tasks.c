/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl tasks | history [N] | cancel INSTANCE_ID
 */
#include "devbgctl.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* libdevbg's DevbgTaskInfo objects as devbgd's aa{sv}, which the table
 * and the JSON output print as they are. */
static void
add_tasks (GVariantBuilder *b, GPtrArray *tasks, guint max)
{
  for (guint i = 0; i < tasks->len && i < max; i++)
    g_variant_builder_add_value (b, devbg_task_info_get_properties (g_ptr_array_index (tasks, i)));
}

static const char *
lookup_str (GVariant *dict, const char *key)
{
  const char *value = "";
  g_variant_lookup (dict, key, "&s", &value);
  return value;
}

static char *
format_time (gint64 us)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  return t != NULL ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
}

#define BAR_WIDTH 20

/* A bar where progress reads as a percentage (the samples' convention);
 * other apps report other units, shown as the bare number. */
static char *
format_progress (guint32 progress)
{
  GString *s;

  if (progress > 100)
    return g_strdup_printf ("%u", progress);
  s = g_string_new ("[");
  for (guint i = 0; i < BAR_WIDTH; i++)
    g_string_append_c (s, i < progress * BAR_WIDTH / 100 ? '#' : '-');
  g_string_append_printf (s, "] %3u%%", progress);
  return g_string_free (s, FALSE);
}

static GVariant *
list_tasks (Devbgctl *ctl)
{
  g_autoptr(GError) error = NULL;
  DevbgClient *client = devbgctl_client (ctl);
  g_autoptr(GPtrArray) tasks = NULL;
  GVariantBuilder b;

  if (client == NULL)
    return NULL;
  tasks = devbg_client_list_tasks_sync (client, NULL, &error);
  if (tasks == NULL)
    {
      devbgctl_fail ("tasks", error);
      return NULL;
    }
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  add_tasks (&b, tasks, G_MAXUINT);
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static void
print_table (GVariant *list)
{
  GVariantIter iter;
  GVariant *task;

  if (g_variant_n_children (list) == 0)
    {
      g_print ("no running tasks\n");
      return;
    }
  g_print ("%-36s  %-9s  %-9s  %-27s  %-24s  %s\n", "INSTANCE ID", "STATE", "TRIGGER",
           "PROGRESS", "APP", "DEVICE");
  g_variant_iter_init (&iter, list);
  while ((task = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint32 progress = 0;
      g_autofree char *bar = NULL;

      g_variant_lookup (task, "progress", "u", &progress);
      bar = format_progress (progress);
      g_print ("%-36s  %-9s  %-9s  %-27s  %-24s  %s\n", lookup_str (task, "instance-id"),
               lookup_str (task, "state"), lookup_str (task, "trigger"), bar,
               lookup_str (task, "app-id"), lookup_str (task, "device-id"));
      g_variant_unref (task);
    }
}

/* Not a terminal: one line per change, and one when a task ends. */
static void
print_changes (GHashTable *seen, GVariant *list)
{
  g_autoptr(GHashTable) now = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter hiter;
  gpointer key, value;
  GVariantIter iter;
  GVariant *task;

  g_variant_iter_init (&iter, list);
  while ((task = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint32 progress = 0;
      g_autofree char *bar = NULL;
      g_autofree char *line = NULL;
      const char *id = lookup_str (task, "instance-id");

      g_variant_lookup (task, "progress", "u", &progress);
      bar = format_progress (progress);
      line = g_strdup_printf ("%s  %-9s  %s", id, lookup_str (task, "state"), bar);
      if (g_strcmp0 (g_hash_table_lookup (seen, id), line) != 0)
        g_print ("%s\n", line);
      g_hash_table_insert (now, g_strdup (id), g_steal_pointer (&line));
      g_variant_unref (task);
    }
  g_hash_table_iter_init (&hiter, seen);
  while (g_hash_table_iter_next (&hiter, &key, &value))
    if (!g_hash_table_contains (now, key))
      g_print ("%s  ended\n", (const char *) key);
  g_hash_table_remove_all (seen);
  g_hash_table_iter_init (&hiter, now);
  while (g_hash_table_iter_next (&hiter, &key, &value))
    {
      g_hash_table_iter_steal (&hiter);
      g_hash_table_insert (seen, key, value);
    }
}

/* --watch: ListTasks every half second, a plain log of changes for
 * scripts; `devbgctl monitor` is the live view. Ends on Ctrl-C. */
static int
watch_tasks (Devbgctl *ctl)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gboolean tty = isatty (STDOUT_FILENO);

  for (;;)
    {
      g_autoptr(GVariant) list = list_tasks (ctl);

      if (list == NULL)
        return 1;
      if (tty)
        {
          g_print ("\033[H\033[J");
          print_table (list);
        }
      else
        print_changes (seen, list);
      fflush (stdout);
      g_usleep (G_USEC_PER_SEC / 2);
    }
}

int
devbgctl_cmd_tasks (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GVariant) list = NULL;

  if (argc == 2 && strcmp (argv[1], "--watch") == 0 && !ctl->json)
    return watch_tasks (ctl);
  if (argc > 1)
    {
      g_printerr ("devbgctl tasks: takes only --watch (without --json)\n");
      return 2;
    }
  list = list_tasks (ctl);
  if (list == NULL)
    return 1;
  if (ctl->json)
    devbgctl_print_variant_json (list);
  else
    print_table (list);
  return 0;
}

/* The newest @want entries: devbgd answers a page at a time. */
static GVariant *
fetch_history (Devbgctl *ctl, guint want, GError **error)
{
  g_autofree char *continuation = g_strdup ("");
  DevbgClient *client = devbgctl_client (ctl);
  GVariantBuilder b;
  guint n = 0;

  if (client == NULL)
    return NULL;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  do
    {
      g_autofree char *next = NULL;
      g_autoptr(GPtrArray) page = devbg_client_get_history_sync (client, MIN (want - n,
                                                                             DEVBG_PAGE_MAX_ENTRIES),
                                                                continuation, &next, NULL, error);

      if (page == NULL)
        {
          g_variant_builder_clear (&b);
          return NULL;
        }
      add_tasks (&b, page, want - n);
      n += MIN (page->len, want - n);
      g_free (continuation);
      continuation = g_steal_pointer (&next);
    }
  while (n < want && *continuation != '\0');
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

int
devbgctl_cmd_history (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) list = NULL;
  guint64 limit = 0;
  GVariantIter iter;
  GVariant *entry;

  if (argc > 2 || (argc == 2 && !g_ascii_string_to_unsigned (argv[1], 10, 1, 10000, &limit, NULL)))
    {
      g_printerr ("devbgctl history: takes one optional count from 1 to 10000\n");
      return 2;
    }
  list = fetch_history (ctl, limit == 0 ? 100 : (guint) limit, &error);
  if (list == NULL)
    return error ? devbgctl_fail ("history", error) : 1;
  if (ctl->json)
    {
      devbgctl_print_variant_json (list);
      return 0;
    }
  if (g_variant_n_children (list) == 0)
    {
      g_print ("no finished tasks\n");
      return 0;
    }
  g_variant_iter_init (&iter, list);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      gboolean success = FALSE;
      gint64 finished = 0;
      g_autofree char *when = NULL;

      g_variant_lookup (entry, "success", "b", &success);
      g_variant_lookup (entry, "finished-us", "x", &finished);
      when = format_time (finished);
      g_print ("%s  %s  %-24s %-9s %s  %s%s%s\n", when, lookup_str (entry, "instance-id"),
               lookup_str (entry, "app-id"), lookup_str (entry, "trigger"),
               lookup_str (entry, "device-id"), success ? "ok" : "failed",
               success ? "" : ": ", success ? "" : lookup_str (entry, "error"));
      g_variant_unref (entry);
    }
  return 0;
}

int
devbgctl_cmd_cancel (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  DevbgClient *client;

  if (argc != 2)
    {
      g_printerr ("devbgctl cancel: needs one instance ID (see devbgctl tasks)\n");
      return 2;
    }
  if ((client = devbgctl_client (ctl)) == NULL)
    return 1;
  if (!devbg_client_cancel_sync (client, argv[1], NULL, &error))
    return devbgctl_fail ("cancel", error);
  if (!ctl->json)
    g_print ("canceled %s\n", argv[1]);
  return 0;
}
