/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The example vendor app: follows the seed's sample flow with libdevbg.
 * At start it finds its leftover registration by name and removes it, then
 * registers its task afresh.
 *
 *   devbg-example-app register   register the band sync and dock update tasks
 *   devbg-example-app list       list this app's registrations
 *   devbg-example-app clean      unregister everything (cancel_task true)
 */
#include <stdio.h>
#include <string.h>

#include <devbg.h>

#define SYNC_TASK "band-sync"
#define UPDATE_TASK "dock-firmware-update"

static DevbgRegistration *
register_fresh (DevbgClient *client, const char *name, const char *entry_point,
                DevbgTrigger *trigger, GError **error)
{
  g_autoptr(DevbgRegistration) leftover = devbg_client_find_task_sync (client, name, NULL, error);
  g_autoptr(DevbgTaskBuilder) builder = devbg_task_builder_new ();

  if (leftover == NULL && error != NULL && *error != NULL)
    return NULL;
  /* The sample's step 1: a registration left from an earlier run goes. */
  if (leftover != NULL && !devbg_registration_unregister_sync (leftover, TRUE, NULL, error))
    return NULL;
  devbg_task_builder_set_name (builder, name);
  devbg_task_builder_set_task_entry_point (builder, entry_point);
  devbg_task_builder_set_trigger (builder, trigger);
  return devbg_task_builder_register_sync (builder, client, NULL, error);
}

static int
cmd_register (DevbgClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgTrigger) use = devbg_use_trigger_new ();
  g_autoptr(DevbgTrigger) servicing = devbg_servicing_trigger_new ();
  g_autoptr(DevbgRegistration) sync = NULL;
  g_autoptr(DevbgRegistration) update = NULL;

  sync = register_fresh (client, SYNC_TASK, "ExampleApp.SyncBand", use, &error);
  if (sync == NULL)
    {
      g_printerr ("example-app: cannot register %s: %s\n", SYNC_TASK, error->message);
      return 1;
    }
  update = register_fresh (client, UPDATE_TASK, "ExampleApp.UpdateDockFirmware", servicing, &error);
  if (update == NULL)
    {
      g_printerr ("example-app: cannot register %s: %s\n", UPDATE_TASK, error->message);
      return 1;
    }
  g_print ("registered %s as %s\n", SYNC_TASK, devbg_registration_get_task_id (sync));
  g_print ("registered %s as %s\n", UPDATE_TASK, devbg_registration_get_task_id (update));
  return 0;
}

static int
cmd_list (DevbgClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
  GHashTableIter iter;
  gpointer value;

  if (tasks == NULL)
    {
      g_printerr ("example-app: %s\n", error->message);
      return 1;
    }
  g_hash_table_iter_init (&iter, tasks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_print ("%s  %-22s %s (%s)\n", devbg_registration_get_task_id (value),
             devbg_registration_get_name (value), devbg_registration_get_entry_point (value),
             devbg_trigger_type_to_string (devbg_registration_get_trigger_type (value)));
  return 0;
}

static int
cmd_clean (DevbgClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_sync (client, NULL, &error);
  GHashTableIter iter;
  gpointer value;

  if (tasks == NULL)
    {
      g_printerr ("example-app: %s\n", error->message);
      return 1;
    }
  g_hash_table_iter_init (&iter, tasks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!devbg_registration_unregister_sync (value, TRUE, NULL, &error))
      {
        g_printerr ("example-app: %s\n", error->message);
        return 1;
      }
  g_print ("unregistered %u tasks\n", g_hash_table_size (tasks));
  return 0;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgClient) client = NULL;

  if (argc != 2)
    {
      g_printerr ("usage: %s register|list|clean\n", argv[0]);
      return 2;
    }
  client = devbg_client_new_sync (NULL, &error);
  if (client == NULL)
    {
      g_printerr ("example-app: cannot connect to the system bus: %s\n", error->message);
      return 1;
    }
  if (strcmp (argv[1], "register") == 0)
    return cmd_register (client);
  if (strcmp (argv[1], "list") == 0)
    return cmd_list (client);
  if (strcmp (argv[1], "clean") == 0)
    return cmd_clean (client);
  g_printerr ("example-app: unknown command '%s'\n", argv[1]);
  return 2;
}
