/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgctl tasks | history [N] | cancel INSTANCE_ID
 */
#include "devbgctl.h"

#include <string.h>

static GVariant *
call (Devbgctl *ctl, const char *method, GVariant *params, const char *reply_type, GError **error)
{
  DevbgClient *client = devbgctl_client (ctl);
  GVariant *reply;

  if (client == NULL)
    return NULL;
  reply = g_dbus_connection_call_sync (devbg_client_get_connection (client), "org.devbg.Devbg1",
                                       "/org/devbg/Devbg1", "org.devbg.Devbg1.Manager", method,
                                       params, G_VARIANT_TYPE (reply_type),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (reply == NULL && error != NULL && *error != NULL)
    g_dbus_error_strip_remote_error (*error);
  return reply;
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

int
devbgctl_cmd_tasks (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) list = NULL;
  GVariantIter iter;
  GVariant *task;

  (void) argv;
  if (argc > 1)
    {
      g_printerr ("devbgctl tasks: takes no arguments\n");
      return 2;
    }
  reply = call (ctl, "ListTasks", NULL, "(aa{sv})", &error);
  if (reply == NULL)
    return error ? devbgctl_fail ("tasks", error) : 1;
  list = g_variant_get_child_value (reply, 0);
  if (ctl->json)
    {
      devbgctl_print_variant_json (list);
      return 0;
    }
  if (g_variant_n_children (list) == 0)
    {
      g_print ("no running tasks\n");
      return 0;
    }
  g_print ("%-36s  %-10s  %-9s  %8s  %-24s  %s\n", "INSTANCE ID", "STATE", "TRIGGER", "PROGRESS",
           "APP", "DEVICE");
  g_variant_iter_init (&iter, list);
  while ((task = g_variant_iter_next_value (&iter)) != NULL)
    {
      guint32 progress = 0;
      g_variant_lookup (task, "progress", "u", &progress);
      g_print ("%-36s  %-10s  %-9s  %8u  %-24s  %s\n", lookup_str (task, "instance-id"),
               lookup_str (task, "state"), lookup_str (task, "trigger"), progress,
               lookup_str (task, "app-id"), lookup_str (task, "device-id"));
      g_variant_unref (task);
    }
  return 0;
}

int
devbgctl_cmd_history (Devbgctl *ctl, int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) list = NULL;
  guint64 limit = 0;
  GVariantIter iter;
  GVariant *entry;

  if (argc > 2 || (argc == 2 && !g_ascii_string_to_unsigned (argv[1], 10, 1, 10000, &limit, NULL)))
    {
      g_printerr ("devbgctl history: takes one optional count from 1 to 10000\n");
      return 2;
    }
  reply = call (ctl, "History", g_variant_new ("(u)", (guint32) limit), "(aa{sv})", &error);
  if (reply == NULL)
    return error ? devbgctl_fail ("history", error) : 1;
  list = g_variant_get_child_value (reply, 0);
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
  g_autoptr(GVariant) reply = NULL;

  if (argc != 2)
    {
      g_printerr ("devbgctl cancel: needs one instance ID (see devbgctl tasks)\n");
      return 2;
    }
  reply = call (ctl, "Cancel", g_variant_new ("(s)", argv[1]), "()", &error);
  if (reply == NULL)
    return error ? devbgctl_fail ("cancel", error) : 1;
  if (!ctl->json)
    g_print ("canceled %s\n", argv[1]);
  return 0;
}
