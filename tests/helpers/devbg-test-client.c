/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A small app for the integration tests: calls devbgd through libdevbg (or
 * raw, with any arguments) and prints the outcome on one line. Tests copy
 * it to several paths so that each copy is a different app by executable.
 *
 *   register NAME ENTRY_POINT use|servicing   -> "OK <task-id>"
 *   list                                      -> "OK <n>" then one line each
 *   unregister TASK_ID [cancel]               -> "OK"
 *   status                                    -> "OK" then key=value lines
 *   call METHOD 'GVARIANT-TEXT'               -> "OK <reply>"
 * Failures print "ERROR <D-Bus error name> <message>" and exit 1.
 */
#include <stdio.h>
#include <string.h>

#include "devbg.h"

static int
fail (GError *error)
{
  const char *name = NULL;
  g_autofree char *remote = NULL;

  if (error->domain == DEVBG_ERROR)
    name = devbg_error_dbus_name (error->code);
  else if ((remote = g_dbus_error_get_remote_error (error)) != NULL)
    name = remote;
  else
    name = g_quark_to_string (error->domain);
  g_dbus_error_strip_remote_error (error);
  printf ("ERROR %s %s\n", name, error->message);
  return 1;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgClient) client = NULL;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s COMMAND ...\n", argv[0]);
      return 2;
    }
  client = devbg_client_new_sync (NULL, &error);
  if (client == NULL)
    return fail (error);

  if (strcmp (argv[1], "register") == 0 && argc == 5)
    {
      g_autoptr(DevbgTaskBuilder) builder = devbg_task_builder_new ();
      g_autoptr(DevbgTrigger) trigger = strcmp (argv[4], "servicing") == 0
                                          ? devbg_servicing_trigger_new ()
                                          : devbg_use_trigger_new ();
      g_autoptr(DevbgRegistration) reg = NULL;

      devbg_task_builder_set_name (builder, argv[2]);
      devbg_task_builder_set_task_entry_point (builder, argv[3]);
      devbg_task_builder_set_trigger (builder, trigger);
      reg = devbg_task_builder_register_sync (builder, client, NULL, &error);
      if (reg == NULL)
        return fail (error);
      printf ("OK %s\n", devbg_registration_get_task_id (reg));
      return 0;
    }
  if (strcmp (argv[1], "list") == 0 && argc == 2)
    {
      g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
      GHashTableIter iter;
      gpointer value;

      if (tasks == NULL)
        return fail (error);
      printf ("OK %u\n", g_hash_table_size (tasks));
      g_hash_table_iter_init (&iter, tasks);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        printf ("%s %s %s %s\n", devbg_registration_get_task_id (value),
                devbg_trigger_type_to_string (devbg_registration_get_trigger_type (value)),
                devbg_registration_get_entry_point (value), devbg_registration_get_name (value));
      return 0;
    }
  if (strcmp (argv[1], "unregister") == 0 && (argc == 3 || argc == 4))
    {
      g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
      DevbgRegistration *reg;
      gboolean cancel = argc == 4 && strcmp (argv[3], "cancel") == 0;
      g_autoptr(GVariant) reply = NULL;

      if (tasks == NULL)
        return fail (error);
      reg = g_hash_table_lookup (tasks, argv[2]);
      if (reg != NULL)
        {
          if (!devbg_registration_unregister_sync (reg, cancel, NULL, &error))
            return fail (error);
          printf ("OK\n");
          return 0;
        }
      /* Not ours (or not at all): ask devbgd anyway, as a rogue app would. */
      reply = g_dbus_connection_call_sync (devbg_client_get_connection (client),
                                           "org.devbg.Devbg1", "/org/devbg/Devbg1",
                                           "org.devbg.Devbg1.Manager", "Unregister",
                                           g_variant_new ("(sb)", argv[2], cancel), NULL,
                                           G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      if (reply == NULL)
        return fail (error);
      printf ("OK\n");
      return 0;
    }
  if (strcmp (argv[1], "status") == 0 && argc == 2)
    {
      g_autoptr(GVariant) status = devbg_client_get_status_sync (client, NULL, &error);
      GVariantIter iter;
      const char *key;
      GVariant *value;

      if (status == NULL)
        return fail (error);
      printf ("OK\n");
      g_variant_iter_init (&iter, status);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          g_autofree char *text = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                                    ? g_variant_dup_string (value, NULL)
                                    : g_variant_print (value, FALSE);
          printf ("%s=%s\n", key, text);
          g_variant_unref (value);
        }
      return 0;
    }
  if (strcmp (argv[1], "call") == 0 && argc == 4)
    {
      g_autoptr(GVariant) params = g_variant_parse (NULL, argv[3], NULL, NULL, &error);
      g_autoptr(GVariant) reply = NULL;
      g_autofree char *text = NULL;

      if (params == NULL)
        return fail (error);
      reply = g_dbus_connection_call_sync (devbg_client_get_connection (client),
                                           "org.devbg.Devbg1", "/org/devbg/Devbg1",
                                           "org.devbg.Devbg1.Manager", argv[2],
                                           g_steal_pointer (&params), NULL,
                                           G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      if (reply == NULL)
        return fail (error);
      text = g_variant_print (reply, FALSE);
      printf ("OK %s\n", text);
      return 0;
    }
  fprintf (stderr, "%s: bad command\n", argv[0]);
  return 2;
}
