/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbg-sim: serves simulated peripherals to devbgd's virtual backend
 * (devbg-sim [OPTIONS]), and drives a running simulator (devbg-sim ctl ...).
 */
#include <glib-unix.h>
#include <gio/gio.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devbg-sim-server.h"

typedef struct {
  GMainLoop      *loop;
  DevbgSimServer *sim;
  gboolean        rfcomm;
  gboolean        dock;
  int             band_records;
  int             reset_delay_ms;
  char          **faults;
  int             exit_code;
} Serve;

static GDBusConnection *
connect_bus (const char *address, GError **error)
{
  if (address == NULL)
    return g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, error);
  return g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, error);
}

/* --fault ID:KIND=VALUE, e.g. dock0:no-return=1 */
static gboolean
apply_fault (DevbgSimServer *sim, const char *spec, GError **error)
{
  g_auto(GStrv) a = g_strsplit_set (spec, ":=", 3);

  if (g_strv_length (a) != 3)
    {
      g_set_error (error, DEVBG_SIM_ERROR, DEVBG_SIM_ERROR_INVALID,
                   "--fault '%s' is not ID:KIND=VALUE", spec);
      return FALSE;
    }
  return devbg_sim_server_set_fault (sim, a[0], a[1], (guint) g_ascii_strtoull (a[2], NULL, 10),
                                     error);
}

static gboolean
add_devices (Serve *serve, GError **error)
{
  GVariantDict band, dock;

  g_variant_dict_init (&band, NULL);
  g_variant_dict_insert (&band, "records", "u", (guint32) serve->band_records);
  g_variant_dict_insert (&band, "flavour", "s", serve->rfcomm ? "rfcomm" : "usb");
  g_variant_dict_init (&dock, NULL);
  g_variant_dict_insert (&dock, "reset-delay-ms", "u", (guint32) serve->reset_delay_ms);
  if (serve->band_records >= 0 &&
      devbg_sim_server_add (serve->sim, "band", g_variant_dict_end (&band), error) == NULL)
    return FALSE;
  if (serve->dock &&
      devbg_sim_server_add (serve->sim, "dock", g_variant_dict_end (&dock), error) == NULL)
    return FALSE;
  for (char **f = serve->faults; f != NULL && *f != NULL; f++)
    if (!apply_fault (serve->sim, *f, error))
      return FALSE;
  return TRUE;
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Serve *serve = user_data;
  g_autoptr(GError) error = NULL;

  /* Devices appear only once the name is ours, so devbgd sees them as arrivals. */
  if (!add_devices (serve, &error))
    {
      g_printerr ("devbg-sim: %s\n", error->message);
      serve->exit_code = 1;
      g_main_loop_quit (serve->loop);
      return;
    }
  g_print ("ready\n");
  fflush (stdout);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  Serve *serve = user_data;

  g_printerr ("devbg-sim: cannot own %s (another simulator? not root?)\n", name);
  serve->exit_code = 1;
  g_main_loop_quit (serve->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (((Serve *) user_data)->loop);
  return G_SOURCE_CONTINUE;
}

static int
run_serve (int argc, char **argv)
{
  g_autofree char *address = NULL;
  g_autofree char *socket_dir = NULL;
  g_auto(GStrv) faults = NULL;
  Serve serve = { .band_records = 100, .reset_delay_ms = 500 };
  gboolean no_band = FALSE, no_dock = FALSE, verbose = FALSE;
  const GOptionEntry entries[] = {
    { "bus-address", 0, 0, G_OPTION_ARG_STRING, &address, "Serve on the bus at ADDRESS", "ADDRESS" },
    { "socket-dir", 0, 0, G_OPTION_ARG_FILENAME, &socket_dir,
      "Make the devices' nodes in DIR (default: a private directory, removed at exit)", "DIR" },
    { "band-records", 0, 0, G_OPTION_ARG_INT, &serve.band_records,
      "Activity records the band holds (default 100)", "N" },
    { "rfcomm", 0, 0, G_OPTION_ARG_NONE, &serve.rfcomm, "The band is a Bluetooth RFCOMM band", NULL },
    { "no-band", 0, 0, G_OPTION_ARG_NONE, &no_band, "No band", NULL },
    { "no-dock", 0, 0, G_OPTION_ARG_NONE, &no_dock, "No dock", NULL },
    { "reset-delay-ms", 0, 0, G_OPTION_ARG_INT, &serve.reset_delay_ms,
      "How long the dock is gone after a reset (default 500)", "MS" },
    { "fault", 0, 0, G_OPTION_ARG_STRING_ARRAY, &faults,
      "Inject a fault, e.g. dock0:no-return=1 (repeatable)", "ID:KIND=VALUE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("[ctl COMMAND ...] - simulated peripherals for devbgd");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  guint owner;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Serves a fitness band (band0) and a USB dock (dock0) as org.devbg.Sim1.\n"
    "Faults: stall, detach-at, slow, corrupt-chunk, no-return (see sim/README.md).\n"
    "devbg-sim ctl --help: drive a running simulator.");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("devbg-sim: %s\n", error->message);
      return 2;
    }
  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  if (no_band)
    serve.band_records = -1;
  serve.dock = !no_dock;
  serve.faults = faults;
  connection = connect_bus (address, &error);
  if (connection == NULL || (serve.sim = devbg_sim_server_new (connection, socket_dir, &error)) == NULL)
    {
      g_printerr ("devbg-sim: %s\n", error->message);
      return 1;
    }
  serve.loop = g_main_loop_new (NULL, FALSE);
  owner = g_bus_own_name_on_connection (connection, DEVBG_SIM_BUS_NAME,
                                        G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                        on_name_acquired, on_name_lost, &serve, NULL);
  g_unix_signal_add (SIGTERM, on_signal, &serve);
  g_unix_signal_add (SIGINT, on_signal, &serve);
  g_main_loop_run (serve.loop);
  g_bus_unown_name (owner);
  devbg_sim_server_free (serve.sim);
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  g_main_loop_unref (serve.loop);
  return serve.exit_code;
}

/* ---- ctl ---- */

static GVariant *
ctl_call (GDBusConnection *c, const char *method, GVariant *params, const char *reply_type,
          GError **error)
{
  return g_dbus_connection_call_sync (c, DEVBG_SIM_BUS_NAME, DEVBG_SIM_OBJECT_PATH,
                                      DEVBG_SIM_IFACE, method, params,
                                      reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                                      G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
}

/* add KIND key=value...: numbers go as u, the rest as s. */
static GVariant *
ctl_add_params (const char *kind, char **pairs)
{
  GVariantDict d;

  g_variant_dict_init (&d, NULL);
  for (char **p = pairs; *p != NULL; p++)
    {
      g_auto(GStrv) kv = g_strsplit (*p, "=", 2);
      guint64 n;
      if (g_strv_length (kv) != 2)
        continue;
      if (g_ascii_string_to_unsigned (kv[1], 10, 0, G_MAXUINT32, &n, NULL))
        g_variant_dict_insert (&d, kv[0], "u", (guint32) n);
      else
        g_variant_dict_insert (&d, kv[0], "s", kv[1]);
    }
  return g_variant_new ("(s@a{sv})", kind, g_variant_dict_end (&d));
}

static GVariant *
ctl_run (GDBusConnection *c, int argc, char **argv, GError **error)
{
  const char *cmd = argv[0];

  if (g_str_equal (cmd, "list") && argc == 1)
    return ctl_call (c, "ListDevices", NULL, "(a(sa{sv}))", error);
  if (g_str_equal (cmd, "add") && argc >= 2)
    return ctl_call (c, "AddDevice", ctl_add_params (argv[1], argv + 2), "(s)", error);
  if (g_str_equal (cmd, "state") && argc == 2)
    return ctl_call (c, "GetState", g_variant_new ("(s)", argv[1]), "(a{sv})", error);
  if (g_str_equal (cmd, "remove") && argc == 2)
    return ctl_call (c, "RemoveDevice", g_variant_new ("(s)", argv[1]), NULL, error);
  if (g_str_equal (cmd, "attach") && argc == 2)
    return ctl_call (c, "Attach", g_variant_new ("(s)", argv[1]), NULL, error);
  if (g_str_equal (cmd, "detach") && argc == 2)
    return ctl_call (c, "Detach", g_variant_new ("(s)", argv[1]), NULL, error);
  if (g_str_equal (cmd, "rename") && argc == 3)
    return ctl_call (c, "Rename", g_variant_new ("(ss)", argv[1], argv[2]), NULL, error);
  if (g_str_equal (cmd, "fault") && argc == 4)
    return ctl_call (c, "SetFault", g_variant_new ("(ssu)", argv[1], argv[2],
                     (guint32) g_ascii_strtoull (argv[3], NULL, 10)), NULL, error);
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "bad command; try 'devbg-sim ctl --help'");
  return NULL;
}

static int
run_ctl (int argc, char **argv)
{
  g_autofree char *address = NULL;
  const GOptionEntry entries[] = {
    { "bus-address", 0, 0, G_OPTION_ARG_STRING, &address, "The simulator's bus", "ADDRESS" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("COMMAND [ARGS...]");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) c = NULL;
  g_autoptr(GVariant) reply = NULL;

  /* Its usage says "devbg-sim ctl", not the "ctl" of the argv it gets. */
  g_set_prgname ("devbg-sim ctl");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
    "Commands: list | state ID | add band|dock [key=value...] | remove ID |\n"
    "  attach ID | detach ID | rename ID NAME | fault ID KIND VALUE\n"
    "Fault kinds: stall SECONDS, detach-at PERCENT, slow MS, corrupt-chunk N,\n"
    "  no-return 0|1 (0 clears).");
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc < 2)
    {
      g_printerr ("devbg-sim ctl: %s\n", error ? error->message : "no command");
      return 2;
    }
  if ((c = connect_bus (address, &error)) == NULL ||
      (reply = ctl_run (c, argc - 1, argv + 1, &error)) == NULL)
    {
      if (error != NULL)
        {
          g_printerr ("devbg-sim ctl: %s\n", error->message);
          return 1;
        }
      return 0;
    }
  /* add answers the new device's ID, printed as it is, for scripts:
   * id=$(devbg-sim ctl add band). */
  if (g_variant_is_of_type (reply, G_VARIANT_TYPE ("(s)")))
    {
      const char *id;

      g_variant_get (reply, "(&s)", &id);
      g_print ("%s\n", id);
    }
  else if (g_variant_n_children (reply) > 0)
    {
      g_autofree char *text = g_variant_print (reply, FALSE);
      g_print ("%s\n", text);
    }
  return 0;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  signal (SIGPIPE, SIG_IGN);
  if (argc > 1 && g_str_equal (argv[1], "ctl"))
    return run_ctl (argc - 1, argv + 1);
  return run_serve (argc, argv);
}
