/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgd: the system service.
 */
#define G_LOG_DOMAIN "devbgd"

#include <glib-unix.h>
#include <gio/gio.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "devbg-log.h"
#include "devbg-config.h"
#include "devbg-daemon.h"
#include "devbg-flatpak.h"
#include "devbg-devices.h"

#define DEFAULT_CONFIG SYSCONFDIR "/devbg/devbgd.conf"
#define DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/devbg"
/* Not below the state directory, which is 0700: the task's user must reach it. */
#define DEFAULT_FLATPAK_HOME_DIR LOCALSTATEDIR "/lib/devbg-flatpak-home"
#define DEFAULT_MANIFEST_DIR DATADIR "/devbg/manifests"
#define DEFAULT_METADATA_DIR DATADIR "/devbg/metadata"
/* How long devbgd waits at its start for the backends to list the devices
 * already there (devbg_devices_wait_settled()). */
#define SETTLE_TIMEOUT_MS 2000

typedef struct {
  GMainLoop *loop;
  int        exit_code;
} Service;

static gboolean
on_signal (gpointer user_data)
{
  Service *service = user_data;

  g_info ("stopping on signal");
  g_main_loop_quit (service->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  (void) connection;
  (void) user_data;
  g_info ("owns %s", name);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Service *service = user_data;

  g_critical ("cannot own %s on the bus%s: is another devbgd running?", name,
              connection == NULL ? " (no connection)" : "");
  service->exit_code = EXIT_FAILURE;
  g_main_loop_quit (service->loop);
}

static void
on_connection_closed (GDBusConnection *connection, gboolean remote_peer_vanished,
                      GError *error, gpointer user_data)
{
  Service *service = user_data;

  (void) connection;
  (void) remote_peer_vanished;
  g_critical ("lost the bus connection: %s", error ? error->message : "closed");
  service->exit_code = EXIT_FAILURE;
  g_main_loop_quit (service->loop);
}

static GDBusConnection *
connect_bus (const char *address, GError **error)
{
  if (address == NULL)
    return g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
  return g_dbus_connection_new_for_address_sync (
    address,
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, error);
}

int
main (int argc, char **argv)
{
  g_autofree char *bus_address = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *state_dir = NULL;
  g_auto(GStrv) manifest_dirs = NULL;
  g_auto(GStrv) metadata_dirs = NULL;
  g_autofree char *flatpak_system_dir = NULL;
  g_autofree char *flatpak_user_dir = NULL;
  g_autofree char *flatpak_home_dir = NULL;
  gboolean no_flatpak = FALSE;
  gboolean verbose = FALSE, print_config = FALSE, version = FALSE;
  const GOptionEntry entries[] = {
    { "bus-address", 0, 0, G_OPTION_ARG_STRING, &bus_address,
      "Serve on the bus at ADDRESS instead of the system bus", "ADDRESS" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Read the configuration from FILE (default " DEFAULT_CONFIG ")", "FILE" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      "Keep the database in DIR (default " DEFAULT_STATE_DIR ")", "DIR" },
    { "manifest-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &manifest_dirs,
      "Read app manifests from DIR instead of " DEFAULT_MANIFEST_DIR " (repeatable)", "DIR" },
    { "metadata-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &metadata_dirs,
      "Read device metadata from DIR instead of " DEFAULT_METADATA_DIR " (repeatable)", "DIR" },
    { "flatpak-system-dir", 0, 0, G_OPTION_ARG_FILENAME, &flatpak_system_dir,
      "Trust the system Flatpak installation at DIR (default $FLATPAK_SYSTEM_DIR, else "
      DEVBG_FLATPAK_DEFAULT_SYSTEM_DIR ")", "DIR" },
    { "flatpak-user-dir", 0, 0, G_OPTION_ARG_FILENAME, &flatpak_user_dir,
      "Where each user's own Flatpak installation is, %h the home and %u the uid "
      "(default " DEVBG_FLATPAK_DEFAULT_USER_DIR ")", "TEMPLATE" },
    { "flatpak-home-dir", 0, 0, G_OPTION_ARG_FILENAME, &flatpak_home_dir,
      "Give Flatpak tasks of users without a home DIR/<uid> (default "
      DEFAULT_FLATPAK_HOME_DIR ")", "DIR" },
    { "no-flatpak", 0, 0, G_OPTION_ARG_NONE, &no_flatpak,
      "Trust no Flatpak installation: no caller is a Flatpak app", NULL },
    { "print-config", 0, 0, G_OPTION_ARG_NONE, &print_config,
      "Print the effective configuration and exit", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- device background task service");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(DevbgDaemon) daemon = NULL;
  g_autoptr(DevbgDevices) devices = NULL;
  DevbgDaemonOptions options = { 0 };
  Service service = { 0 };
  gboolean explicit_config;
  guint owner_id;

  setlocale (LC_ALL, "");
  signal (SIGPIPE, SIG_IGN); /* a task's closed channel is an error, not a death */

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "devbgd runs apps' device sync and firmware-update tasks in the background,\n"
    "under the policies described in devbgd(8). It serves org.devbg.Devbg1 on\n"
    "the system bus, or on the bus named by --bus-address or\n"
    "DBUS_SYSTEM_BUS_ADDRESS.");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("devbgd: %s\nTry 'devbgd --help'.\n", error->message);
      return 2;
    }
  if (argc > 1)
    {
      g_printerr ("devbgd: unexpected argument '%s'\nTry 'devbgd --help'.\n", argv[1]);
      return 2;
    }
  if (version)
    {
      g_print ("devbgd %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  g_log_set_writer_func (devbg_log_writer, NULL, NULL);

  devbg_config_init_defaults (&options.config);
  explicit_config = config_path != NULL;
  if (!explicit_config)
    config_path = g_strdup (DEFAULT_CONFIG);
  /* The default file may be missing (defaults, then); a symlink there
   * whose target is missing is an administrator's mistake, not "no
   * configuration": loaded, it fails and says so. */
  if (explicit_config || g_file_test (config_path, G_FILE_TEST_EXISTS) ||
      g_file_test (config_path, G_FILE_TEST_IS_SYMLINK))
    if (!devbg_config_load_file (&options.config, config_path, &error))
      {
        g_printerr ("devbgd: %s\n", error->message);
        return 1;
      }
  if (print_config)
    {
      g_autofree char *text = devbg_config_to_data (&options.config);
      g_print ("%s", text);
      return 0;
    }

  options.state_dir = state_dir ? state_dir : (char *) DEFAULT_STATE_DIR;
  if (manifest_dirs == NULL)
    manifest_dirs = g_strdupv ((char *[]) { (char *) DEFAULT_MANIFEST_DIR, NULL });
  if (metadata_dirs == NULL)
    metadata_dirs = g_strdupv ((char *[]) { (char *) DEFAULT_METADATA_DIR, NULL });
  options.manifest_dirs = manifest_dirs;
  options.metadata_dirs = metadata_dirs;
  if (!no_flatpak)
    {
      /* As flatpak itself finds its system installation. */
      if (flatpak_system_dir == NULL)
        flatpak_system_dir = g_strdup (g_getenv ("FLATPAK_SYSTEM_DIR") != NULL
                                       ? g_getenv ("FLATPAK_SYSTEM_DIR")
                                       : DEVBG_FLATPAK_DEFAULT_SYSTEM_DIR);
      if (flatpak_user_dir == NULL)
        flatpak_user_dir = g_strdup (DEVBG_FLATPAK_DEFAULT_USER_DIR);
      if (flatpak_home_dir == NULL)
        flatpak_home_dir = g_strdup (DEFAULT_FLATPAK_HOME_DIR);
      options.flatpak_system_dir = flatpak_system_dir;
      options.flatpak_user_dir = flatpak_user_dir;
      options.flatpak_home_dir = flatpak_home_dir;
    }

  daemon = devbg_daemon_new (&options, &error);
  if (daemon == NULL)
    {
      g_printerr ("devbgd: %s\n", error->message);
      return 1;
    }

  connection = connect_bus (bus_address, &error);
  if (connection == NULL)
    {
      g_printerr ("devbgd: cannot connect to the bus: %s\n", error->message);
      return 1;
    }
  g_dbus_connection_set_exit_on_close (connection, FALSE);

  service.loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (connection, "closed", G_CALLBACK (on_connection_closed), &service);
  if (!devbg_daemon_export (daemon, connection, &error))
    {
      g_printerr ("devbgd: cannot export the manager: %s\n", error->message);
      return 1;
    }
  devices = devbg_devices_new (&options.config, connection,
                               (const char *const *) options.metadata_dirs);
  if (!devbg_devices_export (devices, &error))
    {
      g_printerr ("devbgd: cannot export the devices: %s\n", error->message);
      return 1;
    }
  devbg_daemon_set_devices (daemon, devices);
  /* The devices there at the start are in before the name is taken: a
   * request in devbgd's first moment finds them, where it was refused
   * no-such-device (fwupd likewise coldplugs first). Bounded: a backend's
   * service that does not answer delays the start, never stops it. */
  devbg_devices_wait_settled (devices, SETTLE_TIMEOUT_MS);
  owner_id = g_bus_own_name_on_connection (connection, DEVBG_DBUS_SERVICE,
                                           G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                           on_name_acquired, on_name_lost, &service, NULL);
  g_unix_signal_add (SIGTERM, on_signal, &service);
  g_unix_signal_add (SIGINT, on_signal, &service);

  g_main_loop_run (service.loop);

  /* No task outlives the service unsupervised: end them, their completion
   * stored for their apps. */
  devbg_daemon_shutdown (daemon);
  g_bus_unown_name (owner_id);
  g_clear_object (&devices);
  g_clear_object (&daemon);
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  g_main_loop_unref (service.loop);
  return service.exit_code;
}
