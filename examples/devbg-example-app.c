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
 *   devbg-example-app sync DEVICE_ID
 *                                sync the fitness band in the background
 *   devbg-example-app update DEVICE_ID [VERSION]
 *                                update the dock's firmware (default 2.0.0)
 *   devbg-example-app cancel|detach INSTANCE_ID
 *
 * sync and update follow Windows' samples: find and unregister a leftover
 * registration, register, connect the progress and completed handlers,
 * request the trigger, print the result and its reason; then show live
 * progress, and on completion check the result, print the outcome and
 * unregister without cancel. Ctrl-C unregisters with cancel.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include <devbg.h>

#define SYNC_TASK "band-sync"
#define UPDATE_TASK "dock-firmware-update"

static DevbgRegistration *
register_fresh (DevbgClient *client, const char *name, const char *entry_point,
                DevbgTrigger *trigger, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(DevbgRegistration) leftover = devbg_client_find_task_sync (client, name, NULL,
                                                                      &local_error);
  g_autoptr(DevbgTaskBuilder) builder = devbg_task_builder_new ();

  if (leftover == NULL &&
      !g_error_matches (local_error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
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

/* ---- sync and update: one background task, watched to its end */

typedef struct {
  GMainLoop         *loop;
  DevbgClient       *client;
  DevbgRegistration *reg;
  char              *instance_id;  /* once allowed */
  char              *outcome_path; /* where the sync task stores records */
  DevbgCompletion   *early;        /* came before the request's answer */
  gboolean           tty;
  guint              last_progress;
  int                status;
} Run;

/* After the unregistration devbgd answered: the run ends with the status
 * kept in run->status, or 1 if the unregistration failed and it was 0. */
static void
on_unregistered (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;

  if (!devbg_registration_unregister_finish (DEVBG_REGISTRATION (source), result, &error))
    {
      g_printerr ("example-app: cannot %s: %s\n", run->status == 130 ? "cancel" : "unregister",
                  error->message);
      if (run->status == 0)
        run->status = 1;
    }
  else if (run->status == 130)
    g_print ("canceled\n");
  g_main_loop_quit (run->loop);
}

/* Unregisters (the main loop goes on meanwhile), then ends with @status. */
static void
run_unregister_and_finish (Run *run, gboolean cancel_task, int status)
{
  run->status = status;
  devbg_registration_unregister_async (run->reg, cancel_task, NULL, on_unregistered, run);
}

static void
show_progress (Run *run, guint progress)
{
  guint width = 40, filled = MIN (progress, 100u) * width / 100;
  g_autofree char *bar = g_strnfill (filled, '#');
  g_autofree char *rest = g_strnfill (width - filled, ' ');

  if (run->tty)
    g_print ("\r[%s%s] %3u %%", bar, rest, progress);
  else
    g_print ("progress %u\n", progress);
  fflush (stdout);
}

static void
on_progress (DevbgRegistration *reg, const char *instance_id, guint progress, gpointer data)
{
  Run *run = data;

  /* Coalesced by devbgd; a line per change when not on a terminal. */
  if (g_strcmp0 (instance_id, run->instance_id) != 0 || progress == run->last_progress)
    return;
  run->last_progress = progress;
  show_progress (run, progress);
}

static guint
count_lines (const char *path)
{
  g_autofree char *contents = NULL;
  guint n = 0;

  if (path == NULL || !g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  for (const char *p = contents; *p != '\0'; p++)
    n += *p == '\n';
  return n;
}

static void
on_completed (DevbgRegistration *reg, DevbgCompletion *completion, gpointer data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;

  if (run->instance_id == NULL)
    {
      /* A very short task can end before we read the request's answer. */
      g_set_object (&run->early, completion);
      return;
    }
  if (g_strcmp0 (devbg_completion_get_instance_id (completion), run->instance_id) != 0)
    return; /* an older instance's event; ours is still to come */
  if (run->tty)
    g_print ("\n");
  if (devbg_completion_check_result (completion, &error))
    {
      g_print ("completed: success\n");
      if (run->outcome_path != NULL)
        g_print ("%u records stored in %s\n", count_lines (run->outcome_path), run->outcome_path);
    }
  else
    g_print ("completed: failed: %s\n", error->message);
  /* The sample's last step: the task is done, the registration goes. */
  run_unregister_and_finish (run, FALSE, error == NULL ? 0 : 1);
}

static void
on_request_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *instance_id = NULL;
  DevbgTriggerResult res = devbg_trigger_request_finish (DEVBG_TRIGGER (source), result, &reason,
                                                         &instance_id, &error);

  if (error != NULL)
    {
      g_printerr ("example-app: request failed: %s\n", error->message);
      run_unregister_and_finish (run, FALSE, 1);
      return;
    }
  if (g_strcmp0 (reason, devbg_trigger_result_to_string (res)) == 0)
    g_print ("request: %s\n", reason);
  else
    g_print ("request: %s (%s)\n", devbg_trigger_result_to_string (res), reason);
  if (res != DEVBG_RESULT_ALLOWED)
    {
      /* The sample reopens its device and shows the error; nothing ran. */
      run_unregister_and_finish (run, FALSE, 1);
      return;
    }
  run->instance_id = g_steal_pointer (&instance_id);
  g_print ("instance %s running in the background\n", run->instance_id);
  run->last_progress = 0;
  show_progress (run, 0);
  if (run->early != NULL)
    on_completed (run->reg, run->early, run);
}

static gboolean
on_sigint (gpointer data)
{
  Run *run = data;

  if (run->tty)
    g_print ("\n");
  /* The sample's cancel button: unregister with cancel (reason abort). */
  run_unregister_and_finish (run, TRUE, 130);
  return G_SOURCE_REMOVE;
}

static char *
sync_outcome_path (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "devbg-example-app", NULL);

  g_mkdir_with_parents (dir, 0700);
  return g_build_filename (dir, "band-records.csv", NULL);
}

static int
cmd_run (DevbgClient *client, gboolean servicing, const char *device_id, const char *version)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgTrigger) trigger = servicing ? devbg_servicing_trigger_new ()
                                              : devbg_use_trigger_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *arguments = NULL;
  Run run = { .loop = loop, .client = client, .tty = isatty (STDOUT_FILENO),
              .last_progress = G_MAXUINT };
  guint sigint;

  run.reg = servicing
    ? register_fresh (client, UPDATE_TASK, "ExampleApp.UpdateDockFirmware", trigger, &error)
    : register_fresh (client, SYNC_TASK, "ExampleApp.SyncBand", trigger, &error);
  if (run.reg == NULL)
    {
      g_printerr ("example-app: cannot register: %s\n", error->message);
      return 1;
    }
  g_signal_connect (run.reg, "progress", G_CALLBACK (on_progress), &run);
  g_signal_connect (run.reg, "completed", G_CALLBACK (on_completed), &run);
  if (servicing)
    arguments = g_strdup_printf ("version=%s size=65536", version);
  else
    {
      run.outcome_path = sync_outcome_path ();
      arguments = g_strdup_printf ("chunk=50 out=%s", run.outcome_path);
    }
  /* The app holds no handle to the device: devbgd hands it to the task.
   * A firmware update announces about two minutes for the consent prompt. */
  devbg_trigger_request_async (trigger, run.reg, device_id, arguments, servicing ? 120 : 0,
                               NULL, on_request_done, &run);
  sigint = g_unix_signal_add (SIGINT, on_sigint, &run);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_clear_object (&run.reg);
  g_clear_object (&run.early);
  g_free (run.instance_id);
  g_free (run.outcome_path);
  return run.status;
}

static int
cmd_instance (DevbgClient *client, const char *what, const char *instance_id)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = strcmp (what, "cancel") == 0
    ? devbg_client_cancel_sync (client, instance_id, NULL, &error)
    : devbg_client_detach_sync (client, instance_id, NULL, &error);

  if (!ok)
    {
      g_printerr ("example-app: %s\n", error->message);
      return 1;
    }
  g_print ("%s %s\n", strcmp (what, "cancel") == 0 ? "canceled" : "detached", instance_id);
  return 0;
}

static int
usage (FILE *out, const char *argv0, int status)
{
  fprintf (out, "usage: %s register|list|clean\n"
                "       %s sync DEVICE_ID\n"
                "       %s update DEVICE_ID [VERSION]\n"
                "       %s cancel|detach INSTANCE_ID\n", argv0, argv0, argv0, argv0);
  return status;
}

/* The command line is checked before anything connects: --help and a
 * mistyped command need no bus. */
static gboolean
command_is_valid (int argc, char **argv)
{
  const char *cmd = argv[1];

  if (argc == 2 && (strcmp (cmd, "register") == 0 || strcmp (cmd, "list") == 0 ||
                    strcmp (cmd, "clean") == 0))
    return TRUE;
  if (strcmp (cmd, "sync") == 0)
    return argc == 3;
  if (strcmp (cmd, "update") == 0)
    return argc == 3 || argc == 4;
  if (strcmp (cmd, "cancel") == 0 || strcmp (cmd, "detach") == 0)
    return argc == 3;
  return FALSE;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgClient) client = NULL;

  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    return usage (stdout, argv[0], 0);
  if (argc < 2 || !command_is_valid (argc, argv))
    return usage (stderr, argv[0], 2);
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
  if (strcmp (argv[1], "sync") == 0 && argc == 3)
    return cmd_run (client, FALSE, argv[2], NULL);
  if (strcmp (argv[1], "update") == 0 && (argc == 3 || argc == 4))
    return cmd_run (client, TRUE, argv[2], argc == 4 ? argv[3] : "2.0.0");
  if ((strcmp (argv[1], "cancel") == 0 || strcmp (argv[1], "detach") == 0) && argc == 3)
    return cmd_instance (client, argv[1], argv[2]);
  g_printerr ("example-app: unknown command '%s'\n", argv[1]);
  return 2;
}
